import { equal, match, ok, throws } from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { ConfigError, loadConfig, parseConfig } from '../../pipelines/config';
import { withoutTimeframes } from '../support/growthConfig';
import { repoRoot } from '../support/sharedData';

const GROWTH = path.join(repoRoot, 'config', 'growth.yaml');
const growthText = readFileSync(GROWTH, 'utf8');

function problemsOf(text: string, file = '/configs/bad.yaml'): string {
  try {
    parseConfig(text, file);
  } catch (err) {
    ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.message;
  }
  throw new Error('config was accepted');
}

describe('pipeline config', () => {
  it('loads the Growth tier config, resolves the model path and hashes it', () => {
    const config = loadConfig(GROWTH);
    equal(config.tier, 'growth');
    equal(config.instrument.symbol, 'BTC/USDT');
    equal(config.instrument.minNotional, 500_000_000n);
    equal(config.modelPath, path.join(repoRoot, 'config', 'models', 'growth-btc-5m.json'));
    match(config.hash, /^[0-9a-f]{16}$/);
    ok(Object.isFrozen(config) && Object.isFrozen(config.features));
  });

  it('loads every tier config shipped in config/', () => {
    const files = readdirSync(path.join(repoRoot, 'config')).filter((f) => /\.(ya?ml|json)$/.test(f));
    ok(files.length >= 2, `tier configs: ${files.join(', ')}`);
    const tiers = files.map((f) => loadConfig(path.join(repoRoot, 'config', f)).tier);
    ok(tiers.includes('growth') && tiers.includes('survival'));
  });

  it('hashes equal configs equally whatever the key order, and different configs differently', () => {
    const a = parseConfig(growthText, GROWTH);
    const reordered = growthText.replace('name: growth-btc\ntier: growth\n', 'tier: growth\nname: growth-btc\n');
    equal(parseConfig(reordered, GROWTH).hash, a.hash);
    ok(parseConfig(growthText.replace('maxDrawdown: 0.15', 'maxDrawdown: 0.14'), GROWTH).hash !== a.hash);
  });

  it('names file, line, key, expected and found for a misspelled key, with a suggestion', () => {
    const message = problemsOf(growthText.replace('  kellyFraction: 0.25', '  kellyFractoin: 0.25'));
    match(message, /^\/configs\/bad\.yaml: invalid config/);
    match(
      message,
      /bad\.yaml:\d+:3 key "sizing\.kellyFractoin": expected one of the known keys \(kellyFraction, .*\); did you mean "kellyFraction"\?, found unknown key "kellyFractoin"/,
    );
  });

  it('names key, expected type and found value for a wrong type', () => {
    const message = problemsOf(growthText.replace('maxDrawdown: 0.15', 'maxDrawdown: "fifteen"'));
    match(message, /key "risk\.maxDrawdown": expected number, found string "fifteen"/);
  });

  it('reports a missing required key', () => {
    const message = problemsOf(growthText.replace(/^timeframe: 5m\n/m, ''));
    match(message, /key "timeframe": expected one of "1m", .*found nothing/);
  });

  it('reports a value out of range and a bad enum', () => {
    const message = problemsOf(
      growthText.replace('kellyFraction: 0.25', 'kellyFraction: 2').replace('label: net-of-cost', 'label: sell'),
    );
    match(message, /key "sizing\.kellyFraction": expected a number ≤ 1, found number 2/);
    match(
      message,
      /key "signals\.ml\.training\.label": expected one of "net-of-cost", "direction", found string "sell"/,
    );
  });

  it('rejects an indicator tulind does not have, suggesting the closest name', () => {
    const message = problemsOf(growthText.replace('indicator: rsi, options: [14]', 'indicator: rsii, options: [14]'));
    match(message, /key "features\[8\]\.indicator": expected a tulind indicator name, found .*rsi/);
  });

  it('rejects options tulind would refuse', () => {
    const message = problemsOf(
      growthText.replace('indicator: macd, options: [12, 26, 9]', 'indicator: macd, options: [12, 26]'),
    );
    match(message, /key "features\[9\]\.options"/);
  });

  it('rejects a rule that reads a feature nobody publishes', () => {
    const message = problemsOf(
      growthText.replace('feature: macdSlow.macd_histogram }', 'feature: macdSlow.histogram }'),
    );
    match(
      message,
      /key "signals\.ta\.rules\[2\]\.feature": expected a published feature or bar field \(did you mean "macdSlow\.macd_histogram"\?\), found "macdSlow\.histogram"/,
    );
  });

  it('publishes candlestick patterns as features only when signals.patterns is on', () => {
    const rule = '      - { kind: sign, group: momentum, feature: cdl.engulfing }\n  ml:';
    const withRule = withoutTimeframes(growthText).replace(/\n {2}ml:/, `\n${rule}`);
    match(
      problemsOf(withRule),
      /key "signals\.ta\.rules\[5\]\.feature": expected a published feature.*found "cdl\.engulfing"/,
    );
    equal(parseConfig(withRule.replace('  forecast:', '  patterns: true\n  forecast:'), GROWTH).signals.patterns, true);
  });

  it('publishes higher-timeframe features for rules when signals.timeframes names them; refuses a timeframe that is not a multiple', () => {
    const rule = '      - { kind: cross, group: trend, fast: 1h.close, slow: 1h.ema24 }\n  ml:';
    const withRule = withoutTimeframes(growthText).replace(/\n {2}ml:/, `\n${rule}`);
    match(problemsOf(withRule), /key "signals\.ta\.rules\[5\]\.fast": expected a published feature.*found "1h\.close"/);
    const mtf =
      '  timeframes:\n    - { timeframe: 1h, features: [{ id: ema24, indicator: ema, options: [24] }], trend: { fast: close, slow: ema24 } }\n  forecast:';
    const config = parseConfig(withRule.replace('  forecast:', mtf), GROWTH);
    equal(config.signals.timeframes?.[0]?.timeframe, '1h');
    match(
      problemsOf(withRule.replace('  forecast:', mtf.replace('timeframe: 1h', 'timeframe: 3m'))),
      /key "signals\.timeframes\[0\]\.timeframe": expected a whole multiple of the base timeframe 5m, found 3m/,
    );
  });

  it('rejects edge decisions without forecasts, and brackets reading an unknown ATR', () => {
    const message = problemsOf(
      growthText.replace(/ {2}forecast:[\s\S]*?\n\n/, '\n').replace('atr: atr48', 'atr: atr14'),
    );
    match(message, /key "sizing\.edge": expected a signals\.forecast section/);
    match(message, /key "sizing\.brackets\.atr": expected a published feature or bar field.*found "atr14"/);
    const levels = problemsOf(growthText.replace('atr: atr48', 'atr: atr48\n    support: low48'));
    match(levels, /key "sizing\.brackets\.support": expected a published feature or bar field.*found "low48"/);
  });

  it('rejects a weighted source without its section', () => {
    const message = problemsOf(growthText.replace(/ {2}ml:\n {4}model:[\s\S]*? {2}fuse:/, '  fuse:'));
    match(message, /key "signals\.fuse\.weights\.ml": expected a signals\.ml section/);
  });

  it('reports YAML syntax errors with a line', () => {
    const message = problemsOf('name: x\n  bad: [\n');
    match(message, /bad\.yaml:\d+:\d+ key "\(top level\)": expected valid YAML\/JSON/);
  });

  it('accepts JSON as well as YAML', () => {
    const json = JSON.stringify(parseConfigAsPlain(growthText));
    equal(parseConfig(json, GROWTH.replace('.yaml', '.json')).name, 'growth-btc');
  });

  it('fails with the path when the file cannot be read', () => {
    throws(
      () => loadConfig('/nonexistent/config.yaml'),
      /nonexistent\/config\.yaml: invalid config[\s\S]*expected a readable YAML or JSON file/,
    );
  });
});

import { parse } from 'yaml';
function parseConfigAsPlain(text: string): unknown {
  return parse(text) as unknown;
}
