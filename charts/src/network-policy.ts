import { ApiObjectMetadata } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import type { IpBlock } from './service-exposure';

/** A NetworkPolicy peer: every pod of some namespaces, or an IPv4 block. */
export type PolicyPeer = { readonly namespaces: readonly string[] } | { readonly ipBlock: IpBlock };

/** One egress rule: a peer and the TCP port it is reached on. */
export interface EgressRule {
  readonly to: PolicyPeer;
  readonly tcpPort: number;
}

/** Props of {@link workloadNetworkPolicy}. */
export interface WorkloadNetworkPolicyProps {
  /** Name, namespace and labels of the policy. */
  readonly metadata: ApiObjectMetadata;
  /** The pods it isolates. */
  readonly pods: kplus.Pods;
  /** The only port admitted in (TCP). */
  readonly port: number;
  /** Admit every pod of the workload's own namespace. */
  readonly fromOwnNamespace: boolean;
  /** Namespaces whose pods are admitted on `port` (the ingress controller, Prometheus), as one rule. */
  readonly fromNamespaces: readonly string[];
  /** IPv4 blocks admitted on `port`, one rule each. */
  readonly fromIpBlocks: readonly IpBlock[];
  /** Namespace of the cluster DNS, always reachable on UDP and TCP 53. */
  readonly dnsNamespace: string;
  /** Further egress, after DNS. */
  readonly egress: readonly EgressRule[];
}

/**
 * The NetworkPolicy every workload here gets: default deny both ways; `port` admitted from the workload's namespace
 * (optionally), from the named namespaces and from IP blocks; egress to the cluster DNS and the listed peers only.
 * Its peers are children of the policy, so one scope can hold several policies.
 */
export function workloadNetworkPolicy(
  scope: Construct,
  props: WorkloadNetworkPolicyProps,
): kplus.NetworkPolicy {
  const policy = new kplus.NetworkPolicy(scope, 'NetworkPolicy', {
    metadata: props.metadata,
    selector: props.pods,
    ingress: { default: kplus.NetworkPolicyTrafficDefault.DENY },
    egress: { default: kplus.NetworkPolicyTrafficDefault.DENY },
  });
  const port = [kplus.NetworkPolicyPort.tcp(props.port)];
  if (props.fromOwnNamespace) policy.addIngressRule(kplus.Pods.all(policy, 'SameNamespacePods'), port);
  if (props.fromNamespaces.length > 0) {
    policy.addIngressRule(peer(policy, 'From', { namespaces: props.fromNamespaces }), port);
  }
  props.fromIpBlocks.forEach((ipBlock, i) =>
    policy.addIngressRule(peer(policy, `From${i}`, { ipBlock }), port),
  );
  policy.addEgressRule(
    kplus.Pods.select(policy, 'DnsPods', {
      labels: { 'k8s-app': 'kube-dns' },
      namespaces: kplus.Namespaces.select(policy, 'DnsNamespace', { names: [props.dnsNamespace] }),
    }),
    [kplus.NetworkPolicyPort.udp(53), kplus.NetworkPolicyPort.tcp(53)],
  );
  props.egress.forEach((rule, i) =>
    policy.addEgressRule(peer(policy, `To${i}`, rule.to), [kplus.NetworkPolicyPort.tcp(rule.tcpPort)]),
  );
  return policy;
}

function peer(scope: Construct, id: string, p: PolicyPeer): kplus.INetworkPolicyPeer {
  if ('ipBlock' in p) {
    const except = p.ipBlock.except && [...p.ipBlock.except];
    return kplus.NetworkPolicyIpBlock.ipv4(scope, id, p.ipBlock.cidr, except);
  }
  return kplus.Pods.all(scope, id, {
    namespaces: kplus.Namespaces.select(scope, `${id}Namespaces`, { names: [...p.namespaces] }),
  });
}
