import { Duration, Size, Testing } from 'cdk8s';
import { ImagePullPolicy } from 'cdk8s-plus-28';
import { Delivery } from '../src/delivery';
import {
  CONFIG_HASH_ANNOTATION,
  configHash,
  InferenceService,
  InferenceServiceProps,
} from '../src/inference-service';
import { ModelSource } from '../src/model-source';
import { Scaling } from '../src/scaling';
import { ServiceExposure } from '../src/service-exposure';
import { Json } from './support/dist';
import { describeEveryProp, PropCheck, renderedProbe } from './support/every-prop';
import { PIN, REGISTRY_SOURCE } from './support/pins';

const IMAGE = 'ghcr.io/example/model-gitops:0.1.0';

function synth(props: Partial<InferenceServiceProps> = {}): Json[] {
  const chart = Testing.chart();
  new InferenceService(chart, 'Inference', { image: IMAGE, modelSource: REGISTRY_SOURCE, ...props });
  return Testing.synth(chart);
}
const find = (objects: Json[], kind: string): Json => objects.find((o) => o.kind === kind);
const kinds = (objects: Json[]) => objects.map((o) => o.kind).sort();
const podSpec = (objects: Json[]) => find(objects, 'Deployment').spec.template.spec;
const container = (objects: Json[]) => podSpec(objects).containers[0];

