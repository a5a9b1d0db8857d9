import * as kplus from 'cdk8s-plus-28';
import { cidrContains, parseIpv4Cidr } from './cidr';
import { externalTrafficProblems, type ExternalTrafficPolicy } from './config/external-traffic';

/** Options shared by every {@link ServiceExposure}. */
export interface ServiceExposureOptions {
  /**
   * Service port that forwards to the container's `http` port.
   * @default 80
   */
  readonly port?: number;
  /**
   * Annotations for the Service (e.g. a cloud load balancer's TLS certificate settings).
   * @default - none
   */
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Options of the exposures that take traffic from outside the cluster. */
export interface ExternalExposureOptions extends ServiceExposureOptions {
  /**
   * How nodes forward external traffic (see {@link ExternalTrafficPolicy}).
   * @default 'Local'
   */
  readonly externalTrafficPolicy?: ExternalTrafficPolicy;
  /**
   * IPv4 CIDRs of the nodes, admitted by the NetworkPolicy on the container port when `externalTrafficPolicy` is
   * `Cluster` (clients then arrive with a node's address). Only valid with `Cluster`, and required there.
   * @default - none
   */
  readonly nodeCidrs?: readonly string[];
}

/** Options of {@link ServiceExposure.loadBalancer}. */
export interface LoadBalancerExposureOptions extends ExternalExposureOptions {
  /**
   * IPv4 CIDRs of the clients the load balancer accepts (`spec.loadBalancerSourceRanges`); with `externalTrafficPolicy:
   * Local` also the sources the NetworkPolicy admits on the container port. `['0.0.0.0/0']` for a public endpoint.
   * Required: no range can be guessed, and without one the NetworkPolicy would drop every client.
   */
  readonly loadBalancerSourceRanges: readonly string[];
  /**
   * Also expose this port, named `https`, to the container's `http` port; the load balancer terminates TLS
   * (configure it through `annotations`).
   * @default - no TLS port
   */
  readonly tlsPort?: number;
}

/** Options of {@link ServiceExposure.nodePort}. */
export interface NodePortExposureOptions extends ExternalExposureOptions {
  /**
   * Fixed node port (30000–32767).
   * @default - Kubernetes picks one
   */
  readonly nodePort?: number;
  /**
   * IPv4 CIDRs of the clients that call the node port, admitted by the NetworkPolicy on the container port. A NodePort
   * Service has no source filter of its own, so this is the only one. Required with `externalTrafficPolicy: Local`;
   * not valid with `Cluster` (clients then arrive with a node's address; admit `nodeCidrs`).
   * @default - none
   */
  readonly nodePortSourceRanges?: readonly string[];
}

/** One `ipBlock` peer of a NetworkPolicy rule, in the API's own shape. */
export interface IpBlock {
  /** The admitted IPv4 CIDR. */
  readonly cidr: string;
  /** CIDRs inside `cidr` that are not admitted (each strictly within it, as the API server requires). */
  readonly except?: readonly string[];
}

/** What the factories of {@link ServiceExposure} pass on besides the common options. */
interface ExternalSettings {
  readonly tlsPort?: number;
  readonly nodePort?: number;
  readonly externalTrafficPolicy?: ExternalTrafficPolicy;
  readonly loadBalancerSourceRanges?: readonly string[];
  readonly nodePortSourceRanges?: readonly string[];
  readonly nodeCidrs?: readonly string[];
}

/** How the inference Service is reachable: a cloud load balancer, a node port, or inside the cluster only. */
export class ServiceExposure {
  /** A `LoadBalancer` Service (production), accepting `loadBalancerSourceRanges`. */
  public static loadBalancer(options: LoadBalancerExposureOptions): ServiceExposure {
    return new ServiceExposure(kplus.ServiceType.LOAD_BALANCER, options, {
      tlsPort: options.tlsPort,
      externalTrafficPolicy: options.externalTrafficPolicy ?? 'Local',
      loadBalancerSourceRanges: [...options.loadBalancerSourceRanges],
      nodeCidrs: options.nodeCidrs && [...options.nodeCidrs],
    });
  }

