import { ENVIRONMENTS, modelPinPath, readModelPin } from '../src/config/model-pin';
import { configHash, CONFIG_HASH_ANNOTATION } from '../src/inference-service';
import {
  DistFile,
  Json,
  ofKind,
  readGenerated,
  REPO_ROOT,
  WORKLOAD_KINDS,
  workloadsOf,
} from './support/dist';

// Cross-object consistency of the committed dist/: what kubectl would accept but the cluster would get wrong.

const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
const one = (files: DistFile[], kind: string, name: string): Json => {
  const found = files.find((f) => f.obj.kind === kind && f.obj.metadata.name === name);
  if (!found) throw new Error(`no ${kind} named ${name}`);
  return found.obj;
};

describe.each(ENVIRONMENTS)('consistency of dist/%s', (env) => {
  const files = readGenerated(`dist/${env}`);
  // Deployments, and the Rollout of an environment with `delivery: canary`.
  const deployments: Json[] = workloadsOf(files).map((f) => f.obj);
  const workload = (name: string): Json => deployments.find((d) => d.metadata.name === name);
  const services: Json[] = ofKind(files, 'Service').map((f) => f.obj);
  const podsOf = (selector: Record<string, string>) =>
    deployments.filter((d) => matches(selector, d.spec.template.metadata.labels));
  const httpPort = (d: Json): number =>
    d.spec.template.spec.containers[0].ports.find((p: Json) => p.name === 'http').containerPort;

  it('every Deployment selector matches its own pod template labels', () => {
    for (const d of deployments)
      expect(matches(d.spec.selector.matchLabels, d.spec.template.metadata.labels)).toBe(true);
  });

  it('every object lives in the namespace that dist/ creates', () => {
    const [namespace] = ofKind(files, 'Namespace');
    for (const f of files.filter((x) => x.obj.kind !== 'Namespace')) {
      expect(f.obj.metadata.namespace).toBe(namespace!.obj.metadata.name);
    }
  });

  it('every Service selects exactly one Deployment and targets its named http container port', () => {
    for (const s of services) {
      const [d, ...others] = podsOf(s.spec.selector);
      expect(others).toEqual([]);
      for (const port of s.spec.ports) expect(port.targetPort).toBe(httpPort(d));
    }
  });

  it('every probe calls the container port', () => {
    for (const d of deployments) {
      for (const c of d.spec.template.spec.containers) {
        for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
          if (c[probe]) expect(c[probe].httpGet.port).toBe(httpPort(d));
        }
      }
    }
  });

  it('every HPA targets an existing apps/v1 Deployment or argoproj.io/v1alpha1 Rollout', () => {
    for (const f of ofKind(files, 'HorizontalPodAutoscaler')) {
      const ref = (f.obj as Json).spec.scaleTargetRef;
      expect(WORKLOAD_KINDS).toContain(ref.kind);
      const target = one(files, ref.kind, ref.name);
      expect(ref.apiVersion).toBe(target.apiVersion);
    }
  });

  it("every ServiceMonitor selects a Service in its namespace and names that Service's port", () => {
    for (const f of ofKind(files, 'ServiceMonitor')) {
      const spec = (f.obj as Json).spec;
      const selected = services.filter((s) => matches(spec.selector.matchLabels, s.metadata.labels));
      expect(selected).toHaveLength(1);
      expect(spec.namespaceSelector.matchNames).toContain(selected[0].metadata.namespace);
      for (const endpoint of spec.endpoints) {
        expect(selected[0].spec.ports.map((p: Json) => p.name)).toContain(endpoint.port);
      }
    }
  });

  it("every Service's target port is admitted by the NetworkPolicy that selects its pods", () => {
    for (const s of services) {
      const [d] = podsOf(s.spec.selector);
      const policy = ofKind(files, 'NetworkPolicy')
        .map((f) => f.obj as Json)
        .find((p) => matches(p.spec.podSelector.matchLabels, d.spec.template.metadata.labels));
      const admitted = policy.spec.ingress.flatMap((r: Json) => r.ports.map((p: Json) => p.port));
      for (const port of s.spec.ports) expect(admitted).toContain(port.targetPort);
    }
  });

  it("every Ingress backend names a Service in its namespace and one of that Service's ports", () => {
    for (const f of ofKind(files, 'Ingress')) {
      for (const rule of (f.obj as Json).spec.rules) {
        for (const path of rule.http.paths) {
          const svc = one(files, 'Service', path.backend.service.name);
          expect(svc.metadata.namespace).toBe(f.obj.metadata.namespace);
          expect(svc.spec.ports.map((p: Json) => p.name)).toContain(path.backend.service.port.name);
        }
      }
    }
  });

  it('PDB minAvailable stays below HPA minReplicas and selects the same pods', () => {
    for (const f of ofKind(files, 'PodDisruptionBudget')) {
      const pdb = (f.obj as Json).spec;
      const [d] = podsOf(pdb.selector.matchLabels);
      const hpa = ofKind(files, 'HorizontalPodAutoscaler').find(
        (h) => (h.obj as Json).spec.scaleTargetRef.name === d.metadata.name,
      );
      expect(pdb.minAvailable).toBeLessThan((hpa!.obj as Json).spec.minReplicas);
    }
  });

  it('the pod template carries the hash of the ConfigMap it reads, so a config change rolls the pods', () => {
    for (const d of deployments.filter(
      (x) => x.spec.template.metadata.annotations?.[CONFIG_HASH_ANNOTATION],
    )) {
      const ref = d.spec.template.spec.containers[0].envFrom[0].configMapRef.name;
      const cm = one(files, 'ConfigMap', ref);
      expect(d.spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION]).toBe(configHash(cm.data));
    }
  });

  it('every ServiceAccount a pod uses exists', () => {
    for (const d of deployments)
      expect(one(files, 'ServiceAccount', d.spec.template.spec.serviceAccountName)).toBeDefined();
  });

  it('the pod template carries the pin whole: the init container fetches exactly the pinned files, the inference container gets the same pin as literal env, the shared ConfigMap none of it', () => {
    const pin = readModelPin(modelPinPath(REPO_ROOT, env));
    const d = workload('cats-dogs-classifier');
    const init = d.spec.template.spec.initContainers.find((c: Json) => c.name === 'model-fetch');
    const args: string[] = init.args;
    const flag = (name: string) => args[args.indexOf(name) + 1];
    expect([flag('--name'), flag('--version'), flag('--dest')]).toEqual([
      pin.name,
      pin.version,
      '/models/current',
    ]);
    const pinned = args.flatMap((a, i) => (a === '--file' ? [args[i + 1]] : []));
    expect(pinned).toEqual(Object.entries(pin.files).map(([file, sha]) => `${file}=${sha}`));
    // Each ReplicaSet keeps its own pin: a pod of an older one, started after a promotion, reads the pin of the files
    // its own init container fetched, never the newer pin of the ConfigMap every ReplicaSet shares.
    const inference = d.spec.template.spec.containers.find((c: Json) => c.name === 'inference');
    const literal = Object.fromEntries(inference.env.map((e: Json) => [e.name, e.value]));
    expect(literal).toEqual({
      MODEL_NAME: flag('--name'),
      MODEL_VERSION: flag('--version'),
      MODEL_SHA256: pin.sha256,
      MODEL_FILES: pinned.join(','),
    });
    expect(pinned.map((p) => p.split('=')[1])).toContain(literal.MODEL_SHA256);
    const cm = one(files, 'ConfigMap', 'cats-dogs-classifier');
    expect(Object.keys(cm.data).filter((k) => /^MODEL_(NAME|VERSION|SHA256|FILES)$/.test(k))).toEqual([]);
  });
});

