import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import {
  ContainerResourceAmounts,
  mebibytesText,
  resourceAmountProblems,
  wholeMebibytes,
} from './resource-amounts';

/** Timing of one probe, in cdk8s-plus' own words ({@link kplus.ProbeOptions}). */
export type ProbeTiming = Pick<
  kplus.ProbeOptions,
  'initialDelaySeconds' | 'periodSeconds' | 'timeoutSeconds' | 'failureThreshold'
>;

/** An HTTP GET probe of `path` on `port`. */
export function httpProbe(path: string, port: number, t: ProbeTiming): kplus.Probe {
  return kplus.Probe.fromHttpGet(path, { port, ...t });
}

/**
 * A Duration in whole seconds (what Kubernetes' `…Seconds` fields take); fails naming `prop` otherwise. Never negative:
 * cdk8s refuses to construct a negative Duration.
 */
export function wholeSeconds(d: Duration, prop: string): number {
  const s = d.toSeconds({ integral: false });
  if (!Number.isInteger(s)) {
    throw new Error(`'${prop}' (${s} s) must be a whole number of seconds ≥ 0.`);
  }
  return s;
}

/** A positive size limit in whole mebibytes (how cdk8s-plus renders a Size); fails naming `prop` otherwise. */
export function sizeLimit(size: Size, prop: string): Size {
  const mib = wholeMebibytes(size);
  if (mib === undefined || mib <= 0) {
    throw new Error(`'${prop}' (${mebibytesText(size)}) must be a positive whole number of mebibytes.`);
  }
  return size;
}

/** cdk8s-plus resources from {@link ContainerResourceAmounts}; fails naming the prop when one breaks a rule. */
export function containerResources(r: ContainerResourceAmounts, prop: string): kplus.ContainerResources {
  const shown = (field: keyof ContainerResourceAmounts) => {
    const v = r[field];
    return `'${prop}.${field}' (${typeof v === 'number' ? v : mebibytesText(v)})`;
  };
  const [problem] = resourceAmountProblems(r, shown);
  if (problem) throw new Error(`${problem.message}.`);
  const cpu = (millis: number) =>
    millis % 1000 === 0 ? kplus.Cpu.units(millis / 1000) : kplus.Cpu.millis(millis);
  return {
    cpu: { request: cpu(r.cpuRequestMillicores), limit: cpu(r.cpuLimitMillicores) },
    memory: { request: r.memoryRequest, limit: r.memoryLimit },
  };
}
