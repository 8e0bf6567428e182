import { deepStrictEqual, equal, match, ok } from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ConfigError, loadConfig, parseConfig } from '../../pipelines/config';
import { repoRoot } from '../support/sharedData';

const PORTFOLIO = path.join(repoRoot, 'config', 'portfolio-7.yaml');
const GROWTH = path.join(repoRoot, 'config', 'growth.yaml');
const text = readFileSync(PORTFOLIO, 'utf8');

function problems(source: string): string {
  try {
    parseConfig(source, PORTFOLIO);
  } catch (err) {
    ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.message;
  }
  throw new Error('the config was accepted');
}

describe('universe configs', () => {
  it('loads the seven-symbol portfolio: every instrument resolved, each symbol with the shared features and signals', () => {
    const config = loadConfig(PORTFOLIO);
    deepStrictEqual(
      config.instruments.map((i) => i.symbol),
      ['BTC/USDT', 'LTC/USDT', 'XRP/USDT', 'SOL/USDT', 'ADA/USDT', 'DOT/USDT', 'LINK/USDT'],
    );
    equal(config.instrument.symbol, 'BTC/USDT');
    equal(config.instruments[2]!.qtyStep, 100_000_000n, 'XRP lot of 1, in units');
    equal(config.instruments[3]!.sector, 'smart-contract-l1');
    ok(config.universe.every((m) => m.features === config.features && m.signals === config.signals));
  });

  it('keeps `instrument:` as a one-symbol universe', () => {
    const config = loadConfig(GROWTH);
    equal(config.instruments.length, 1);
    equal(config.universe[0]!.instrument, config.instrument);
    equal(config.universe[0]!.features, config.features);
  });

  it('gives a symbol its own signals, checked against the features it will have', () => {
    const own = text.replace(
      '    - { venue: binance, symbol: LINK/USDT, qtyStep: "0.01", priceTick: 0.001, minQty: "0.01", minNotional: "10", sector: oracle }',
      [
        '    - venue: binance',
        '      symbol: LINK/USDT',
        '      qtyStep: "0.01"',
        '      priceTick: 0.001',
        '      features: [{ id: fast, indicator: ema, options: [5] }, { id: slow, indicator: ema, options: [20] }]',
        '      signals:',
        '        ta: { rules: [{ kind: cross, group: trend, fast: fast, slow: slow }] }',
        '        fuse: { weights: { ta: 1 } }',
      ].join('\n'),
    );
    const config = parseConfig(own, PORTFOLIO);
    const link = config.universe[6]!;
    deepStrictEqual(
      link.features.map((f) => f.id),
      ['fast', 'slow'],
    );
    equal(config.universe[0]!.features, config.features);
    const broken = own.replace('fast: fast, slow: slow', 'fast: fats, slow: slow');
    match(
      problems(broken),
      /key "universe\.instruments\[6\]\.signals\.ta\.rules\[0\]\.fast": expected a published feature or bar field \(did you mean "fast"\?\), found "fats"/,
    );
  });

  it('names the symbol when one appears twice, is quoted in another currency, or carries its own ML model', () => {
    const twice = text.replace('symbol: LTC/USDT', 'symbol: BTC/USDT');
    match(
      problems(twice),
      /universe\.instruments\[1\]\.symbol": expected each symbol once.*found "BTC\/USDT" again \(first at universe\.instruments\[0\]\)/,
    );
    const otherQuote = text.replace('symbol: XRP/USDT', 'symbol: XRP/BTC');
    match(
      problems(otherQuote),
      /universe\.instruments\[2\]\.symbol": expected a symbol quoted in USDT.*found "XRP\/BTC"/,
    );
    const ml = text.replace(
      'sector: oracle }',
      'sector: oracle, signals: { ml: { model: m.json }, fuse: { weights: { ml: 1 } } } }',
    );
    match(problems(ml), /universe\.instruments\[6\]\.signals\.ml": expected no per-symbol ML model/);
  });

  it('requires exactly one of instrument and universe', () => {
    const growth = readFileSync(GROWTH, 'utf8');
    const both = `${growth}\nuniverse:\n  instruments:\n    - { venue: binance, symbol: SOL/USDT, qtyStep: "0.01", priceTick: 0.01 }\n`;
    match(
      problems(both),
      /key "universe": expected either instrument \(one symbol\) or universe \(several\), not both/,
    );
    const neither = growth.replace(/\ninstrument:\n(?: {2}.*\n)+/, '\n');
    match(
      problems(neither),
      /key "instrument": expected an instrument \(one symbol\) or a universe \(several\) \(required\), found neither/,
    );
  });
});
