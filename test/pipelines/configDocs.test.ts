/**
 * The README's config-key table is generated from the schema: it must be exactly what
 * `run-pipeline config-keys` generates now (a key added, removed or re-documented in
 * config/schema.ts without regenerating the README fails here), and it must list every key.
 */
import { equal, ok } from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  README_END,
  README_START,
  configKeyDocs,
  configKeysMarkdown,
  schemaComments,
  withConfigKeys,
} from '../../pipelines/configDocs';
import { repoRoot } from '../support/sharedData';

const SCHEMA = readFileSync(path.join(repoRoot, 'config', 'schema.ts'), 'utf8');
const README = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');

describe('README config keys, generated from the schema', () => {
  it('the README block is what the schema generates (run `run-pipeline config-keys --readme README.md` after changing the schema)', () => {
    const generated = withConfigKeys(README, configKeysMarkdown(configKeyDocs(SCHEMA)));
    const block = (text: string) => text.slice(text.indexOf(README_START), text.indexOf(README_END));
    equal(block(README), block(generated));
  });

  it('lists every key, with its bounds and its doc comment, and would notice a key added to the schema', () => {
    const docs = configKeyDocs(SCHEMA);
    const keys = new Set(docs.map((d) => d.key));
    for (const key of [
      'extends',
      'tier',
      'risk.garch.windowBars',
      'execution.impact.gamma',
      'universe.instruments[].sector',
    ])
      ok(keys.has(key), key);
    const window = docs.find((d) => d.key === 'risk.garch.windowBars')!;
    equal(window.type, 'whole number ≥ 10');
    ok(window.description.startsWith('Most recent bar returns fitted'));
    // Drift: a new documented key in the schema's source changes the generated table.
    const edited = SCHEMA.replace(
      '  /** Seed of the latency draws. Default 1. */',
      '  /** A key someone added. */\n  addedKey: z.number().optional(),\n  /** Seed of the latency draws. Default 1. */',
    );
    ok(edited !== SCHEMA);
    equal(schemaComments(edited).get('executionSchema')?.get('addedKey'), 'A key someone added.');
  });

  it('refuses a README without the markers, naming them', () => {
    let message = '';
    try {
      withConfigKeys('# no markers\n', '| x |');
    } catch (err) {
      message = (err as Error).message;
    }
    ok(message.includes(README_START), message);
  });
});
