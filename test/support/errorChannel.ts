/**
 * The error-channel contract every operator's tests call: an input whose reading throws (any
 * field access) sends the exception to the error channel at that input — after everything the
 * operator emitted for the inputs before it, nothing of it lost — and unsubscribes the source;
 * nothing is emitted after, and the stream does not complete as if nothing had happened.
 */
import { deepStrictEqual } from 'node:assert/strict';
import type { Observable, OperatorFunction } from 'rxjs';
import { makeTestScheduler } from './marbles';

/** Thrown by a {@link poisoned} input when the operator reads it. */
export class PoisonedInputRead extends Error {
  constructor(key: string) {
    super(`poisoned input: read of ${key}`);
  }
}

/** A value whose every field read throws. */
export function poisoned<T>(): T {
  return new Proxy(
    {},
    {
      get: (_target, key) => {
        throw new PoisonedInputRead(String(key));
      },
      has: (_target, key) => {
        throw new PoisonedInputRead(String(key));
      },
      ownKeys: () => {
        throw new PoisonedInputRead('its keys');
      },
    },
  ) as T;
}

/**
 * Runs `-a-b-c|` (a, c good; b poisoned) through a fresh operator and asserts: the outputs of `a`
 * (as many as `a` alone gives) at frame 1, the poisoned read's error at frame 3, nothing else,
 * and the source unsubscribed at frame 3.
 */
export function assertThrowingInputReachesErrorChannel<I, O>(
  make: () => OperatorFunction<I, O>,
  good: I,
  after: I = good,
): void {
  const alone = run(make, '-a|', { a: good }).filter((e) => e !== '2 complete');
  const seen = run(make, '-a-b-c|', { a: good, b: poisoned<I>(), c: after }, '^--!');
  deepStrictEqual(seen, [...alone, '3 error PoisonedInputRead']);
}

function run<I, O>(
  make: () => OperatorFunction<I, O>,
  marbles: string,
  values: Record<string, I>,
  subscriptions?: string,
): string[] {
  const scheduler = makeTestScheduler();
  const seen: string[] = [];
  scheduler.run(({ cold, flush, expectSubscriptions }) => {
    const source = cold<I>(marbles, values);
    const out: Observable<O> = source.pipe(make());
    out.subscribe({
      next: () => seen.push(`${scheduler.now()} next`),
      error: (err: unknown) =>
        seen.push(`${scheduler.now()} error ${err instanceof PoisonedInputRead ? 'PoisonedInputRead' : String(err)}`),
      complete: () => seen.push(`${scheduler.now()} complete`),
    });
    flush();
    if (subscriptions) expectSubscriptions(source.subscriptions).toBe(subscriptions);
  });
  return seen;
}
