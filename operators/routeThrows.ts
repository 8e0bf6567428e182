import type { Subscriber } from 'rxjs';

/**
 * A `next` handler whose thrown exception goes to `subscriber`'s error channel. Operators built
 * with `new Observable` pass their per-value handler through it: in RxJS 7 a throw inside a `next`
 * given to `source.subscribe` is reported as an unhandled error on a timer, the value is lost and
 * the stream carries on as if nothing happened. Once errored, the subscriber is closed and its
 * teardown unsubscribes the source; later values reach a closed subscriber and go nowhere.
 *
 * @example
 * new Observable<R>((subscriber) => source.subscribe({ next: routeThrows(subscriber, (v) => …), … }))
 */
export function routeThrows<T>(
  subscriber: Pick<Subscriber<unknown>, 'error' | 'closed'>,
  next: (value: T) => void,
): (value: T) => void {
  return (value) => {
    if (subscriber.closed) return;
    try {
      next(value);
    } catch (err) {
      subscriber.error(err);
    }
  };
}
