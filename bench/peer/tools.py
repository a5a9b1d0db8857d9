"""One-shot peer measurements for the bench (bench/src/peer.ts), no server:

    python3 bench/peer/tools.py forward --model-dir DIR --contract JSON --inputs IN.f32 --count N --out OUT.f32
        runs the torch module on N input tensors (raw float32, batch 1 each) and writes the outputs;
    python3 bench/peer/tools.py preprocess --model-dir DIR --contract JSON --out OUT.f32 IMAGE...
        writes the input tensor the peer makes of each image (raw float32, concatenated);
    python3 bench/peer/tools.py cost --model-dir DIR --contract JSON --seconds S IMAGE...
        CPU-ms per image of Pillow preprocessing (decode, resize, normalise) and of torch inference, one at
        a time on one thread, printed as JSON.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

from model import load_model, preprocess


def forward(model, contract, args):
    shape = [1, 3, contract["height"], contract["width"]] if contract["layout"] == "NCHW" else [1, contract["height"], contract["width"], 3]
    inputs = np.fromfile(args.inputs, dtype="<f4").reshape([args.count] + shape[1:])
    with torch.inference_mode():
        outs = [model(torch.from_numpy(inputs[i : i + 1].copy()))[0].numpy() for i in range(args.count)]
    np.concatenate(outs).astype("<f4").tofile(args.out)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def preprocess_all(model, contract, args):
    tensors = [preprocess(read(path), contract).numpy() for path in args.images]
    np.concatenate(tensors).astype("<f4").tofile(args.out)


def cpu_ms_each(items, seconds, fn):
    """CPU-ms per call of fn on each item, round-robin for `seconds` after one warm-up call each."""
    for item in items:
        fn(item)
    used = [0.0] * len(items)
    counts = [0] * len(items)
    end = time.monotonic() + seconds
    while time.monotonic() < end or min(counts) == 0:
        for i, item in enumerate(items):
            t0 = time.process_time()
            fn(item)
            used[i] += time.process_time() - t0
            counts[i] += 1
    return [{"cpuMs": 1000 * u / n, "count": n} for u, n in zip(used, counts)]


def cost(model, contract, args):
    images = [read(path) for path in args.images]
    pre = cpu_ms_each(images, args.seconds / 2, lambda data: preprocess(data, contract))
    tensors = [preprocess(data, contract) for data in images]
    with torch.inference_mode():
        infer = cpu_ms_each(tensors, args.seconds / 2, model)
    names = [os.path.splitext(os.path.basename(p))[0] for p in args.images]
    print(json.dumps({
        "torch": torch.__version__,
        "preprocess": [{"name": n, **r} for n, r in zip(names, pre)],
        "inferenceCpuMs": sum(r["cpuMs"] * r["count"] for r in infer) / sum(r["count"] for r in infer),
    }))


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("forward", "preprocess", "cost"):
        s = sub.add_parser(name)
        s.add_argument("--model-dir", required=True)
        s.add_argument("--contract", required=True)
    f = sub.choices["forward"]
    f.add_argument("--inputs", required=True)
    f.add_argument("--count", type=int, required=True)
    f.add_argument("--out", required=True)
    pre = sub.choices["preprocess"]
    pre.add_argument("--out", required=True)
    pre.add_argument("images", nargs="+")
    c = sub.choices["cost"]
    c.add_argument("--seconds", type=float, default=2.0)
    c.add_argument("images", nargs="+")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    contract = json.loads(args.contract)
    model = load_model(args.model_dir, contract)
    {"forward": forward, "preprocess": preprocess_all, "cost": cost}[args.command](model, contract, args)


if __name__ == "__main__":
    main(sys.argv[1:])
