import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './repo';

const SERVER = join(REPO_ROOT, 'service', 'src', 'server.ts');

/** A running inference service process (the real server entry, under tsx) on 127.0.0.1. */
export interface ServiceProcess {
  readonly url: string;
  readonly output: () => string;
  /** SIGTERM, wait for the exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
}

/**
 * Starts `service/src/server.ts` on a random port with `env` (MODEL_DIR, MODEL_VERSION, ...) and resolves once it
 * logs the port it listens on (it turns ready later, when the model is loaded; smoke waits for that).
 */
export function startService(env: Record<string, string>): Promise<ServiceProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', SERVER], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      DRAIN_DELAY_MS: '0',
      INFERENCE_WORKERS: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`service did not start listening within 20 s:\n${out}`));
    }, 20_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const match = /"port":(\d+)[^\n]*"msg":"listening"/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ url: `http://127.0.0.1:${match[1]}`, output: () => out, stop });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${String(code)} before listening:\n${out}`));
    });
  });
}
