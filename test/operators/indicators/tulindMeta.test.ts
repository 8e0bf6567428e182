/**
 * The table of tulind's metadata (`tulindMeta.ts`, read instead of loading the native addon to
 * validate configs) must be exactly what the installed tulind says: a tulind upgrade that changes
 * a name, an input, an option or an output fails here.
 */
import { deepStrictEqual, equal } from 'node:assert/strict';
import { loadedTulind, tulindIndicator, tulindNames, tulindVersion } from '../../../operators/indicators/tulind';

describe('tulind metadata table', () => {
  it('equals the loaded binding: version, names, and every indicator’s description', () => {
    const binding = loadedTulind();
    equal(tulindVersion(), binding.version);
    deepStrictEqual([...tulindNames()], Object.keys(binding.indicators));
    for (const name of tulindNames()) {
      const table = tulindIndicator(name)!;
      const native = binding.indicators[name]!;
      for (const key of ['name', 'full_name', 'type', 'inputs', 'options', 'outputs'] as const)
        equal(table[key], native[key], `${name}.${key}`);
      for (const key of ['input_names', 'option_names', 'output_names'] as const)
        deepStrictEqual([...table[key]], [...native[key]], `${name}.${key}`);
    }
  });

  it('start() and indicator() reach the binding', () => {
    const sma = tulindIndicator('sma')!;
    equal(sma.start([5]), 4);
    let out: number[][] | null = null;
    sma.indicator([[1, 2, 3, 4, 5, 6]], [5], (error, outputs) => {
      equal(error, null);
      out = outputs;
    });
    deepStrictEqual(out, [[3, 4]]);
  });
});
