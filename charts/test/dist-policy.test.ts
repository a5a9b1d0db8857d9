import { ENVIRONMENTS } from '../src/config/model-pin';
import { DistFile, Json, readGenerated, workloadsOf } from './support/dist';

// The checks a production reviewer runs with kube-linter / Polaris / kube-score and the Pod Security Standard
// "restricted" profile, one test per rule, over the committed dist/. Each rule is also shown to catch a violation.

type Rule = { name: string; check: (files: readonly DistFile[]) => string[] };

// Deployments, and the Rollout of an environment with `delivery: canary` (the same pod template).
const workloads = (files: readonly DistFile[]) => workloadsOf(files);
const podSpec = (f: DistFile): Json => (f.obj as Json).spec.template.spec;
const containers = (f: DistFile): Json[] => [...(podSpec(f).initContainers ?? []), ...podSpec(f).containers];
const forEachContainer = (files: readonly DistFile[], fn: (c: Json, f: DistFile) => string | undefined) =>
  workloads(files).flatMap((f) =>
    containers(f)
      .map((c) => fn(c, f))
      .filter((m): m is string => m !== undefined),
  );
const matches = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  selector !== undefined && Object.entries(selector).every(([k, v]) => labels[k] === v);
const hpaTargets = (files: readonly DistFile[]) =>
  new Set(
    files
      .filter((f) => f.obj.kind === 'HorizontalPodAutoscaler')
      .map((f) => (f.obj as Json).spec.scaleTargetRef.name),
  );

