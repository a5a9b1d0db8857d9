import { Duration } from 'cdk8s';
import { ProbeTiming } from '../../src/container-settings';
import { Json } from './dist';

/** Where one prop lands in the synthesized objects: expectations that throw when it does not. */
export type PropCheck = (objects: Json[]) => void;

/**
 * The tests that a construct takes every prop. `everyProp` gives each prop a value that differs from its default
 * (type it `Required<Props>`, so a new prop fails the typecheck until it has one); `lands` says where each prop shows
 * up (type it `Record<keyof Props, PropCheck>`). Each check must pass on `everyProp`'s output and fail on the
 * defaults', so no check passes whatever the construct does with the prop.
 */
export function describeEveryProp<P extends object>(
  construct: string,
  everyProp: Required<P>,
  lands: Record<keyof P, PropCheck>,
  synth: (props: Partial<P>) => Json[],
): void {
  describe(`${construct} takes every prop`, () => {
    const withEveryProp = synth(everyProp);
    const withDefaults = synth({});
    const props = Object.keys(lands) as (keyof P & string)[];

    it('has a non-default value and a check for each prop', () => {
      expect(Object.keys(everyProp).sort()).toEqual([...props].sort());
    });

    it.each(props)('%s lands in the output', (prop) => {
      lands[prop](withEveryProp);
    });

    it.each(props)("%s: the check fails on the defaults, so it sees the prop's value", (prop) => {
      expect(() => lands[prop](withDefaults)).toThrow();
    });
  });
}

/** A synthesized HTTP GET probe with the given timing. */
export function renderedProbe(path: string, port: number, t: ProbeTiming): Json {
  const seconds = (d: Duration | undefined) => d?.toSeconds();
  return {
    httpGet: { path, port, scheme: 'HTTP' },
    initialDelaySeconds: seconds(t.initialDelaySeconds),
    periodSeconds: seconds(t.periodSeconds),
    timeoutSeconds: seconds(t.timeoutSeconds),
    failureThreshold: t.failureThreshold,
  };
}
