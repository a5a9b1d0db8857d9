import {
  ExternalTrafficFields,
  ExternalTrafficProblem,
  externalTrafficProblems,
} from '../../src/config/external-traffic';

/** The problems of `s`, fields rendered as `'field'`. */
const problems = (s: ExternalTrafficFields, podCidrs: string[] = []): ExternalTrafficProblem[] =>
  externalTrafficProblems(s, podCidrs, (f) => `'${f}'`);

const NONE_ADMITTED =
  "so the NetworkPolicy would admit none of its external traffic: external clients reach the pods from their own or a node's address, never from a pod in 'ingressNamespaces'";
const CLUSTER_IP_FIX = "or set 'type' to ClusterIP and reach the service through the ingress controller";

describe('externalTrafficProblems', () => {
  it.each<[string, ExternalTrafficFields, string[]]>([
    ['a ClusterIP Service with no external fields', {}, []],
    [
      'a LoadBalancer with its clients',
      { type: 'LoadBalancer', loadBalancerSourceRanges: ['0.0.0.0/0'] },
      [],
    ],
    ['a NodePort with its clients', { type: 'NodePort', nodePortSourceRanges: ['192.168.0.0/16'] }, []],
    [
      'a LoadBalancer with Cluster and the node CIDRs',
      {
        type: 'LoadBalancer',
        externalTrafficPolicy: 'Cluster',
        loadBalancerSourceRanges: ['203.0.113.0/24'],
        nodeCidrs: ['10.0.0.0/16'],
      },
      ['10.244.0.0/16'],
    ],
    [
      'a NodePort with Cluster and the node CIDRs',
      { type: 'NodePort', externalTrafficPolicy: 'Cluster', nodeCidrs: ['10.0.0.0/16'] },
      ['10.244.0.0/16'],
    ],
  ])('finds nothing wrong with %s', (_, s, podCidrs) => {
    expect(problems(s, podCidrs)).toEqual([]);
  });

  it.each<[string, ExternalTrafficFields, string[], ExternalTrafficProblem[]]>([
    [
      'a NodePort without source ranges (Local by default)',
      { type: 'NodePort' },
      [],
      [
        {
          field: 'nodePortSourceRanges',
          message: `is empty, ${NONE_ADMITTED}. Fix: list the clients' CIDRs in 'nodePortSourceRanges', ${CLUSTER_IP_FIX}`,
        },
      ],
    ],
    [
      'a NodePort with load balancer source ranges',
      { type: 'NodePort', nodePortSourceRanges: ['192.168.0.0/16'], loadBalancerSourceRanges: ['0.0.0.0/0'] },
      [],
      [
        {
          field: 'loadBalancerSourceRanges',
          message: "needs 'type' LoadBalancer (a NodePort has no load balancer)",
        },
      ],
    ],
    [
      'a LoadBalancer with NodePort source ranges',
      { type: 'LoadBalancer', loadBalancerSourceRanges: ['0.0.0.0/0'], nodePortSourceRanges: ['0.0.0.0/0'] },
      [],
      [
        {
          field: 'nodePortSourceRanges',
          message: "needs 'type' NodePort; a LoadBalancer uses loadBalancerSourceRanges",
        },
      ],
    ],
    [
      'a LoadBalancer with Cluster and NodePort source ranges (only the type is wrong)',
      {
        type: 'LoadBalancer',
        externalTrafficPolicy: 'Cluster',
        loadBalancerSourceRanges: ['0.0.0.0/0'],
        nodePortSourceRanges: ['0.0.0.0/0'],
        nodeCidrs: ['10.0.0.0/16'],
      },
      [],
      [
        {
          field: 'nodePortSourceRanges',
          message: "needs 'type' NodePort; a LoadBalancer uses loadBalancerSourceRanges",
        },
      ],
    ],
    [
      'a NodePort with Cluster and source ranges it cannot enforce',
      {
        type: 'NodePort',
        externalTrafficPolicy: 'Cluster',
        nodePortSourceRanges: ['192.168.0.0/16'],
        nodeCidrs: ['10.0.0.0/16'],
      },
      [],
      [
        {
          field: 'nodePortSourceRanges',
          message:
            "cannot be enforced with 'externalTrafficPolicy' Cluster (clients arrive with a node's address): " +
            'remove it, or use externalTrafficPolicy Local',
        },
      ],
    ],
    [
      'Cluster without the node CIDRs',
      { type: 'LoadBalancer', externalTrafficPolicy: 'Cluster', loadBalancerSourceRanges: ['0.0.0.0/0'] },
      [],
      [
        {
          field: 'nodeCidrs',
          message:
            `is empty, ${NONE_ADMITTED} (with 'externalTrafficPolicy' Cluster they arrive with a node's address). ` +
            "Fix: list the nodes' CIDRs in 'nodeCidrs', or use externalTrafficPolicy Local with source ranges, " +
            CLUSTER_IP_FIX,
        },
      ],
    ],
    [
      'node CIDRs with Local, and no range check while a rule is broken',
      { type: 'LoadBalancer', loadBalancerSourceRanges: ['0.0.0.0/0'], nodeCidrs: ['10.244.0.0/24'] },
      ['10.244.0.0/16'],
      [{ field: 'nodeCidrs', message: "needs 'externalTrafficPolicy' Cluster: remove it" }],
    ],
    [
      'a source range within the pod CIDRs',
      { type: 'LoadBalancer', loadBalancerSourceRanges: ['10.244.1.0/24'] },
      ['10.0.0.0/8', '10.244.0.0/16'],
      [
        {
          field: 'loadBalancerSourceRanges',
          message:
            "'10.244.1.0/24' lies within 'podCidrs' '10.0.0.0/8', which the NetworkPolicy cuts out, " +
            `${NONE_ADMITTED}. Fix: correct the range or 'podCidrs'`,
        },
      ],
    ],
    [
      'malformed CIDRs, each named without its final period',
      { type: 'LoadBalancer', loadBalancerSourceRanges: ['0.0.0.0', '203.0.113.1/24'] },
      ['10.244.0'],
      [
        { field: 'podCidrs', message: "'10.244.0' is not an IPv4 CIDR: write e.g. 203.0.113.0/24" },
        {
          field: 'loadBalancerSourceRanges',
          message: "'0.0.0.0' is not an IPv4 CIDR: write e.g. 203.0.113.0/24",
        },
        {
          field: 'loadBalancerSourceRanges',
          message: "'203.0.113.1/24' has bits set below its /24 prefix: write 203.0.113.0/24",
        },
      ],
    ],
  ])('fails on %s', (_, s, podCidrs, expected) => {
    expect(problems(s, podCidrs)).toEqual(expected);
  });
});
