/**
 * Which external traffic a Service's NetworkPolicy admits: the rules the `ServiceExposure` construct and the
 * environment config schema both apply. No cdk8s here, so the config schema loads without the constructs.
 */
import { cidrContains, Ipv4Cidr, parseIpv4Cidr } from '../cidr';

/**
 * `spec.externalTrafficPolicy` of a Service reached from outside the cluster.
 *
 * - `Local`: a node forwards external traffic only to ready pods on itself and keeps the client's source address, so a
 *   NetworkPolicy `ipBlock` of the clients' ranges means what it says. The price: the load balancer spreads traffic
 *   per node, not per pod (a node with one pod gets as much as a node with three), and nodes without a ready pod fail
 *   its health check and get none.
 * - `Cluster`: any node forwards to any pod, evenly, but replaces the client's address with the node's (SNAT), so the
 *   NetworkPolicy cannot tell clients apart and must admit the nodes' addresses (`nodeCidrs`); only the load
 *   balancer's `loadBalancerSourceRanges` then filters clients.
 */
export type ExternalTrafficPolicy = 'Local' | 'Cluster';

/** The fields {@link externalTrafficProblems} checks: a `ServiceExposure`, or the `service` section of a config. */
export interface ExternalTrafficFields {
  /** `LoadBalancer`, `NodePort` or `ClusterIP` (absent: ClusterIP, the constructs' default). */
  readonly type?: string;
  readonly loadBalancerSourceRanges?: readonly string[];
  readonly nodePortSourceRanges?: readonly string[];
  readonly externalTrafficPolicy?: ExternalTrafficPolicy;
  readonly nodeCidrs?: readonly string[];
}

/** A field of {@link ExternalTrafficFields}, or one of the NetworkPolicy fields the rules mention. */
export type ExternalTrafficField = keyof ExternalTrafficFields | 'podCidrs' | 'ingressNamespaces';

/** One broken rule: the field at fault and the message that follows its name. */
export interface ExternalTrafficProblem {
  readonly field: ExternalTrafficField;
  readonly message: string;
}

/**
 * The rules that make a Service's external traffic reach its pods through their NetworkPolicy. External clients of a
 * LoadBalancer or NodePort Service arrive from their own addresses (`Local`) or a node's (`Cluster`), never from a pod
 * in an admitted namespace, so the policy must admit them by `ipBlock`; an exposure whose policy would admit none of
 * its external traffic is refused. `name` renders a field as the caller's user knows it (a construct prop, or the
 * config path).
 */
export function externalTrafficProblems(
  s: ExternalTrafficFields,
  podCidrs: readonly string[],
  name: (field: ExternalTrafficField) => string,
): ExternalTrafficProblem[] {
  const problems: ExternalTrafficProblem[] = [];
  const add = (field: ExternalTrafficField, message: string) => problems.push({ field, message });
  const external = s.type === 'LoadBalancer' || s.type === 'NodePort';
  const policy = s.externalTrafficPolicy ?? 'Local';
  const noneAdmitted =
    'so the NetworkPolicy would admit none of its external traffic: external clients reach the pods from their own ' +
    `or a node's address, never from a pod in ${name('ingressNamespaces')}`;
  const clusterIpFix = `or set ${name('type')} to ClusterIP and reach the service through the ingress controller`;

  if (!external) {
    for (const field of [
      'loadBalancerSourceRanges',
      'nodePortSourceRanges',
      'externalTrafficPolicy',
      'nodeCidrs',
    ] as const) {
      if (s[field] !== undefined) add(field, `needs ${name('type')} LoadBalancer or NodePort`);
    }
    return problems;
  }
  if (s.type === 'NodePort' && s.loadBalancerSourceRanges !== undefined) {
    add('loadBalancerSourceRanges', `needs ${name('type')} LoadBalancer (a NodePort has no load balancer)`);
  }
  if (s.type === 'LoadBalancer' && s.nodePortSourceRanges !== undefined) {
    add(
      'nodePortSourceRanges',
      `needs ${name('type')} NodePort; a LoadBalancer uses loadBalancerSourceRanges`,
    );
  }
  if (s.type === 'LoadBalancer' && !s.loadBalancerSourceRanges?.length) {
    add(
      'loadBalancerSourceRanges',
      `is empty, ${noneAdmitted}. Fix: list the clients' CIDRs in ${name('loadBalancerSourceRanges')} ` +
        `(['0.0.0.0/0'] for a public endpoint), ${clusterIpFix}`,
    );
  }
  if (s.type === 'NodePort' && policy === 'Local' && !s.nodePortSourceRanges?.length) {
    add(
      'nodePortSourceRanges',
      `is empty, ${noneAdmitted}. Fix: list the clients' CIDRs in ${name('nodePortSourceRanges')}, ${clusterIpFix}`,
    );
  }
  if (s.type === 'NodePort' && policy === 'Cluster' && s.nodePortSourceRanges !== undefined) {
    add(
      'nodePortSourceRanges',
      `cannot be enforced with ${name('externalTrafficPolicy')} Cluster (clients arrive with a node's address): ` +
        `remove it, or use externalTrafficPolicy Local`,
    );
  }
  if (policy === 'Cluster' && !s.nodeCidrs?.length) {
    add(
      'nodeCidrs',
      `is empty, ${noneAdmitted} (with ${name('externalTrafficPolicy')} Cluster they arrive with a node's address). ` +
        `Fix: list the nodes' CIDRs in ${name('nodeCidrs')}, or use externalTrafficPolicy Local with source ranges, ` +
        clusterIpFix,
    );
  }
  if (policy === 'Local' && s.nodeCidrs !== undefined) {
    add('nodeCidrs', `needs ${name('externalTrafficPolicy')} Cluster: remove it`);
  }
  if (problems.length > 0) return problems;

  const pods = parseAll(podCidrs, 'podCidrs', name, add);
  for (const field of ['loadBalancerSourceRanges', 'nodePortSourceRanges', 'nodeCidrs'] as const) {
    for (const range of parseAll(s[field] ?? [], field, name, add)) {
      const within = pods.find((p) => cidrContains(p, range));
      if (within) {
        add(
          field,
          `'${range.text}' lies within ${name('podCidrs')} '${within.text}', which the NetworkPolicy cuts out, ` +
            `${noneAdmitted}. Fix: correct the range or ${name('podCidrs')}`,
        );
      }
    }
  }
  return problems;
}

function parseAll(
  texts: readonly string[],
  field: ExternalTrafficField,
  name: (field: ExternalTrafficField) => string,
  add: (field: ExternalTrafficField, message: string) => void,
): Ipv4Cidr[] {
  return texts.flatMap((text) => {
    try {
      return [parseIpv4Cidr(text, name(field))];
    } catch (err) {
      // The parser's message without the field name (the caller prefixes it) and final period.
      add(field, (err as Error).message.replace(`${name(field)} `, '').replace(/\.$/, ''));
      return [];
    }
  });
}
