/** The message `fn` throws; fails the test when it throws nothing. */
export function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a validation error');
}
