/**
 * Zero-downtime rolling update, simulated for real: service processes behind haproxy on 127.0.0.1,
 * replaced one by one the way the Deployment does it (maxSurge 1, maxUnavailable 0) under a steady
 * request stream. Probe period/thresholds and DRAIN_DELAY_MS come from the generated manifests, all
 * divided by TIME_SCALE so the test takes seconds instead of minutes.
 *
 * What Kubernetes does on a pod deletion, and how it is played here:
 * - kubelet sends SIGTERM → the process gets SIGTERM; the service fails /ready and keeps serving for
 *   DRAIN_DELAY_MS, then closes its listener and finishes in-flight requests;
 * - at the same time the endpoint controller removes the terminating pod from the EndpointSlice and
 *   the ingress stops routing to it after a propagation lag → after ENDPOINT_PROPAGATION_MS the server
 *   is put in haproxy's DRAIN state over the runtime API;
 * - haproxy's active checks of /ready (readiness period/thresholds) are the safety net for everything else.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  REPO_ROOT,
  generateImage,
  request,
  sleep,
  startService,
  type ServiceProcess,
} from '../../bench/src/harness';
import { readRolloutSettings } from './support/deployment';
import { Haproxy } from './support/haproxy';
import { countByVersion, failed, RequestStream, type StreamRecord } from './support/stream';

jest.setTimeout(180_000);

/** Every duration of the manifests (probe period, timeouts, drain delay) is divided by this. */
const TIME_SCALE = 10;
const REPLICAS = 2;
/** EndpointSlice → ingress propagation lag (1 s in a quiet cluster), scaled like every other duration. */
const ENDPOINT_PROPAGATION_MS = 1000 / TIME_SCALE;
const MODEL_DIR = path.join(REPO_ROOT, 'service', 'models', 'default');

describe('rolling update behind haproxy (maxSurge 1, maxUnavailable 0)', () => {
  const settings = readRolloutSettings(REPO_ROOT);
  const periodMs = (settings.readiness.periodSeconds * 1000) / TIME_SCALE;
  const drainDelayMs = Math.round(settings.drainDelayMs / TIME_SCALE);
  const processes: ServiceProcess[] = [];
  let proxy: Haproxy | undefined;
  let records: StreamRecord[] = [];
  let stream: RequestStream | undefined;
  let rolloutStart = 0;
  let rolloutEnd = 0;
  const oldExits: { code: number | null; signal: string | null }[] = [];

  const startInstance = (version: string): Promise<ServiceProcess> =>
    startService({
      env: {
        MODEL_DIR,
        MODEL_NAME: 'cats-dogs-classifier',
        MODEL_VERSION: version,
        INFERENCE_WORKERS: '1',
        DRAIN_DELAY_MS: String(drainDelayMs),
        SHUTDOWN_TIMEOUT_MS: String(Math.round((settings.terminationGracePeriodSeconds * 1000) / TIME_SCALE)),
        LOG_LEVEL: 'warn',
      },
      readyTimeoutMs: 60_000,
    }).then((p) => {
      processes.push(p);
      return p;
    });

  const waitUntilUp = async (name: string): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      if ((await proxy?.serverStates())?.[name] === 'UP') return;
      await sleep(25);
    }
    throw new Error(`haproxy never marked ${name} UP:\n${proxy?.output()}`);
  };

  beforeAll(async () => {
    if (!existsSync(path.join(MODEL_DIR, 'model.onnx'))) {
      throw new Error(`${MODEL_DIR}/model.onnx is missing: run \`npm run build && npm run model:default\``);
    }
    expect(settings.maxSurge).toBe(1);
    expect(settings.maxUnavailable).toBe(0);
    proxy = await Haproxy.start({
      intervalMs: periodMs,
      fall: settings.readiness.failureThreshold,
      rise: settings.readiness.successThreshold,
      timeoutMs: (settings.readiness.timeoutSeconds * 1000) / TIME_SCALE,
    });
    const image = await generateImage({ format: 'jpeg', width: 640, height: 480 }, 1);

    const old = await Promise.all(Array.from({ length: REPLICAS }, () => startInstance('1')));
    for (const [i, p] of old.entries()) {
      await proxy.addServer(`v1-${i}`, p.port);
      await waitUntilUp(`v1-${i}`);
    }
    stream = RequestStream.start({
      url: proxy.url,
      body: image.bytes,
      contentType: image.contentType,
      clients: 4,
      pauseMs: 20,
      timeoutMs: 10_000,
    });
    await sleep(1000);

    // The Deployment controller: surge one new pod, wait until it is ready (and an endpoint), then
    // terminate one old pod; repeat.
    rolloutStart = stream.now();
    for (const [i, oldProc] of old.entries()) {
      const fresh = await startInstance('2');
      await proxy.addServer(`v2-${i}`, fresh.port);
      await waitUntilUp(`v2-${i}`);
      await sleep(periodMs); // a little traffic on both before the next step
      const stopped = oldProc.stop(settings.terminationGracePeriodSeconds * 1000);
      await sleep(ENDPOINT_PROPAGATION_MS);
      await proxy.drainServer(`v1-${i}`);
      const exit = await stopped;
      oldExits.push({ code: exit.code, signal: exit.signal });
      await proxy.removeServer(`v1-${i}`);
    }
    rolloutEnd = stream.now();
    await sleep(1000);
    records = await stream.stop();
  });

  afterAll(async () => {
    await stream?.stop();
    await Promise.all(processes.map((p) => p.stop(2000)));
    await proxy?.stop();
  });

  it('drops no request: every response is a 200 (no 5xx, reset or timeout)', () => {
    const failures = failed(records);
    // The figures for the closing note.
    console.log(
      `rolling update: ${records.length} requests, ${failures.length} failed, versions ${JSON.stringify(
        countByVersion(records),
      )}, probe every ${periodMs} ms x${settings.readiness.failureThreshold}, drain ${drainDelayMs} ms, ` +
        `endpoint lag ${ENDPOINT_PROPAGATION_MS} ms (manifest values / ${TIME_SCALE})`,
    );
    if (failures.length) console.log(proxy?.output());
    expect(records.length).toBeGreaterThan(100);
    expect(failures.slice(0, 5)).toEqual([]);
    expect(failures).toHaveLength(0);
  });

  it('serves both versions during the rollout and only the new one after it', () => {
    const during = records.filter((r) => r.sentAt >= rolloutStart && r.doneAt <= rolloutEnd);
    const after = records.filter((r) => r.sentAt > rolloutEnd);
    expect(Object.keys(countByVersion(during)).sort()).toEqual(['1', '2']);
    expect(after.length).toBeGreaterThan(0);
    expect(Object.keys(countByVersion(after))).toEqual(['2']);
  });

  it('lets every old instance drain and exit 0 on SIGTERM', () => {
    expect(oldExits).toEqual(Array.from({ length: REPLICAS }, () => ({ code: 0, signal: null })));
  });

  it('leaves only ready new instances behind the proxy', async () => {
    const states = await proxy?.serverStates();
    expect(states).toEqual({ 'v2-0': 'UP', 'v2-1': 'UP' });
    const res = await request(`${proxy?.url}/ready`);
    expect(res.status).toBe(200);
  });
});
