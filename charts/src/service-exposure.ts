import * as kplus from 'cdk8s-plus-28';

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

/** Options of {@link ServiceExposure.loadBalancer}. */
export interface LoadBalancerExposureOptions extends ServiceExposureOptions {
  /**
   * Also expose this port, named `https`, to the container's `http` port; the load balancer terminates TLS
   * (configure it through `annotations`).
   * @default - no TLS port
   */
  readonly tlsPort?: number;
}

/** Options of {@link ServiceExposure.nodePort}. */
export interface NodePortExposureOptions extends ServiceExposureOptions {
  /**
   * Fixed node port (30000–32767).
   * @default - Kubernetes picks one
   */
  readonly nodePort?: number;
}

/** How the inference Service is reachable: a cloud load balancer, a node port, or inside the cluster only. */
export class ServiceExposure {
  /** A `LoadBalancer` Service (production). */
  public static loadBalancer(options: LoadBalancerExposureOptions = {}): ServiceExposure {
    return new ServiceExposure(kplus.ServiceType.LOAD_BALANCER, options, options.tlsPort, undefined);
  }

  /** A `NodePort` Service (a laptop cluster). */
  public static nodePort(options: NodePortExposureOptions = {}): ServiceExposure {
    return new ServiceExposure(kplus.ServiceType.NODE_PORT, options, undefined, options.nodePort);
  }

  /** A `ClusterIP` Service, reached through an ingress controller. */
  public static clusterIp(options: ServiceExposureOptions = {}): ServiceExposure {
    return new ServiceExposure(kplus.ServiceType.CLUSTER_IP, options, undefined, undefined);
  }

  /** The Service port forwarding to the container port. */
  public readonly port: number;
  /** Service annotations. */
  public readonly annotations: Readonly<Record<string, string>>;

  private constructor(
    /** The Service type. */
    public readonly type: kplus.ServiceType,
    options: ServiceExposureOptions,
    /** The TLS port, when the load balancer terminates TLS. */
    public readonly tlsPort: number | undefined,
    /** The fixed node port, when one is wanted. */
    public readonly nodePort: number | undefined,
  ) {
    this.port = options.port ?? 80;
    this.annotations = options.annotations ?? {};
  }
}