describe('InferenceService defaults', () => {
  const objects = synth();

  it('emits the full set of objects, each named cats-dogs-classifier in namespace cats-dogs-classifier', () => {
    expect(kinds(objects)).toEqual([
      'ConfigMap',
      'Deployment',
      'HorizontalPodAutoscaler',
      'Namespace',
      'NetworkPolicy',
      'PodDisruptionBudget',
      'Service',
      'ServiceAccount',
      'ServiceMonitor',
    ]);
    for (const o of objects) {
      expect(o.metadata.name).toBe('cats-dogs-classifier');
      if (o.kind !== 'Namespace') expect(o.metadata.namespace).toBe('cats-dogs-classifier');
    }
  });

  it('enforces the restricted Pod Security Standard on the namespace', () => {
    expect(find(objects, 'Namespace').metadata.labels['pod-security.kubernetes.io/enforce']).toBe(
      'restricted',
    );
  });

  it('turns service account token automount off on the account and the pods', () => {
    expect(find(objects, 'ServiceAccount').automountServiceAccountToken).toBe(false);
    expect(podSpec(objects).automountServiceAccountToken).toBe(false);
  });

  it('rolls one pod at a time without ever going below the desired count', () => {
    expect(find(objects, 'Deployment').spec.strategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
    });
  });

  it('leaves replicas to the HPA', () => {
    expect(find(objects, 'Deployment').spec.replicas).toBeUndefined();
    expect(find(objects, 'HorizontalPodAutoscaler').spec.scaleTargetRef.name).toBe('cats-dogs-classifier');
  });

  it('probes /health for startup (150 s budget) and liveness, /ready for readiness', () => {
    const c = container(objects);
    expect(c.startupProbe).toMatchObject({
      httpGet: { path: '/health', port: 8000 },
      periodSeconds: 5,
      failureThreshold: 30,
    });
    expect(c.livenessProbe).toMatchObject({
      httpGet: { path: '/health', port: 8000 },
      initialDelaySeconds: 30,
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 3,
    });
    expect(c.readinessProbe).toMatchObject({
      httpGet: { path: '/ready', port: 8000 },
      initialDelaySeconds: 10,
      periodSeconds: 5,
      timeoutSeconds: 3,
      failureThreshold: 2,
    });
  });

  it('requests 500m CPU / 512Mi and limits 2 CPU / 2Gi', () => {
    expect(container(objects).resources).toEqual({
      requests: { cpu: '500m', memory: '512Mi' },
      limits: { cpu: '2', memory: '2048Mi' },
    });
  });

  it('gives the pods 30 s to drain, emptyDirs with size limits for the model and /tmp', () => {
    expect(podSpec(objects).terminationGracePeriodSeconds).toBe(30);
    expect(podSpec(objects).volumes).toEqual(
      expect.arrayContaining([
        { name: 'model', emptyDir: { sizeLimit: '1024Mi' } },
        { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
      ]),
    );
  });

  it('runs an init container that fetches and verifies exactly the pinned model', () => {
    const [init] = podSpec(objects).initContainers;
    expect(init.command).toEqual(['node', '/app/build/pipeline/src/cli.js', 'model-fetch']);
    expect(init.args).toEqual([
      '--name',
      PIN.name,
      '--version',
      PIN.version,
      '--file',
      `MLmodel=${'b'.repeat(64)}`,
      '--file',
      `labels.json=${'c'.repeat(64)}`,
      '--file',
      `model.onnx=${'a'.repeat(64)}`,
      '--dest',
      '/models/current',
      '--wait-attempts',
      '30',
      '--wait-interval-ms',
      '2000',
    ]);
    expect(init.image).toBe(IMAGE);
    expect(init.volumeMounts).toContainEqual({ name: 'model', mountPath: '/models' });
    expect(container(objects).volumeMounts).toContainEqual({
      name: 'model',
      mountPath: '/models',
      readOnly: true,
    });
  });

  it('gives the init container MLflow credentials from a Secret by name, each key optional', () => {
    const env = podSpec(objects).initContainers[0].env;
    expect(env).toContainEqual({
      name: 'MLFLOW_TRACKING_URI',
      valueFrom: { configMapKeyRef: { name: 'cats-dogs-classifier', key: 'MLFLOW_TRACKING_URI' } },
    });
    for (const key of ['MLFLOW_TRACKING_TOKEN', 'MLFLOW_TRACKING_USERNAME', 'MLFLOW_TRACKING_PASSWORD']) {
      expect(env).toContainEqual({
        name: key,
        valueFrom: { secretKeyRef: { name: 'mlflow-credentials', key, optional: true } },
      });
    }
  });

  it('puts the runtime settings in a ConfigMap the service reads whole, and its hash on the pod template', () => {
    const cm = find(objects, 'ConfigMap');
    expect(cm.data).toEqual({
      HOST: '0.0.0.0',
      PORT: '8000',
      LOG_LEVEL: 'info',
      DRAIN_DELAY_MS: '10000',
      SHUTDOWN_TIMEOUT_MS: '15000',
      MODEL_DIR: '/models/current',
      MODEL_ALIAS: 'production',
      MLFLOW_TRACKING_URI: 'http://mlflow.mlflow:5000',
    });
    expect(container(objects).envFrom).toEqual([{ configMapRef: { name: 'cats-dogs-classifier' } }]);
    expect(find(objects, 'Deployment').spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION]).toBe(
      configHash(cm.data),
    );
  });

  it('gives the service the pin as literal env in the pod template, so each ReplicaSet keeps its own', () => {
    expect(container(objects).env).toEqual([
      { name: 'MODEL_NAME', value: PIN.name },
      { name: 'MODEL_VERSION', value: PIN.version },
      { name: 'MODEL_SHA256', value: PIN.sha256 },
      {
        name: 'MODEL_FILES',
        value: `MLmodel=${'b'.repeat(64)},labels.json=${'c'.repeat(64)},model.onnx=${'a'.repeat(64)}`,
      },
    ]);
  });

  it('leaves the ConfigMap and its hash alone when only the pin changes: a promotion changes the pod template only', () => {
    const promoted = ModelSource.fromRegistry(
      { ...PIN, version: '8', sha256: 'd'.repeat(64), files: { ...PIN.files, 'model.onnx': 'd'.repeat(64) } },
      { alias: 'production' },
      { trackingUri: 'http://mlflow.mlflow:5000', namespace: 'mlflow' },
    );
    const after = synth({ modelSource: promoted });
    expect(find(after, 'ConfigMap')).toEqual(find(objects, 'ConfigMap'));
    expect(find(after, 'Deployment').spec.template.metadata.annotations).toEqual(
      find(objects, 'Deployment').spec.template.metadata.annotations,
    );
    expect(container(after).env).toContainEqual({ name: 'MODEL_VERSION', value: '8' });
  });

  it('spreads pods over hosts (preferred anti-affinity) and zones (topology spread)', () => {
    const spec = podSpec(objects);
    expect(spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution).toEqual([
      {
        weight: 100,
        podAffinityTerm: {
          topologyKey: 'kubernetes.io/hostname',
          labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'cats-dogs-classifier' } },
        },
      },
    ]);
    expect(spec.topologySpreadConstraints).toEqual([
      {
        maxSkew: 1,
        topologyKey: 'topology.kubernetes.io/zone',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'cats-dogs-classifier' } },
      },
    ]);
  });

  it('selects pods by the app name label only, never by construct address', () => {
    const d = find(objects, 'Deployment');
    expect(d.spec.selector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'cats-dogs-classifier' } });
    expect(JSON.stringify(objects)).not.toContain('cdk8s.io/metadata.addr');
  });

  it('autoscales 3–10 on 70 % CPU and 80 % memory, up by 100 % or 1 pod, down by 50 % after 300 s', () => {
    const spec = find(objects, 'HorizontalPodAutoscaler').spec;
    expect([spec.minReplicas, spec.maxReplicas]).toEqual([3, 10]);
    expect(spec.metrics.map((m: Json) => [m.resource.name, m.resource.target.averageUtilization])).toEqual([
      ['cpu', 70],
      ['memory', 80],
    ]);
    expect(spec.behavior.scaleUp.policies).toEqual([
      { type: 'Percent', value: 100, periodSeconds: 60 },
      { type: 'Pods', value: 1, periodSeconds: 60 },
    ]);
    expect(spec.behavior.scaleDown).toMatchObject({
      stabilizationWindowSeconds: 300,
      policies: [{ type: 'Percent', value: 50, periodSeconds: 60 }],
    });
  });

  it('keeps 2 pods through voluntary disruptions, but never lets a pod that is not ready block a drain', () => {
    expect(find(objects, 'PodDisruptionBudget').spec).toMatchObject({
      minAvailable: 2,
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    });
    const strict = synth({ unhealthyPodEvictionPolicy: 'IfHealthyBudget' });
    expect(find(strict, 'PodDisruptionBudget').spec.unhealthyPodEvictionPolicy).toBe('IfHealthyBudget');
  });

  it('admits port 8000 only from its namespace, ingress-nginx and monitoring; egress only DNS and MLflow', () => {
    const spec = find(objects, 'NetworkPolicy').spec;
    expect(spec.policyTypes).toEqual(['Egress', 'Ingress']);
    const ingressPeers = spec.ingress.flatMap((r: Json) => r.from);
    expect(ingressPeers).toEqual([
      { podSelector: {} },
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } },
        podSelector: {},
      },
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
        podSelector: {},
      },
    ]);
    for (const r of spec.ingress) expect(r.ports).toEqual([{ port: 8000, protocol: 'TCP' }]);
    expect(spec.egress.map((r: Json) => r.ports)).toEqual([
      [
        { port: 53, protocol: 'UDP' },
        { port: 53, protocol: 'TCP' },
      ],
      [{ port: 5000, protocol: 'TCP' }],
    ]);
    expect(spec.egress[1].to).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'mlflow' } }, podSelector: {} },
    ]);
  });

  it("admits MLflow's pod port, not the Service port, when the tracking URI names a Service that maps it", () => {
    const egressPorts = (podPort?: number): unknown => {
      const source = ModelSource.fromRegistry(
        PIN,
        { alias: 'production' },
        { trackingUri: 'http://mlflow.mlflow', namespace: 'mlflow', podPort },
      );
      return find(synth({ modelSource: source }), 'NetworkPolicy').spec.egress[1].ports;
    };
    expect(egressPorts()).toEqual([{ port: 80, protocol: 'TCP' }]);
    expect(egressPorts(5000)).toEqual([{ port: 5000, protocol: 'TCP' }]);
    expect(() => egressPorts(70000)).toThrow(
      "'mlflow.podPort' (70000) must be a port number from 1 to 65535.",
    );
  });

  it('is scraped every 30 s on the http port at /metrics by the release=prometheus Prometheus', () => {
    const sm = find(objects, 'ServiceMonitor');
    expect(sm.metadata.labels.release).toBe('prometheus');
    expect(sm.spec.endpoints).toEqual([{ port: 'http', path: '/metrics', interval: '30s' }]);
  });
});