const RULES: Rule[] = [
  {
    name: 'images carry a version tag or a sha256 digest, never latest',
    check: (files) =>
      forEachContainer(files, (c, f) =>
        /@sha256:[0-9a-f]{64}$/.test(c.image) ||
        (/:[\w][\w.-]*$/.test(c.image.split('/').pop()) && !/:latest$/.test(c.image))
          ? undefined
          : `${f.file}: container ${c.name} image ${c.image}`,
      ),
  },
  {
    name: 'images are pulled Always, or the workload records kube-score exemption and reason',
    check: (files) =>
      forEachContainer(files, (c, f) => {
        const a = (f.obj.metadata.annotations ?? {}) as Record<string, string>;
        const exempt =
          (a['kube-score/ignore'] ?? '').split(',').includes('container-image-pull-policy') &&
          /imagePullPolicy/.test(a['model-gitops/exemption-reason'] ?? '');
        return c.imagePullPolicy === 'Always' || exempt ? undefined : `${f.file}: container ${c.name}`;
      }),
  },
  {
    name: 'every container sets CPU and memory requests and limits',
    check: (files) =>
      forEachContainer(files, (c, f) => {
        const r = c.resources ?? {};
        return r.requests?.cpu && r.requests?.memory && r.limits?.cpu && r.limits?.memory
          ? undefined
          : `${f.file}: container ${c.name} resources ${JSON.stringify(r)}`;
      }),
  },
  {
    name: 'every long-running container has liveness and readiness probes that differ',
    check: (files) =>
      workloads(files).flatMap((f) =>
        podSpec(f)
          .containers.filter(
            (c: Json) =>
              !c.livenessProbe ||
              !c.readinessProbe ||
              JSON.stringify(c.livenessProbe) === JSON.stringify(c.readinessProbe),
          )
          .map((c: Json) => `${f.file}: container ${c.name}`),
      ),
  },
  {
    name: 'pods and containers run as non-root with a uid above 10000',
    check: (files) =>
      forEachContainer(files, (c, f) => {
        const pod = podSpec(f).securityContext ?? {};
        const ctx = c.securityContext ?? {};
        const nonRoot = (ctx.runAsNonRoot ?? pod.runAsNonRoot) === true;
        const uid = ctx.runAsUser ?? pod.runAsUser;
        return nonRoot && uid > 10000 ? undefined : `${f.file}: container ${c.name} runAsNonRoot/runAsUser`;
      }),
  },
  {
    name: 'every container has a read-only root filesystem',
    check: (files) =>
      forEachContainer(files, (c, f) =>
        c.securityContext?.readOnlyRootFilesystem === true ? undefined : `${f.file}: container ${c.name}`,
      ),
  },
  {
    name: 'no container allows privilege escalation or runs privileged',
    check: (files) =>
      forEachContainer(files, (c, f) =>
        c.securityContext?.allowPrivilegeEscalation === false && c.securityContext?.privileged !== true
          ? undefined
          : `${f.file}: container ${c.name}`,
      ),
  },
  {
    name: 'every container drops ALL capabilities and adds none',
    check: (files) =>
      forEachContainer(files, (c, f) =>
        (c.securityContext?.capabilities?.drop ?? []).includes('ALL') && !c.securityContext?.capabilities?.add
          ? undefined
          : `${f.file}: container ${c.name}`,
      ),
  },
  {
    name: 'every container uses the RuntimeDefault seccomp profile',
    check: (files) =>
      forEachContainer(files, (c, f) => {
        const type =
          c.securityContext?.seccompProfile?.type ?? podSpec(f).securityContext?.seccompProfile?.type;
        return type === 'RuntimeDefault' ? undefined : `${f.file}: container ${c.name}`;
      }),
  },
  {
    name: 'no host namespaces, host ports or hostPath volumes; only restricted volume types',
    check: (files) =>
      workloads(files).flatMap((f) => {
        const spec = podSpec(f);
        const bad: string[] = [];
        if (spec.hostNetwork || spec.hostPID || spec.hostIPC) bad.push(`${f.file}: host namespace`);
        for (const c of containers(f)) {
          if ((c.ports ?? []).some((p: Json) => p.hostPort)) bad.push(`${f.file}: ${c.name} hostPort`);
        }
        const allowed = [
          'configMap',
          'emptyDir',
          'secret',
          'projected',
          'downwardAPI',
          'persistentVolumeClaim',
          'csi',
        ];
        for (const v of spec.volumes ?? []) {
          const type = Object.keys(v).find((k) => k !== 'name');
          if (!type || !allowed.includes(type)) bad.push(`${f.file}: volume ${v.name} is ${type}`);
        }
        return bad;
      }),
  },
  {
    name: 'pods do not mount a service account token',
    check: (files) =>
      workloads(files)
        .filter((f) => podSpec(f).automountServiceAccountToken !== false)
        .map((f) => f.file),
  },
  {
    name: 'workloads scaled by an HPA carry preferred pod anti-affinity on the hostname and a zone spread',
    check: (files) => {
      const scaled = hpaTargets(files);
      return workloads(files)
        .filter((f) => scaled.has(f.obj.metadata.name))
        .filter((f) => {
          const terms =
            podSpec(f).affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
          const spread = podSpec(f).topologySpreadConstraints ?? [];
          return (
            !terms.some((t: Json) => t.podAffinityTerm.topologyKey === 'kubernetes.io/hostname') ||
            !spread.some((s: Json) => s.topologyKey === 'topology.kubernetes.io/zone')
          );
        })
        .map((f) => f.file);
    },
  },
  {
    name: 'workloads scaled by an HPA have a PodDisruptionBudget selecting their pods',
    check: (files) => {
      const scaled = hpaTargets(files);
      const pdbs = files.filter((f) => f.obj.kind === 'PodDisruptionBudget');
      return workloads(files)
        .filter((f) => scaled.has(f.obj.metadata.name))
        .filter(
          (f) =>
            !pdbs.some((p) =>
              matches(
                (p.obj as Json).spec.selector.matchLabels,
                (f.obj as Json).spec.template.metadata.labels,
              ),
            ),
        )
        .map((f) => f.file);
    },
  },
  {
    name: 'workloads scaled by an HPA leave spec.replicas out and record the Polaris exemption with its reason',
    check: (files) => {
      const scaled = hpaTargets(files);
      return workloads(files)
        .filter((f) => scaled.has(f.obj.metadata.name))
        .filter((f) => {
          const annotations = (f.obj.metadata.annotations ?? {}) as Record<string, string>;
          return (
            (f.obj as Json).spec.replicas !== undefined ||
            annotations['polaris.fairwinds.com/deploymentMissingReplicas-exempt'] !== 'true' ||
            !annotations['model-gitops/exemption-reason']
          );
        })
        .map((f) => f.file);
    },
  },
  {
    name: 'every workload is selected by a NetworkPolicy that denies ingress and egress by default',
    check: (files) => {
      const policies = files.filter((f) => f.obj.kind === 'NetworkPolicy');
      return workloads(files)
        .filter(
          (w) =>
            !policies.some((p) => {
              const spec = (p.obj as Json).spec;
              return (
                matches(spec.podSelector.matchLabels, (w.obj as Json).spec.template.metadata.labels) &&
                spec.policyTypes.includes('Ingress') &&
                spec.policyTypes.includes('Egress')
              );
            }),
        )
        .map((f) => f.file);
    },
  },
  {
    name:
      'NetworkPolicies admit only named peers: no empty rule, no any-namespace selector, and addresses only on the ' +
      "target port of a LoadBalancer/NodePort Service of those pods (0.0.0.0/0 only where that Service's " +
      'loadBalancerSourceRanges states it too)',
    check: (files) =>
      files
        .filter((f) => f.obj.kind === 'NetworkPolicy')
        .flatMap((f) => {
          const spec = (f.obj as Json).spec;
          const external = files
            .map((s) => s.obj as Json)
            .filter(
              (s) =>
                s.kind === 'Service' &&
                ['LoadBalancer', 'NodePort'].includes(s.spec.type) &&
                matches(s.spec.selector, spec.podSelector.matchLabels ?? {}),
            );
          const bad: string[] = [];
          for (const rule of spec.ingress ?? []) {
            if (!rule.from?.length || !rule.ports?.length)
              bad.push(`${f.file}: ingress rule without peers or ports`);
            for (const peer of rule.from ?? []) {
              if (peer.namespaceSelector && !peer.namespaceSelector.matchLabels)
                bad.push(`${f.file}: any namespace`);
              if (!peer.ipBlock) continue;
              const targeted = (rule.ports ?? []).every((p: Json) =>
                external.some((s) => s.spec.ports.some((sp: Json) => sp.targetPort === p.port)),
              );
              if (!targeted)
                bad.push(`${f.file}: ipBlock ${peer.ipBlock.cidr} where no external Service leads`);
              const stated = external.some((s) =>
                (s.spec.loadBalancerSourceRanges ?? []).includes('0.0.0.0/0'),
              );
              if (peer.ipBlock.cidr === '0.0.0.0/0' && !stated) bad.push(`${f.file}: ingress from anywhere`);
            }
          }
          for (const rule of spec.egress ?? []) {
            if (!rule.to?.length || !rule.ports?.length)
              bad.push(`${f.file}: egress rule without peers or ports`);
          }
          return bad;
        }),
  },
];

