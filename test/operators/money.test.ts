import { equal } from 'node:assert/strict';
import fc from 'fast-check';
import { toUnits } from '../../operators/money';

/** toUnits by its definition: the number's shortest decimal, rounded half away from zero at the 8th decimal. */
function byDecimal(value: number): bigint {
  const text = String(value);
  return toUnits(/e/i.test(text) ? value.toFixed(10) : text);
}

describe('toUnits (number → units)', () => {
  it('equals the decimal definition for every double, the fast path included (prices, quantities, equity)', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, min: -2e6, max: 2e6 }), (x) => {
        equal(toUnits(x), byDecimal(x));
      }),
      { numRuns: 20_000 },
    );
  });

  it('rounds halves away from zero exactly as the decimal does, also where x × 1e8 is not exact', () => {
    // Each of these is a decimal half at the 8th place; several are below or above it in binary.
    for (const x of [
      0.000000005, 1.000000005, 19530.110000005, 0.123456785, -0.000000015, -2.500000005, 999999.999999995,
    ]) {
      equal(toUnits(x), byDecimal(x), String(x));
    }
    equal(toUnits(1.000000005), 100000001n);
    equal(toUnits(-0.000000015), -2n);
    equal(toUnits(0.1), 10_000_000n);
    equal(toUnits(19530.11), 1_953_011_000_000n);
  });

  it('on integer cents and lots of every size, and prices with tick noise (x × 1e8 just under or over an integer)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -99_999_999_999, max: 99_999_999_999 }), fc.integer({ min: 0, max: 8 }), (n, d) => {
        const x = n / 10 ** d;
        equal(toUnits(x), byDecimal(x));
      }),
      { numRuns: 20_000 },
    );
  });
});