describe('InferenceService props', () => {
  it('drains for the readiness probe period × failureThreshold, then waits 15 s for in-flight requests', () => {
    expect(find(synth(), 'ConfigMap').data).toMatchObject({
      DRAIN_DELAY_MS: '10000',
      SHUTDOWN_TIMEOUT_MS: '15000',
    });
    const slower = find(
      synth({ readinessProbe: { periodSeconds: Duration.seconds(4), failureThreshold: 3 } }),
      'ConfigMap',
    );
    expect(slower.data.DRAIN_DELAY_MS).toBe('12000');
  });

  it('takes the drain delay and shutdown timeout to the millisecond', () => {
    const objects = synth({ drainDelay: Duration.millis(5500), shutdownTimeout: Duration.millis(12250) });
    expect(find(objects, 'ConfigMap').data).toMatchObject({
      DRAIN_DELAY_MS: '5500',
      SHUTDOWN_TIMEOUT_MS: '12250',
    });
  });

  it('writes a fixed replica count and no HPA or PDB with Scaling.fixed', () => {
    const objects = synth({ scaling: Scaling.fixed(1) });
    expect(find(objects, 'Deployment').spec.replicas).toBe(1);
    expect(kinds(objects)).not.toContain('HorizontalPodAutoscaler');
    expect(kinds(objects)).not.toContain('PodDisruptionBudget');
    expect(find(objects, 'Deployment').metadata.annotations).toBeUndefined();
  });

  it('serves the model baked into the image without an init container or MLflow egress', () => {
    const objects = synth({ modelSource: ModelSource.baked() });
    expect(podSpec(objects).initContainers).toBeUndefined();
    expect(container(objects).env).toBeUndefined(); // no pin: the image's own model
    expect(find(objects, 'ConfigMap').data.MODEL_DIR).toBe('/app/service/models/default');
    expect(find(objects, 'ConfigMap').data.MLFLOW_TRACKING_URI).toBeUndefined();
    expect(find(objects, 'NetworkPolicy').spec.egress).toHaveLength(1);
  });

  it('records the followed stage instead of an alias', () => {
    const source = ModelSource.fromRegistry(
      PIN,
      { stage: 'Production' },
      { trackingUri: 'https://mlflow.example.com', cidr: '10.0.0.0/8' },
    );
    const objects = synth({ modelSource: source });
    expect(find(objects, 'ConfigMap').data).toMatchObject({ MODEL_STAGE: 'Production' });
    expect(find(objects, 'NetworkPolicy').spec.egress[1]).toEqual({
      to: [{ ipBlock: { cidr: '10.0.0.0/8' } }],
      ports: [{ port: 443, protocol: 'TCP' }],
    });
  });

  it('pulls Always by default and records the kube-score exemption for IfNotPresent', () => {
    expect(container(synth()).imagePullPolicy).toBe('Always');
    const objects = synth({ imagePullPolicy: ImagePullPolicy.IF_NOT_PRESENT, scaling: Scaling.fixed(1) });
    expect(container(objects).imagePullPolicy).toBe('IfNotPresent');
    expect(podSpec(objects).initContainers[0].imagePullPolicy).toBe('IfNotPresent');
    expect(find(objects, 'Deployment').metadata.annotations).toEqual({
      'kube-score/ignore': 'container-image-pull-policy',
      'model-gitops/exemption-reason': expect.stringContaining('side-loaded'),
    });
  });

  it('pins the image by digest when the reference carries one', () => {
    const image = `ghcr.io/example/model-gitops:0.1.0@sha256:${'c'.repeat(64)}`;
    const objects = synth({ image });
    expect(container(objects).image).toBe(image);
    expect(podSpec(objects).initContainers[0].image).toBe(image);
  });

  it('exposes a LoadBalancer on 80 and, with TLS, 443 to the http port', () => {
    const objects = synth({
      exposure: ServiceExposure.loadBalancer({ tlsPort: 443, loadBalancerSourceRanges: ['0.0.0.0/0'] }),
    });
    const svc = find(objects, 'Service');
    expect(svc.spec.type).toBe('LoadBalancer');
    expect(svc.spec.ports).toEqual([
      { name: 'http', port: 80, targetPort: 8000, protocol: 'TCP' },
      { name: 'https', port: 443, targetPort: 8000, protocol: 'TCP' },
    ]);
  });

  it('exposes a NodePort with the fixed node port', () => {
    const exposure = ServiceExposure.nodePort({ nodePort: 30080, nodePortSourceRanges: ['172.16.0.0/12'] });
    const svc = find(synth({ exposure }), 'Service');
    expect(svc.spec.type).toBe('NodePort');
    expect(svc.spec.ports[0]).toMatchObject({ port: 80, nodePort: 30080, targetPort: 8000 });
  });

  it("admits a LoadBalancer's source ranges on 8000 with the pod CIDRs cut out, and keeps client addresses", () => {
    const objects = synth({
      exposure: ServiceExposure.loadBalancer({ loadBalancerSourceRanges: ['0.0.0.0/0', '203.0.113.0/24'] }),
      podCidrs: ['10.244.0.0/16', '192.168.0.0/16'],
    });
    const svc = find(objects, 'Service').spec;
    expect(svc.loadBalancerSourceRanges).toEqual(['0.0.0.0/0', '203.0.113.0/24']);
    expect(svc.externalTrafficPolicy).toBe('Local');
    const external = find(objects, 'NetworkPolicy').spec.ingress.filter((r: Json) => r.from[0].ipBlock);
    expect(external).toEqual([
      {
        from: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.244.0.0/16', '192.168.0.0/16'] } }],
        ports: [{ port: 8000, protocol: 'TCP' }],
      },
      { from: [{ ipBlock: { cidr: '203.0.113.0/24' } }], ports: [{ port: 8000, protocol: 'TCP' }] },
    ]);
  });

  it('admits the node CIDRs instead of the clients with externalTrafficPolicy Cluster', () => {
    const objects = synth({
      exposure: ServiceExposure.loadBalancer({
        loadBalancerSourceRanges: ['203.0.113.0/24'],
        externalTrafficPolicy: 'Cluster',
        nodeCidrs: ['10.0.0.0/16'],
      }),
    });
    expect(find(objects, 'Service').spec).toMatchObject({
      externalTrafficPolicy: 'Cluster',
      loadBalancerSourceRanges: ['203.0.113.0/24'],
    });
    const blocks = find(objects, 'NetworkPolicy')
      .spec.ingress.flatMap((r: Json) => r.from)
      .filter((p: Json) => p.ipBlock);
    expect(blocks).toEqual([{ ipBlock: { cidr: '10.0.0.0/16' } }]);
  });

  it('gives a ClusterIP Service neither an external traffic policy nor an ipBlock', () => {
    const objects = synth();
    expect(find(objects, 'Service').spec.externalTrafficPolicy).toBeUndefined();
    expect(find(objects, 'Service').spec.loadBalancerSourceRanges).toBeUndefined();
    expect(JSON.stringify(find(objects, 'NetworkPolicy').spec.ingress)).not.toContain('ipBlock');
  });

  it('rolls the pods when a setting changes (the config hash changes)', () => {
    const hash = (objects: Json[]) =>
      find(objects, 'Deployment').spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION];
    expect(hash(synth({ settings: { INFERENCE_WORKERS: '2' } }))).not.toBe(
      hash(synth({ settings: { INFERENCE_WORKERS: '1' } })),
    );
  });

  it('writes the ConfigMap keys sorted, and hashes them so, whatever order the settings come in', () => {
    const data = (o: Json[]) => find(o, 'ConfigMap').data;
    const hash = (o: Json[]) =>
      find(o, 'Deployment').spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION];
    const forward = synth({ settings: { AAA_FIRST: '1', ZZZ_LAST: '2' } });
    const backward = synth({ settings: { ZZZ_LAST: '2', AAA_FIRST: '1' } });
    const keys = Object.keys(data(backward));
    expect(keys).toEqual([...keys].sort());
    expect(JSON.stringify(data(backward))).toBe(JSON.stringify(data(forward)));
    expect(hash(backward)).toBe(hash(forward));
    expect(configHash({ b: '2', a: '1' })).toBe(configHash({ a: '1', b: '2' }));
  });

  it('gives both exemption reasons, space-separated, for an autoscaled side-loaded image', () => {
    const annotations = find(synth({ imagePullPolicy: ImagePullPolicy.NEVER }), 'Deployment').metadata
      .annotations;
    expect(annotations).toEqual({
      'polaris.fairwinds.com/deploymentMissingReplicas-exempt': 'true',
      'kube-score/ignore': 'container-image-pull-policy',
      'model-gitops/exemption-reason':
        'spec.replicas is omitted on purpose: the HorizontalPodAutoscaler owns the replica count, and a ' +
        'replicas field would make Argo CD and the HPA fight over it. imagePullPolicy Never on purpose: the ' +
        'image is side-loaded into a laptop cluster and is not in a registry the kubelet could pull from.',
    });
  });

  it('fails when the image has the latest tag', () => {
    expect(() => synth({ image: 'ghcr.io/example/model-gitops:latest' })).toThrow(
      "image 'ghcr.io/example/model-gitops:latest' uses the 'latest' tag: pin a version tag or a sha256 digest.",
    );
  });

  it('fails when a setting overrides one the construct sets', () => {
    expect(() => synth({ settings: { MODEL_VERSION: '9' } })).toThrow(
      "'settings' key 'MODEL_VERSION' is set by the construct itself: remove it from settings.",
    );
  });

  it('fails when a setting overrides the drain delay the construct derives', () => {
    expect(() => synth({ settings: { DRAIN_DELAY_MS: '5000' } })).toThrow(
      "'settings' key 'DRAIN_DELAY_MS' is set by the construct itself: remove it from settings.",
    );
  });

  it('fails when drain delay plus shutdown timeout do not fit in the grace period', () => {
    expect(() => synth({ drainDelay: Duration.seconds(10), shutdownTimeout: Duration.seconds(20) })).toThrow(
      "'drainDelay' (10 s) + 'shutdownTimeout' (20 s) must be < 'terminationGracePeriod' (30 s), " +
        'or the kubelet kills requests still in flight: lower one of them or raise terminationGracePeriod.',
    );
  });

  it('fails when the grace period is not a whole number of seconds', () => {
    expect(() => synth({ terminationGracePeriod: Duration.millis(30500) })).toThrow(
      "'terminationGracePeriod' (30.5 s) must be a whole number of seconds ≥ 0.",
    );
  });

  it('fails when a request exceeds its limit, naming the prop and both amounts', () => {
    const resources = {
      cpuRequestMillicores: 500,
      cpuLimitMillicores: 2000,
      memoryRequest: Size.gibibytes(4),
      memoryLimit: Size.gibibytes(2),
    };
    expect(() => synth({ initResources: resources })).toThrow(
      "'initResources.memoryRequest' (4096Mi) must be ≤ 'initResources.memoryLimit' (2048Mi): lower the request " +
        'or raise the limit.',
    );
  });

  it('fails when a size limit is not a whole number of MiB', () => {
    expect(() => synth({ tmpVolumeSizeLimit: Size.kibibytes(1536) })).toThrow(
      "'tmpVolumeSizeLimit' (1.5Mi) must be a positive whole number of mebibytes.",
    );
  });

  it('fails when the model-fetch wait interval is under a millisecond', () => {
    expect(() => synth({ modelFetchWaitInterval: Duration.millis(0) })).toThrow(
      "'modelFetchWaitInterval' (0 ms) must be a whole number of milliseconds ≥ 1.",
    );
  });

  it('fails when a rollout could never progress', () => {
    expect(() => synth({ maxSurge: 0 })).toThrow("'maxSurge' and 'maxUnavailable' are both 0");
  });

  it('fails when the TLS port equals the Service port', () => {
    const exposure = ServiceExposure.loadBalancer({
      port: 443,
      tlsPort: 443,
      loadBalancerSourceRanges: ['0.0.0.0/0'],
    });
    expect(() => synth({ exposure })).toThrow(
      "'tlsPort' (443) must differ from the Service 'port' (443): use 443 for TLS.",
    );
  });

  it('fails when a LoadBalancer has no source ranges, naming both fixes', () => {
    expect(() => synth({ exposure: ServiceExposure.loadBalancer({ loadBalancerSourceRanges: [] }) })).toThrow(
      /^'loadBalancerSourceRanges' is empty, so the NetworkPolicy would admit none of its external traffic.*list the clients' CIDRs in 'loadBalancerSourceRanges' \(\['0\.0\.0\.0\/0'\] for a public endpoint\), or set 'type' to ClusterIP and reach the service through the ingress controller\.$/,
    );
  });

  it('fails when a source range lies within the pod CIDRs the policy cuts out', () => {
    const exposure = ServiceExposure.nodePort({ nodePortSourceRanges: ['10.244.3.0/24'] });
    expect(() => synth({ exposure, podCidrs: ['10.244.0.0/16'] })).toThrow(
      "'nodePortSourceRanges' '10.244.3.0/24' lies within 'podCidrs' '10.244.0.0/16'",
    );
  });

  it('fails when the name is not a DNS label', () => {
    expect(() => synth({ name: 'Cats_Dogs' })).toThrow("'name' 'Cats_Dogs' must be a DNS label");
  });

  it('takes a name or namespace only when the whole value is a DNS label of at most 63 characters', () => {
    for (const name of ['-cats', 'cats-', 'a'.repeat(64), 'cats dogs']) {
      expect(() => synth({ name })).toThrow(`'name' '${name}' must be a DNS label`);
    }
    expect(() => synth({ namespace: 'Prod' })).toThrow("'namespace' 'Prod' must be a DNS label");
    expect(find(synth({ name: 'a'.repeat(63) }), 'Deployment').metadata.name).toBe('a'.repeat(63));
    expect(find(synth({ name: 'c' }), 'Deployment').metadata.name).toBe('c');
  });

  it('fails when a drain delay or shutdown timeout is not whole milliseconds, and takes 0', () => {
    expect(() => synth({ drainDelay: Duration.millis(2.5) })).toThrow(
      "'drainDelay' (2.5 ms) must be a whole number of milliseconds.",
    );
    expect(() => synth({ shutdownTimeout: Duration.millis(0.5) })).toThrow(
      "'shutdownTimeout' (0.5 ms) must be a whole number of milliseconds.",
    );
    const settings = find(
      synth({ drainDelay: Duration.millis(0), shutdownTimeout: Duration.millis(0) }),
      'ConfigMap',
    ).data;
    expect([settings.DRAIN_DELAY_MS, settings.SHUTDOWN_TIMEOUT_MS]).toEqual(['0', '0']);
  });

  it('fails when the container port is not an integer port 1–65535, and takes both ends', () => {
    for (const containerPort of [0, 65536, 8000.5]) {
      expect(() => synth({ containerPort })).toThrow(
        `'containerPort' (${containerPort}) must be an integer port 1–65535.`,
      );
    }
    for (const containerPort of [1, 65535]) {
      expect(container(synth({ containerPort })).ports[0].containerPort).toBe(containerPort);
    }
  });

  it('fails when a settings key is not an UPPER_SNAKE variable name', () => {
    for (const key of ['lower_case', '1ST', 'HAS-DASH', 'X Y']) {
      expect(() => synth({ settings: { [key]: '1' } })).toThrow(
        `'settings' key '${key}' must be an UPPER_SNAKE environment variable name.`,
      );
    }
  });

  it('takes a model-fetch wait interval of one millisecond, and only whole ones', () => {
    expect(() => synth({ modelFetchWaitInterval: Duration.millis(1.5) })).toThrow(
      "'modelFetchWaitInterval' (1.5 ms) must be a whole number of milliseconds ≥ 1.",
    );
    expect(() => synth({ modelFetchWaitInterval: Duration.millis(1) })).not.toThrow();
  });

  it('lets a rollout progress with maxSurge 0 when maxUnavailable is not 0, and the reverse', () => {
    expect(() => synth({ maxSurge: 0, maxUnavailable: 1 })).not.toThrow();
    expect(() => synth({ maxSurge: 1, maxUnavailable: 0 })).not.toThrow();
    expect(() => synth({ maxSurge: 0, maxUnavailable: 0 })).toThrow(
      "'maxSurge' and 'maxUnavailable' are both 0: a rollout could never progress; raise maxSurge to 1.",
    );
  });
});

