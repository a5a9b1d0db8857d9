import { Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../src/pod-hardening';
import { Json } from './support/dist';

describe('pod hardening', () => {
  it('renders the restricted profile on a cdk8s-plus container and pod', () => {
    const chart = Testing.chart();
    const d = new kplus.Deployment(chart, 'D', { securityContext: restrictedPodSecurityContext(12345) });
    d.addContainer({
      image: 'x:1',
      securityContext: restrictedContainerSecurityContext(12345),
    });
    const spec: Json = Testing.synth(chart)[0].spec.template.spec;
    expect(spec.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 12345,
      runAsGroup: 12345,
      fsGroup: 12345,
    });
    expect(spec.containers[0].securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsGroup: 12345,
      runAsNonRoot: true,
      runAsUser: 12345,
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });
});
