"""The peer: FastAPI + uvicorn + PyTorch + Pillow serving the same model.onnx (see bench/README.md).

One process per worker, each on its OWN listening socket bound with SO_REUSEPORT to the same port, so the
kernel spreads connections over the workers (with `uvicorn --workers N` on one shared socket, one worker
often took every keep-alive connection while the others idled). Started by bench/src/peer.ts:

    python3 bench/peer/server.py --model-dir DIR --contract JSON --port P --reuse-port [--threads 1]
"""

import argparse
import json
import os
import socket
import sys

import torch
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from model import BadImage, load_model, preprocess, scores


def create_app(model, contract):
    app = FastAPI()
    classes = len(contract["labels"])

    @app.on_event("startup")
    def announce():
        print(f"peer ready pid={os.getpid()}", flush=True)

    @app.get("/health")
    @app.get("/ready")
    def ready():
        return {"status": "ready", "pid": os.getpid()}

    @app.post("/predict")
    async def predict(request: Request, top_k: int = 0):
        # CPU-bound work runs inline: each worker process serves one request at a time on its own core.
        k = min(top_k, classes) if top_k > 0 else (classes if classes <= 10 else 5)
        try:
            x = preprocess(await request.body(), contract)
        except BadImage as err:
            return JSONResponse({"error": {"code": err.code, "message": err.message}}, status_code=err.status)
        with torch.inference_mode():
            out = model(x)[0]
        return JSONResponse({"model": {"name": contract["name"]}, "predictions": [scores(out, contract, k)]})

    return app


def listening_socket(host, port, reuse_port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    # Accepted connections inherit it: without it, Nagle + the client's delayed ACK held every response
    # ~40 ms (p50 52 ms at one connection for 11 ms of CPU; workers 0.3 cores busy at 4 connections).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock  # uvicorn (asyncio) calls listen() once the app has started


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-dir", required=True)
    p.add_argument("--contract", required=True, help="the resolved model contract as JSON (bench/src/peer.ts)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads of this worker")
    p.add_argument("--reuse-port", action="store_true", help="SO_REUSEPORT: several workers, one socket each")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    contract = json.loads(args.contract)
    model = load_model(args.model_dir, contract)
    sock = listening_socket(args.host, args.port, args.reuse_port)
    config = uvicorn.Config(create_app(model, contract), log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1:])