/**
 * Every prop, each with a value that differs from its default. `Required<>` makes the typecheck fail when a prop is
 * added to InferenceServiceProps without a value here.
 */
const EVERY_PROP: Required<InferenceServiceProps> = {
  image: `registry.example.com/other/model-gitops:9.9.9@sha256:${'d'.repeat(64)}`,
  modelSource: ModelSource.fromRegistry(
    PIN,
    { stage: 'Staging' },
    {
      trackingUri: 'https://mlflow.example.com:8443',
      cidr: '198.51.100.0/24',
      credentialsSecretName: 'other-mlflow-credentials',
    },
  ),
  imagePullPolicy: ImagePullPolicy.IF_NOT_PRESENT,
  name: 'other-name',
  namespace: 'other-namespace',
  scaling: Scaling.autoscaled({
    minReplicas: 4,
    maxReplicas: 8,
    cpuUtilizationPercent: 61,
    memoryUtilizationPercent: 71,
    scaleUpPercent: 150,
    scaleUpPods: 2,
    scaleUpPeriod: Duration.seconds(45),
    scaleDownStabilizationWindow: Duration.minutes(7),
    scaleDownPercent: 30,
    scaleDownPeriod: Duration.seconds(90),
    minAvailable: 3,
  }),
  exposure: ServiceExposure.loadBalancer({
    port: 8080,
    tlsPort: 8443,
    loadBalancerSourceRanges: ['0.0.0.0/0'],
    annotations: { 'example.com/lb': 'internal' },
  }),
  containerPort: 9000,
  logLevel: 'debug',
  settings: { INFERENCE_WORKERS: '3' },
  resources: {
    cpuRequestMillicores: 750,
    cpuLimitMillicores: 3000,
    memoryRequest: Size.mebibytes(768),
    memoryLimit: Size.gibibytes(3),
  },
  initResources: {
    cpuRequestMillicores: 150,
    cpuLimitMillicores: 1500,
    memoryRequest: Size.mebibytes(192),
    memoryLimit: Size.mebibytes(640),
  },
  modelVolumeSizeLimit: Size.gibibytes(3),
  tmpVolumeSizeLimit: Size.mebibytes(96),
  startupProbe: {
    initialDelaySeconds: Duration.seconds(1),
    periodSeconds: Duration.seconds(6),
    timeoutSeconds: Duration.seconds(4),
    failureThreshold: 31,
  },
  livenessProbe: {
    initialDelaySeconds: Duration.seconds(31),
    periodSeconds: Duration.seconds(11),
    timeoutSeconds: Duration.seconds(6),
    failureThreshold: 4,
  },
  readinessProbe: {
    initialDelaySeconds: Duration.seconds(11),
    periodSeconds: Duration.seconds(7),
    timeoutSeconds: Duration.seconds(2),
    failureThreshold: 3,
  },
  modelFetchWaitAttempts: 60,
  modelFetchWaitInterval: Duration.seconds(5),
  delivery: Delivery.canary({ steps: [{ setWeight: 20 }, { analysis: {} }], smoke: false }),
  maxSurge: 2,
  maxUnavailable: 1,
  terminationGracePeriod: Duration.seconds(60),
  drainDelay: Duration.seconds(12),
  shutdownTimeout: Duration.seconds(20),
  unhealthyPodEvictionPolicy: 'IfHealthyBudget',
  ingressNamespaces: ['traefik'],
  podCidrs: ['10.42.0.0/16'],
  monitoringNamespace: 'observability',
  dnsNamespace: 'dns-system',
  scrapeInterval: Duration.seconds(15),
  serviceMonitorLabels: { team: 'ml' },
  antiAffinityWeight: 50,
  zoneMaxSkew: 2,
};

