/**
 * Marble-test helpers: a fresh TestScheduler per test, asserting with node's deepStrictEqual
 * (bigints, nested objects and `undefined` fields compared exactly).
 */
import { deepStrictEqual } from 'node:assert/strict';
import { TestScheduler } from 'rxjs/testing';

export function makeTestScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => deepStrictEqual(actual, expected));
}