// A workload that breaks every rule, to show each rule can fail.
const BAD: DistFile[] = [
  {
    file: 'bad/Deployment.bad.yaml',
    obj: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'bad', namespace: 'x' },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'bad' } },
        template: {
          metadata: { labels: { app: 'bad' } },
          spec: {
            hostNetwork: true,
            containers: [
              {
                name: 'c',
                image: 'ghcr.io/example/model-gitops:latest',
                imagePullPolicy: 'IfNotPresent',
                ports: [{ containerPort: 80, hostPort: 80 }],
                securityContext: { runAsUser: 0, privileged: true, capabilities: { add: ['NET_ADMIN'] } },
              },
            ],
            volumes: [{ name: 'h', hostPath: { path: '/' } }],
          },
        },
      },
    },
  },
  {
    file: 'bad/HorizontalPodAutoscaler.bad.yaml',
    obj: {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'bad', namespace: 'x' },
      spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'bad' }, maxReplicas: 3 },
    },
  },
  {
    file: 'bad/NetworkPolicy.open.yaml',
    obj: {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'open', namespace: 'x' },
      spec: {
        podSelector: { matchLabels: { app: 'other' } },
        policyTypes: ['Ingress'],
        ingress: [{}, { from: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ port: 8000 }] }],
        egress: [{}],
      },
    },
  },
];

describe.each(ENVIRONMENTS)('policy over dist/%s', (env) => {
  const files = readGenerated(`dist/${env}`);

  it('has workloads to check', () => {
    expect(workloads(files).length).toBeGreaterThan(0);
  });

  it.each(RULES.map((r) => [r.name, r] as const))('%s', (_name, rule) => {
    expect(rule.check(files)).toEqual([]);
    expect(rule.check(BAD)).not.toEqual([]);
  });
});

describe('the named-peers rule on addresses', () => {
  const rule = RULES.find((r) => r.name.startsWith('NetworkPolicies admit only named peers'))!;
  const production = readGenerated('dist/production');
  const withService = (edit: (spec: Json) => void): DistFile[] =>
    production.map((f) => {
      if (f.obj.kind !== 'Service' || f.obj.metadata.name !== 'cats-dogs-classifier') return f;
      const obj = structuredClone(f.obj) as Json;
      edit(obj.spec);
      return { file: f.file, obj };
    });

  it('fails when the LoadBalancer Service does not state the 0.0.0.0/0 its policy admits', () => {
    expect(rule.check(withService((spec) => (spec.loadBalancerSourceRanges = ['203.0.113.0/24'])))).toEqual([
      'dist/production/NetworkPolicy.cats-dogs-classifier.yaml: ingress from anywhere',
    ]);
  });

  it('fails when no LoadBalancer or NodePort Service leads to the admitted addresses', () => {
    expect(rule.check(withService((spec) => (spec.type = 'ClusterIP')))).toEqual([
      'dist/production/NetworkPolicy.cats-dogs-classifier.yaml: ipBlock 0.0.0.0/0 where no external Service leads',
      'dist/production/NetworkPolicy.cats-dogs-classifier.yaml: ingress from anywhere',
    ]);
  });
});
