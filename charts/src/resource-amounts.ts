import { Size, SizeRoundingBehavior } from 'cdk8s';

/**
 * Requests and limits of one container. CPU is a whole number of millicores (cdk8s has no CPU type of its own, and a
 * number compares and validates without parsing `500m` back); memory is a cdk8s {@link Size}, rendered in `Mi`.
 */
export interface ContainerResourceAmounts {
  /** CPU request in millicores (`500` is `500m`, `2000` is `2`). */
  readonly cpuRequestMillicores: number;
  /** CPU limit in millicores. */
  readonly cpuLimitMillicores: number;
  /** Memory request, a whole number of mebibytes. */
  readonly memoryRequest: Size;
  /** Memory limit, a whole number of mebibytes. */
  readonly memoryLimit: Size;
}

/** A field of {@link ContainerResourceAmounts}. */
export type ResourceAmountField = keyof ContainerResourceAmounts;

/** One broken rule: the field at fault and the message that follows its name. */
export interface ResourceAmountProblem {
  readonly field: ResourceAmountField;
  readonly message: string;
}

/** Memory in whole mebibytes, or undefined when the size is not a whole number of them. */
export function wholeMebibytes(size: Size): number | undefined {
  const mib = size.toMebibytes({ rounding: SizeRoundingBehavior.NONE });
  return Number.isInteger(mib) ? mib : undefined;
}

/** A size as `<n>Mi` (fractions kept), for messages. */
export function mebibytesText(size: Size): string {
  return `${size.toMebibytes({ rounding: SizeRoundingBehavior.NONE })}Mi`;
}

/**
 * The rules of one container's requests and limits: every amount positive and whole (millicores, MiB), each request
 * at most its limit. `show` renders a field (and its value) as the caller's user wrote it: a construct prop, or the
 * config file's field and quantity.
 */
export function resourceAmountProblems(
  r: ContainerResourceAmounts,
  show: (field: ResourceAmountField) => string,
): ResourceAmountProblem[] {
  const problems: ResourceAmountProblem[] = [];
  const values = {} as Record<ResourceAmountField, number | undefined>;
  for (const field of ['cpuRequestMillicores', 'cpuLimitMillicores'] as const) {
    const v = r[field];
    values[field] = v;
    if (!Number.isInteger(v) || v <= 0) {
      problems.push({ field, message: 'must be a positive whole number of millicores, e.g. 250 for 250m' });
      values[field] = undefined;
    }
  }
  for (const field of ['memoryRequest', 'memoryLimit'] as const) {
    const mib = wholeMebibytes(r[field]);
    values[field] = mib;
    if (mib === undefined || mib <= 0) {
      problems.push({
        field,
        message: 'must be a positive whole number of mebibytes, e.g. Size.mebibytes(512)',
      });
      values[field] = undefined;
    }
  }
  const pairs = [
    ['cpuRequestMillicores', 'cpuLimitMillicores'],
    ['memoryRequest', 'memoryLimit'],
  ] as const;
  for (const [request, limit] of pairs) {
    const req = values[request];
    const lim = values[limit];
    // Malformed amounts are reported above; compare only what is valid.
    if (req !== undefined && lim !== undefined && req > lim) {
      problems.push({
        field: request,
        message: `must be ≤ ${show(limit)}: lower the request or raise the limit`,
      });
    }
  }
  return problems.map((p) => ({ ...p, message: `${show(p.field)} ${p.message}` }));
}