describe('consistency of argocd/', () => {
  const files = readGenerated('argocd');
  const [project] = ofKind(files, 'AppProject').map((f) => f.obj as Json);

  it('has one Application per environment, each syncing its own dist/ directory', () => {
    const apps = ofKind(files, 'Application').map((f) => f.obj as Json);
    expect(apps.map((a) => a.spec.source.path).sort()).toEqual(ENVIRONMENTS.map((e) => `dist/${e}`).sort());
  });

  it.each(ENVIRONMENTS)('the %s Application stays within what its AppProject allows', (env) => {
    const app = ofKind(files, 'Application')
      .map((f) => f.obj as Json)
      .find((a) => a.spec.source.path === `dist/${env}`);
    expect(app.spec.project).toBe(project.metadata.name);
    expect(project.spec.sourceRepos).toContain(app.spec.source.repoURL);
    expect(project.spec.destinations).toContainEqual(app.spec.destination);
    const allowed = [
      ...project.spec.namespaceResourceWhitelist,
      ...project.spec.clusterResourceWhitelist,
    ].map((k: Json) => `${k.group}/${k.kind}`);
    for (const f of readGenerated(`dist/${env}`)) {
      const group = f.obj.apiVersion.includes('/') ? f.obj.apiVersion.split('/')[0] : '';
      expect(allowed).toContain(`${group}/${f.obj.kind}`);
    }
  });
});
