/**
 * Polling waits for integration tests, instead of sleeps: `eventually` retries an assertion until it
 * passes; `consistently` checks that one keeps passing for a while (the only way to see that
 * something does *not* happen, e.g. no request after an unsubscribe).
 */

export interface EventuallyOptions {
  /** Give up after this long, ms. Default 5000. */
  readonly timeoutMs?: number;
  /** Wait between attempts, ms. Default 10. */
  readonly intervalMs?: number;
}

/**
 * Calls `fn` until it returns (or resolves) without throwing, and returns its value. After
 * `timeoutMs` it rethrows the last failure, with how long it waited.
 *
 * @example
 * await eventually(() => assert.equal(server.requests('/api/v3/klines').length, 2));
 */
export async function eventually<T>(fn: () => T | Promise<T>, options: EventuallyOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const intervalMs = options.intervalMs ?? 10;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (performance.now() >= deadline) {
        if (error instanceof Error) error.message = `still failing after ${timeoutMs} ms: ${error.message}`;
        throw error;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface ConsistentlyOptions {
  /** How long `fn` must keep passing, ms. */
  readonly durationMs: number;
  /** Wait between checks, ms. Default 10. */
  readonly intervalMs?: number;
}

/** Calls `fn` repeatedly for `durationMs`; throws the first failure. */
export async function consistently(fn: () => unknown | Promise<unknown>, options: ConsistentlyOptions): Promise<void> {
  const intervalMs = options.intervalMs ?? 10;
  const deadline = performance.now() + options.durationMs;
  for (;;) {
    await fn();
    if (performance.now() >= deadline) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
