import { Duration, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { containerResources, httpProbe, sizeLimit, wholeSeconds } from '../src/container-settings';
import { Json } from './support/dist';

function container(props: Partial<kplus.ContainerProps>): Json {
  const chart = Testing.chart();
  new kplus.Deployment(chart, 'D').addContainer({ image: 'x:1', ...props });
  return Testing.synth(chart)[0].spec.template.spec.containers[0];
}

describe('container settings', () => {
  it('renders whole cores as units, the rest as millicores, and memory in Mi', () => {
    const resources = containerResources(
      {
        cpuRequestMillicores: 250,
        cpuLimitMillicores: 2000,
        memoryRequest: Size.mebibytes(384),
        memoryLimit: Size.gibibytes(1),
      },
      'resources',
    );
    expect(container({ resources }).resources).toEqual({
      requests: { cpu: '250m', memory: '384Mi' },
      limits: { cpu: '2', memory: '1024Mi' },
    });
  });

  it('fails when a request exceeds its limit, naming the prop, the field and both amounts', () => {
    expect(() =>
      containerResources(
        {
          cpuRequestMillicores: 3000,
          cpuLimitMillicores: 2000,
          memoryRequest: Size.mebibytes(1),
          memoryLimit: Size.mebibytes(1),
        },
        'initResources',
      ),
    ).toThrow(
      "'initResources.cpuRequestMillicores' (3000) must be ≤ 'initResources.cpuLimitMillicores' (2000): lower the " +
        'request or raise the limit.',
    );
  });

  it('probes HTTP GET on the port with the timing given', () => {
    const probe = httpProbe('/ready', 8000, {
      initialDelaySeconds: Duration.seconds(2),
      periodSeconds: Duration.seconds(4),
      timeoutSeconds: Duration.seconds(1),
      failureThreshold: 5,
    });
    expect(container({ readiness: probe }).readinessProbe).toEqual({
      httpGet: { path: '/ready', port: 8000, scheme: 'HTTP' },
      initialDelaySeconds: 2,
      periodSeconds: 4,
      timeoutSeconds: 1,
      failureThreshold: 5,
    });
  });

  it('takes whole seconds and whole, positive MiB only, naming the prop', () => {
    expect(wholeSeconds(Duration.minutes(2), 'grace')).toBe(120);
    expect(() => wholeSeconds(Duration.millis(250), 'grace')).toThrow(
      "'grace' (0.25 s) must be a whole number of seconds ≥ 0.",
    );
    expect(sizeLimit(Size.gibibytes(1), 'tmp').toMebibytes()).toBe(1024);
    expect(() => sizeLimit(Size.kibibytes(512), 'tmp')).toThrow(
      "'tmp' (0.5Mi) must be a positive whole number of mebibytes.",
    );
  });

  it('takes zero seconds and 1 MiB, the smallest amounts, and refuses zero MiB', () => {
    expect(wholeSeconds(Duration.seconds(0), 'grace')).toBe(0);
    expect(sizeLimit(Size.mebibytes(1), 'tmp').toMebibytes()).toBe(1);
    expect(() => sizeLimit(Size.mebibytes(0), 'tmp')).toThrow(
      "'tmp' (0Mi) must be a positive whole number of mebibytes.",
    );
  });
});