  /** A `NodePort` Service (a laptop cluster). */
  public static nodePort(options: NodePortExposureOptions): ServiceExposure {
    return new ServiceExposure(kplus.ServiceType.NODE_PORT, options, {
      nodePort: options.nodePort,
      externalTrafficPolicy: options.externalTrafficPolicy ?? 'Local',
      nodePortSourceRanges: options.nodePortSourceRanges && [...options.nodePortSourceRanges],
      nodeCidrs: options.nodeCidrs && [...options.nodeCidrs],
    });
  }

  /** A `ClusterIP` Service, reached through an ingress controller. */
  public static clusterIp(options: ServiceExposureOptions = {}): ServiceExposure {
    return new ServiceExposure(kplus.ServiceType.CLUSTER_IP, options, {});
  }

  /** The Service port forwarding to the container port. */
  public readonly port: number;
  /** Service annotations. */
  public readonly annotations: Readonly<Record<string, string>>;
  /** The TLS port, when the load balancer terminates TLS. */
  public readonly tlsPort?: number;
  /** The fixed node port, when one is wanted. */
  public readonly nodePort?: number;
  /** `spec.externalTrafficPolicy`, for LoadBalancer and NodePort. */
  public readonly externalTrafficPolicy?: ExternalTrafficPolicy;
  /** `spec.loadBalancerSourceRanges`, for LoadBalancer. */
  public readonly loadBalancerSourceRanges?: readonly string[];
  /** The node port's clients, for NodePort. */
  public readonly nodePortSourceRanges?: readonly string[];
  /** The nodes' CIDRs, with externalTrafficPolicy Cluster. */
  public readonly nodeCidrs?: readonly string[];

  private constructor(
    /** The Service type. */
    public readonly type: kplus.ServiceType,
    options: ServiceExposureOptions,
    external: ExternalSettings,
  ) {
    this.port = options.port ?? 80;
    this.annotations = options.annotations ?? {};
    this.tlsPort = external.tlsPort;
    this.nodePort = external.nodePort;
    this.externalTrafficPolicy = external.externalTrafficPolicy;
    this.loadBalancerSourceRanges = external.loadBalancerSourceRanges;
    this.nodePortSourceRanges = external.nodePortSourceRanges;
    this.nodeCidrs = external.nodeCidrs;
  }

  /**
   * Fails when the NetworkPolicy of the exposed pods would admit none of this Service's external traffic (see
   * {@link externalTrafficProblems}), naming the props and the fixes.
   */
  public validate(podCidrs: readonly string[]): void {
    const problems = externalTrafficProblems(this, podCidrs, (field) => `'${field}'`);
    if (problems.length > 0) {
      throw new Error(problems.map((p) => `'${p.field}' ${p.message}.`).join(' '));
    }
  }

  /**
   * The `ipBlock` peers the NetworkPolicy admits on the container port for this Service's external traffic: the client
   * ranges (`Local`) or the nodes (`Cluster`), each with the `podCidrs` inside it cut out, so on a network plugin that
   * matches pod addresses against `ipBlock` a pod of another namespace does not pass as a client. None for ClusterIP.
   */
  public networkPolicySources(podCidrs: readonly string[]): IpBlock[] {
    if (this.externalTrafficPolicy === undefined) return [];
    const ranges =
      this.externalTrafficPolicy === 'Cluster'
        ? (this.nodeCidrs ?? [])
        : (this.loadBalancerSourceRanges ?? this.nodePortSourceRanges ?? []);
    const pods = podCidrs.map((c) => parseIpv4Cidr(c, "'podCidrs'"));
    return ranges.map((text) => {
      const range = parseIpv4Cidr(text, 'source range');
      const except = pods.filter((p) => p.prefix > range.prefix && cidrContains(range, p)).map((p) => p.text);
      return except.length > 0 ? { cidr: text, except } : { cidr: text };
    });
  }
}
