/**
 * Kubernetes resource quantities (`500m`, `2`, `512Mi`, `1Gi`), parsed strictly so that a typo such as `500mm`
 * fails at synth time instead of at `kubectl apply`.
 */

const QUANTITY = /^(\d+(?:\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;

const FACTORS: Readonly<Record<string, number>> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

function parse(text: string, what: string): number {
  const m = QUANTITY.exec(text);
  if (!m) {
    throw new Error(
      `${what} '${text}' is not a Kubernetes quantity: write a number with an optional suffix, e.g. 500m, 2, 512Mi, 1Gi.`,
    );
  }
  return Number(m[1]) * FACTORS[m[2] ?? '']!;
}

/** CPU quantity → millicores; fails unless it is a whole number of millicores greater than zero. */
export function cpuMillis(text: string, what = 'CPU quantity'): number {
  const millis = Math.round(parse(text, what) * 1000 * 1e6) / 1e6;
  if (!Number.isInteger(millis) || millis <= 0) {
    throw new Error(`${what} '${text}' must be a positive whole number of millicores, e.g. 250m or 1.5.`);
  }
  return millis;
}

/** Memory quantity → mebibytes; fails unless it is a whole number of MiB greater than zero. */
export function memoryMebibytes(text: string, what = 'memory quantity'): number {
  const mib = parse(text, what) / 2 ** 20;
  if (!Number.isInteger(mib) || mib <= 0) {
    throw new Error(`${what} '${text}' must be a positive whole number of mebibytes, e.g. 512Mi or 2Gi.`);
  }
  return mib;
}
