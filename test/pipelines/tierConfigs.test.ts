/**
 * The five capital-tier configs (config/tiers) and the loader's `extends:`: every tier loads,
 * says its tier, starts at a capital that selects it; a child merges mappings and replaces the
 * rest; problems point at the file that wrote the key; cycles and missing bases are named; a
 * sealed config is the flattened chain.
 */
import { deepStrictEqual, equal, match, ok, throws } from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { TIERS, tierFor } from '../../operators/selectTier';
import { ConfigError, flattenConfig, loadConfig, mergeConfig, parseConfig } from '../../pipelines/config';
import { sealConfigText, unsealConfigFile } from '../../pipelines/seal';
import { repoRoot } from '../support/sharedData';
import { tempDir } from '../support/tmp';

const TIER_DIR = path.join(repoRoot, 'config', 'tiers');

describe('capital tier configs (config/tiers) and extends', function () {
  this.timeout(60_000);
  const tmp = tempDir('bot4-tiers-');
  after(() => tmp.cleanup());

  it('each of the five tiers loads, names its tier, and its initial capital selects that tier', () => {
    let previousCapital = -1;
    for (const tier of TIERS) {
      const config = loadConfig(path.join(TIER_DIR, `${tier}.yaml`));
      equal(config.tier, tier);
      equal(config.name, `tier-${tier}`);
      const capital = Number(config.initialCash) / 1e8;
      equal(tierFor(capital), tier, `${tier}: capital ${capital} selects ${tierFor(capital)}`);
      ok(capital > previousCapital);
      previousCapital = capital;
      // Spot instruments only: no tier may borrow.
      for (const i of config.instruments) if (!i.symbol.includes(':')) ok((config.risk?.maxLeverage ?? 1) <= 1);
    }
  });

  it('the tiers build on each other: Survival and Growth TA-only/TA+ML, Acceleration seven symbols, Institutional impact and fee tiers, Whale latency and rate limit', () => {
    const [survival, growth, acceleration, institutional, whale] = TIERS.map((t) =>
      loadConfig(path.join(TIER_DIR, `${t}.yaml`)),
    );
    equal(survival!.signals.ml, undefined);
    ok(growth!.signals.ml && growth!.modelPath?.endsWith(path.join('config', 'models', 'growth-btc-5m.json')));
    equal(acceleration!.instruments.length, 7);
    equal((acceleration as unknown as { instrument?: unknown }).instrument !== undefined, true); // first member
    // Only BTC (the model's symbol) keeps ML; the others are TA-only.
    deepStrictEqual(
      acceleration!.universe.filter((m) => m.signals.ml !== undefined).map((m) => m.instrument.symbol),
      ['BTC/USDT'],
    );
    equal(institutional!.execution.feeTiers, 'binance-spot');
    equal(institutional!.execution.impact?.gamma, 0.1);
    equal(institutional!.risk?.maxVar, 0.03); // inherited from acceleration
    deepStrictEqual(whale!.execution.latency, { meanMs: 50, stdMs: 20 });
    equal(whale!.execution.impact?.gamma, 0.1); // inherited through two levels
    equal(whale!.risk?.maxOrderNotional, 100000);
  });

  it('merge: mappings key by key, lists and scalars replaced, null kept', () => {
    deepStrictEqual(mergeConfig({ a: { b: 1, c: [1, 2] }, d: 1, e: 2 }, { a: { c: [3] }, d: null, f: 'x' }), {
      a: { b: 1, c: [3] },
      d: null,
      e: 2,
      f: 'x',
    });
  });

  it('a problem in a key the base wrote is located in the base file; one in the child, in the child', () => {
    const base = path.join(tmp.dir, 'base.yaml');
    writeFileSync(
      base,
      readFileSync(path.join(repoRoot, 'config', 'survival.yaml'), 'utf8').replace(
        'maxOrdersPerMinute: 30',
        'maxOrdersPerMinute: 0',
      ),
    );
    const child = path.join(tmp.dir, 'child.yaml');
    writeFileSync(child, 'extends: ./base.yaml\nname: child\nsizing:\n  kellyFraction: 2\n');
    const err = (() => {
      try {
        loadConfig(child);
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('expected a ConfigError');
    })();
    ok(err instanceof ConfigError);
    // Both problems at once, each with its own file and line.
    match(err.message, /child\.yaml:4:\d+ key "sizing\.kellyFraction": expected a number ≤ 1, found number 2/);
    match(err.message, /base\.yaml:\d+:\d+ key "risk\.maxOrdersPerMinute": expected a number > 0, found number 0/);
  });

  it('a cycle and a missing base are refused with the key and the chain', () => {
    const a = path.join(tmp.dir, 'a.yaml');
    const b = path.join(tmp.dir, 'b.yaml');
    writeFileSync(a, 'extends: ./b.yaml\nname: a\n');
    writeFileSync(b, 'extends: ./a.yaml\nname: b\n');
    throws(
      () => loadConfig(a),
      /key "extends": expected a config that does not extend itself, found a cycle: a\.yaml → b\.yaml → a\.yaml/,
    );
    const orphan = path.join(tmp.dir, 'orphan.yaml');
    writeFileSync(orphan, 'extends: ./nowhere.yaml\n');
    throws(
      () => loadConfig(orphan),
      /orphan\.yaml:1:1 key "extends": expected a readable config file .*nowhere\.yaml.*ENOENT/,
    );
    throws(() => parseConfig('extends: 3\n', orphan), /key "extends": expected the path of the config/);
  });

  it('sealing a config that extends another seals the merged chain; the sealed text loads as the same config', () => {
    const tierFile = path.join(TIER_DIR, 'institutional.yaml');
    const { text, flattened } = flattenConfig(tierFile);
    ok(flattened);
    ok(!/^extends:/m.test(text));
    const out = path.join(tmp.dir, 'institutional.yaml.sealed');
    sealConfigText({
      text,
      configFile: tierFile,
      out,
      key: 'a long seal passphrase',
      now: 0,
      cooldownMs: 0,
      scryptN: 1024,
    });
    const { text: clear, virtualPath } = unsealConfigFile(out, 'a long seal passphrase', 1);
    const sealed = parseConfig(clear, virtualPath, { allowExtends: false });
    const original = loadConfig(tierFile);
    for (const key of ['name', 'tier', 'instruments', 'risk', 'execution', 'sizing', 'modes', 'monitoring'] as const)
      deepStrictEqual(sealed[key], original[key], key);
    // The model path is written relative to the config that was sealed (config/tiers → ../models).
    equal(sealed.modelPath, path.resolve(tmp.dir, '..', 'models', 'growth-btc-5m.json'));
    throws(
      () => parseConfig('extends: ./growth.yaml\n', virtualPath, { allowExtends: false }),
      /no extends in a sealed config/,
    );
  });
});
