/**
 * Inference worker thread: owns one ONNX Runtime session, so the blocking `session.run()` never stalls
 * the HTTP event loop. Loads and warms up the model from `workerData`, then runs one job per message:
 * encoded images are decoded here (sharp, on the libuv pool), normalised into one reused input buffer and
 * run as one batch; a tensor job runs as given.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PredictionError } from '../errors';
import { createValidatedSession, runBatch } from '../model/loader';
import { decodeImage, normaliseInto } from '../preprocess';
import type { FromWorker, JobInput, ToWorker, WorkerInit } from './protocol';

/** A decoding failure of image `index` of a job. */
class ImageFailure {
  constructor(
    readonly index: number,
    readonly error: PredictionError,
  ) {}
}

async function main(port: NonNullable<typeof parentPort>): Promise<void> {
  const init = workerData as WorkerInit;
  const meta = init.metadata;
  const post = (msg: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(msg, transfer);
  let model;
  try {
    model = await createValidatedSession(init, init.settings);
  } catch (err) {
    post({ type: 'load-failed', message: (err as Error).message });
    return;
  }
  const { session, io } = model;
  const perImage = io.imageShape[0] * io.imageShape[1] * io.imageShape[2];
  // Jobs come one at a time (the pool gives a worker its next job once it has answered), so one input
  // buffer serves them all; it is replaced only when a job's batch size differs.
  let input = new Float32Array(perImage);

  async function modelInput(job: JobInput): Promise<{ data: Float32Array; batch: number }> {
    if (job.kind === 'tensor') return job;
    const pixels = await Promise.all(
      job.images.map((bytes, index) =>
        decodeImage(bytes, meta, { maxPixels: init.maxPixels }).catch((err: unknown) => {
          if (err instanceof PredictionError) throw new ImageFailure(index, err);
          throw err;
        }),
      ),
    );
    if (input.length !== perImage * pixels.length) input = new Float32Array(perImage * pixels.length);
    pixels.forEach((p, i) => normaliseInto(p, meta, input, i * perImage));
    return { data: input, batch: pixels.length };
  }

  async function run(id: number, job: JobInput): Promise<void> {
    const started = process.hrtime.bigint();
    try {
      const { data, batch } = await modelInput(job);
      const decoded = process.hrtime.bigint();
      const out = await runBatch(session, meta, io, data, batch);
      const scores = Float32Array.from(out); // own buffer, so it can be transferred
      const seconds = Number(process.hrtime.bigint() - decoded) / 1e9;
      const preprocessSeconds = Number(decoded - started) / 1e9;
      post({ type: 'result', id, scores, preprocessSeconds, seconds }, [scores.buffer as ArrayBuffer]);
    } catch (err) {
      if (err instanceof ImageFailure) {
        const { code, message } = err.error;
        post({ type: 'image-failed', id, index: err.index, code, message });
      } else post({ type: 'run-failed', id, message: (err as Error).message });
    }
  }

  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'close') {
      void session.release().finally(() => port.close());
      return;
    }
    void run(msg.id, msg.input);
  });
  post({ type: 'ready', io });
}

if (parentPort) void main(parentPort);
