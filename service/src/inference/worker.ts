/**
 * Inference worker thread: owns one ONNX Runtime session, so the blocking `session.run()` never stalls
 * the HTTP event loop. Loads and warms up the model from its first message (`load`), then runs one batch
 * per message.
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import { createValidatedSession, runBatch } from '../model/loader';
import type { FromWorker, ToWorker, WorkerInit } from './protocol';

type Post = (msg: FromWorker, transfer?: ArrayBuffer[]) => void;

function main(port: MessagePort): void {
  const post: Post = (msg, transfer = []) => port.postMessage(msg, transfer);
  // The pool sends `load` first (sendLoad), before any other message.
  port.once('message', (msg: ToWorker) => {
    if (msg.type === 'load') void serve(port, post, msg.init);
  });
}

/** Loads the model, then serves; `init` (the model bytes) is not kept once the session exists. */
async function serve(port: MessagePort, post: Post, init: WorkerInit): Promise<void> {
  let model;
  try {
    model = await createValidatedSession(init, init.settings);
  } catch (err) {
    post({ type: 'load-failed', message: (err as Error).message });
    return;
  }
  const { session, io } = model;
  const { metadata } = init;
  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'load') return; // once only: the pool never sends a second
    if (msg.type === 'close') {
      void session.release().finally(() => port.close());
      return;
    }
    const started = process.hrtime.bigint();
    runBatch(session, metadata, io, msg.data, msg.batch).then(
      (out) => {
        const scores = Float32Array.from(out); // own buffer, so it can be transferred
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        // ONNX Runtime is done with the input: it goes back too, for the pool's next image.
        post({ type: 'result', id: msg.id, scores, seconds, input: msg.data }, [
          scores.buffer as ArrayBuffer,
          msg.data.buffer as ArrayBuffer,
        ]);
      },
      (err: unknown) => post({ type: 'run-failed', id: msg.id, message: (err as Error).message }),
    );
  });
  post({ type: 'ready', io });
}

if (parentPort) main(parentPort);
