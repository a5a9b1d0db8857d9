/**
 * Inference worker thread: owns one ONNX Runtime session, so the blocking `session.run()` never stalls
 * the HTTP event loop. Loads and warms up the model from `workerData`, then runs one batch per message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createValidatedSession, runBatch } from '../model/loader';
import type { FromWorker, ToWorker, WorkerInit } from './protocol';

async function main(port: NonNullable<typeof parentPort>): Promise<void> {
  const init = workerData as WorkerInit;
  const post = (msg: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(msg, transfer);
  let model;
  try {
    model = await createValidatedSession(init, init.settings);
  } catch (err) {
    post({ type: 'load-failed', message: (err as Error).message });
    return;
  }
  const { session, io } = model;
  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'close') {
      void session.release().finally(() => port.close());
      return;
    }
    const started = process.hrtime.bigint();
    runBatch(session, init.metadata, io, msg.data, msg.batch).then(
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

if (parentPort) void main(parentPort);