/** The Deployment, or the Rollout that replaces it with canary delivery. */
const workload = (o: Json[]): Json => find(o, 'Rollout') ?? find(o, 'Deployment');
const pod = (o: Json[]): Json => workload(o).spec.template.spec;
const main = (o: Json[]): Json => pod(o).containers[0];
const init = (o: Json[]): Json => pod(o).initContainers[0];
const data = (o: Json[]): Json => find(o, 'ConfigMap').data;
const policy = (o: Json[]): Json => find(o, 'NetworkPolicy').spec;
const strategy = (o: Json[]): Json =>
  find(o, 'Rollout') ? workload(o).spec.strategy.canary : workload(o).spec.strategy.rollingUpdate;
const resources = (cpuRequest: string, memoryRequest: string, cpuLimit: string, memoryLimit: string) => ({
  requests: { cpu: cpuRequest, memory: memoryRequest },
  limits: { cpu: cpuLimit, memory: memoryLimit },
});

/**
 * Where each prop lands in the output. `Record<keyof …>` makes the typecheck fail when a prop has no check; each check
 * is also run against the defaults, where it must fail, so no check passes whatever the construct does.
 */
const LANDS: Record<keyof InferenceServiceProps, PropCheck> = {
  image: (o) => expect([main(o).image, init(o).image]).toEqual([EVERY_PROP.image, EVERY_PROP.image]),
  modelSource: (o) => {
    expect(data(o)).toMatchObject({
      MODEL_STAGE: 'Staging',
      MLFLOW_TRACKING_URI: 'https://mlflow.example.com:8443',
    });
    expect(policy(o).egress[1]).toEqual({
      to: [{ ipBlock: { cidr: '198.51.100.0/24' } }],
      ports: [{ port: 8443, protocol: 'TCP' }],
    });
    expect(init(o).env).toContainEqual({
      name: 'MLFLOW_TRACKING_TOKEN',
      valueFrom: {
        secretKeyRef: { name: 'other-mlflow-credentials', key: 'MLFLOW_TRACKING_TOKEN', optional: true },
      },
    });
  },
  imagePullPolicy: (o) =>
    expect([main(o).imagePullPolicy, init(o).imagePullPolicy]).toEqual(['IfNotPresent', 'IfNotPresent']),
  name: (o) => {
    for (const kind of [
      'ConfigMap',
      'Service',
      'NetworkPolicy',
      'ServiceMonitor',
      'HorizontalPodAutoscaler',
    ]) {
      expect(find(o, kind).metadata.name).toBe('other-name');
    }
    expect(workload(o).spec.selector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'other-name' } });
  },
  namespace: (o) => {
    expect(find(o, 'Namespace').metadata.name).toBe('other-namespace');
    for (const obj of o.filter((x) => x.kind !== 'Namespace'))
      expect(obj.metadata.namespace).toBe('other-namespace');
  },
  scaling: (o) => {
    expect(find(o, 'HorizontalPodAutoscaler').spec).toMatchObject({
      minReplicas: 4,
      maxReplicas: 8,
      metrics: [
        { resource: { name: 'cpu', target: { averageUtilization: 61 } } },
        { resource: { name: 'memory', target: { averageUtilization: 71 } } },
      ],
      behavior: {
        scaleUp: {
          policies: [
            { type: 'Percent', value: 150, periodSeconds: 45 },
            { type: 'Pods', value: 2, periodSeconds: 45 },
          ],
        },
        scaleDown: {
          stabilizationWindowSeconds: 420,
          policies: [{ type: 'Percent', value: 30, periodSeconds: 90 }],
        },
      },
    });
    expect(find(o, 'PodDisruptionBudget').spec.minAvailable).toBe(3);
  },
  exposure: (o) => {
    const svc = find(o, 'Service');
    expect(svc.metadata.annotations).toEqual({ 'example.com/lb': 'internal' });
    expect(svc.spec).toMatchObject({ type: 'LoadBalancer', loadBalancerSourceRanges: ['0.0.0.0/0'] });
    expect(svc.spec.ports.map((p: Json) => [p.name, p.port])).toEqual([
      ['http', 8080],
      ['https', 8443],
    ]);
  },
  containerPort: (o) => {
    expect(main(o).ports).toEqual([{ name: 'http', containerPort: 9000 }]);
    expect(data(o).PORT).toBe('9000');
    expect(find(o, 'Service').spec.ports[0].targetPort).toBe(9000);
    expect(policy(o).ingress[0].ports).toEqual([{ port: 9000, protocol: 'TCP' }]);
  },
  logLevel: (o) => expect(data(o).LOG_LEVEL).toBe('debug'),
  settings: (o) => expect(data(o).INFERENCE_WORKERS).toBe('3'),
  resources: (o) => expect(main(o).resources).toEqual(resources('750m', '768Mi', '3', '3072Mi')),
  initResources: (o) => expect(init(o).resources).toEqual(resources('150m', '192Mi', '1500m', '640Mi')),
  modelVolumeSizeLimit: (o) =>
    expect(pod(o).volumes).toContainEqual({ name: 'model', emptyDir: { sizeLimit: '3072Mi' } }),
  tmpVolumeSizeLimit: (o) =>
    expect(pod(o).volumes).toContainEqual({ name: 'tmp', emptyDir: { sizeLimit: '96Mi' } }),
  startupProbe: (o) =>
    expect(main(o).startupProbe).toEqual(renderedProbe('/health', 9000, EVERY_PROP.startupProbe)),
  livenessProbe: (o) =>
    expect(main(o).livenessProbe).toEqual(renderedProbe('/health', 9000, EVERY_PROP.livenessProbe)),
  readinessProbe: (o) =>
    expect(main(o).readinessProbe).toEqual(renderedProbe('/ready', 9000, EVERY_PROP.readinessProbe)),
  modelFetchWaitAttempts: (o) => expect(init(o).args.join(' ')).toContain('--wait-attempts 60 '),
  modelFetchWaitInterval: (o) => expect(init(o).args.join(' ')).toMatch(/--wait-interval-ms 5000$/),
  delivery: (o) => {
    expect(find(o, 'Deployment')).toBeUndefined();
    expect(workload(o).spec.strategy.canary.steps[0]).toEqual({ setWeight: 20 });
    expect(find(o, 'AnalysisTemplate')).toBeDefined();
  },
  maxSurge: (o) => expect(strategy(o).maxSurge).toBe(2),
  maxUnavailable: (o) => expect(strategy(o).maxUnavailable).toBe(1),
  terminationGracePeriod: (o) => expect(pod(o).terminationGracePeriodSeconds).toBe(60),
  drainDelay: (o) => expect(data(o).DRAIN_DELAY_MS).toBe('12000'),
  shutdownTimeout: (o) => expect(data(o).SHUTDOWN_TIMEOUT_MS).toBe('20000'),
  unhealthyPodEvictionPolicy: (o) =>
    expect(find(o, 'PodDisruptionBudget').spec.unhealthyPodEvictionPolicy).toBe('IfHealthyBudget'),
  ingressNamespaces: (o) =>
    expect(policy(o).ingress[1].from.map((p: Json) => p.namespaceSelector.matchLabels)).toContainEqual({
      'kubernetes.io/metadata.name': 'traefik',
    }),
  podCidrs: (o) =>
    expect(policy(o).ingress[2].from).toEqual([{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.42.0.0/16'] } }]),
  monitoringNamespace: (o) =>
    expect(policy(o).ingress[1].from.map((p: Json) => p.namespaceSelector.matchLabels)).toContainEqual({
      'kubernetes.io/metadata.name': 'observability',
    }),
  dnsNamespace: (o) =>
    expect(policy(o).egress[0].to[0].namespaceSelector.matchLabels).toEqual({
      'kubernetes.io/metadata.name': 'dns-system',
    }),
  scrapeInterval: (o) => expect(find(o, 'ServiceMonitor').spec.endpoints[0].interval).toBe('15s'),
  serviceMonitorLabels: (o) => {
    expect(find(o, 'ServiceMonitor').metadata.labels.team).toBe('ml');
    expect(find(o, 'ServiceMonitor').metadata.labels.release).toBeUndefined();
  },
  antiAffinityWeight: (o) =>
    expect(pod(o).affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight).toBe(
      50,
    ),
  zoneMaxSkew: (o) => expect(pod(o).topologySpreadConstraints[0].maxSkew).toBe(2),
};

describeEveryProp('InferenceService', EVERY_PROP, LANDS, synth);
