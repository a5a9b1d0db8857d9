import { loadRelayConfig, RelayEnvSchema } from '../../pipeline/src/relay';
import { loadConfig } from '../../service/src/config';
import { ENVIRONMENTS, modelPinPath, readModelPin } from '../src/config/model-pin';
import { containerEnvironment } from '../src/pod-environment';
import { Json, ofKind, readGenerated, REPO_ROOT, workloadsOf } from './support/dist';

// The environment dist/ gives each process is accepted by that process's own config schema, and the timings agree
// with the pod spec: what would otherwise only show up as a crash-looping or a request-dropping pod.

describe.each(ENVIRONMENTS)('runtime config in dist/%s', (env) => {
  const files = readGenerated(`dist/${env}`);
  // A Deployment, or the Rollout of an environment with `delivery: canary`.
  const deployment = (name: string): Json =>
    workloadsOf(files).find((f) => f.obj.metadata.name === name)!.obj;
  const service = deployment('cats-dogs-classifier');
  // What the inference container starts with: its ConfigMap, under the pod template's own env.
  const data = containerEnvironment(files.map((f) => f.obj));

  it('the service accepts its environment and sees the pin, the port and the model directory', () => {
    const config = loadConfig(data, '200000 100000');
    const c = service.spec.template.spec.containers[0];
    expect(config.port).toBe(c.ports[0].containerPort);
    expect(config.modelDir).toBe(data.MODEL_DIR);
    expect([config.modelName, config.modelVersion, config.modelSha256]).toEqual([
      data.MODEL_NAME,
      data.MODEL_VERSION,
      data.MODEL_SHA256,
    ]);
    expect(config.modelFiles).toEqual(readModelPin(modelPinPath(REPO_ROOT, env)).files);
    expect(config.host).toBe('0.0.0.0');
  });

  it('the model directory the service reads is the one the init container fills, on the model volume', () => {
    const spec = service.spec.template.spec;
    const init = spec.initContainers.find((c: Json) => c.name === 'model-fetch');
    expect(init.args[init.args.indexOf('--dest') + 1]).toBe(data.MODEL_DIR);
    const mount = spec.containers[0].volumeMounts.find((m: Json) =>
      data.MODEL_DIR!.startsWith(`${m.mountPath}/`),
    );
    expect(init.volumeMounts).toContainEqual({ name: mount.name, mountPath: mount.mountPath });
  });

  it('drain delay plus shutdown timeout fit in the termination grace period', () => {
    const config = loadConfig(data, '200000 100000');
    const graceMs = service.spec.template.spec.terminationGracePeriodSeconds * 1000;
    expect(config.drainDelayMs + config.shutdownTimeoutMs).toBeLessThan(graceMs);
  });

  it('the worker count does not exceed the CPU limit', () => {
    const limit = String(service.spec.template.spec.containers[0].resources.limits.cpu);
    const cpus = limit.endsWith('m') ? Number(limit.slice(0, -1)) / 1000 : Number(limit);
    const config = loadConfig(data, `${Math.ceil(cpus) * 100000} 100000`);
    expect(config.inferenceWorkers).toBeLessThanOrEqual(Math.ceil(cpus));
  });

  it('every variable of the inference container is one the service or the init container reads', () => {
    const known =
      /^(PORT|HOST|LOG_LEVEL|MODEL_(DIR|NAME|VERSION|SHA256|FILES|ALIAS|STAGE)|MLFLOW_TRACKING_URI)$/;
    const serviceKeys = Object.keys(data).filter((k) => !known.test(k));
    // loadConfig ignores unknown variables, so a typo would pass silently: changing each extra key must change
    // the config the service ends up with.
    const current = JSON.stringify(loadConfig(data, '200000 100000'));
    for (const key of serviceKeys) {
      const changed = { ...data, [key]: data[key] === '1' ? '2' : '1' };
      const differs = JSON.stringify(loadConfig(changed, '200000 100000')) !== current;
      expect({ key, differs }).toEqual({ key, differs: true });
    }
  });
});

describe('webhook relay runtime config in dist/production', () => {
  const files = readGenerated('dist/production');
  const relay: Json = ofKind(files, 'Deployment').find(
    (f) => f.obj.metadata.name === 'model-gitops-webhook-relay',
  )!.obj;
  const c = relay.spec.template.spec.containers[0];

  it('the relay accepts its environment (secrets stubbed) and listens on the container port', () => {
    const env: Record<string, string> = {};
    for (const e of c.env) env[e.name] = e.value ?? (e.valueFrom.secretKeyRef ? 'x'.repeat(32) : '');
    const config = loadRelayConfig(env);
    expect(config.PORT).toBe(c.ports[0].containerPort);
    expect([...config.RELAY_ALIAS_ENVIRONMENTS.entries()]).toEqual([
      ['production', 'production'],
      ['staging', 'staging'],
    ]);
  });

  it('every variable the relay gets is one it reads', () => {
    const keys = Object.keys(RelayEnvSchema.shape);
    for (const e of c.env) expect(keys).toContain(e.name);
  });
});
