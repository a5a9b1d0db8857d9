import { ServiceType } from 'cdk8s-plus-28';
import { ServiceExposure } from '../src/service-exposure';

describe('ServiceExposure', () => {
  it('defaults every variant to port 80 without annotations', () => {
    for (const e of [
      ServiceExposure.loadBalancer(),
      ServiceExposure.nodePort(),
      ServiceExposure.clusterIp(),
    ]) {
      expect([e.port, e.annotations, e.tlsPort, e.nodePort]).toEqual([80, {}, undefined, undefined]);
    }
  });

  it('carries the Service type of each variant', () => {
    expect(ServiceExposure.loadBalancer().type).toBe(ServiceType.LOAD_BALANCER);
    expect(ServiceExposure.nodePort().type).toBe(ServiceType.NODE_PORT);
    expect(ServiceExposure.clusterIp().type).toBe(ServiceType.CLUSTER_IP);
  });

  it('keeps the TLS port of a load balancer and the node port of a NodePort', () => {
    expect(ServiceExposure.loadBalancer({ tlsPort: 443, annotations: { a: 'b' } })).toMatchObject({
      tlsPort: 443,
      annotations: { a: 'b' },
    });
    expect(ServiceExposure.nodePort({ nodePort: 30080, port: 8080 })).toMatchObject({
      nodePort: 30080,
      port: 8080,
    });
  });
});
