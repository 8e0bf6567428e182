/** Every change of the config a session folder runs is audited; the same config again adds nothing. */
import { deepStrictEqual, equal, ok } from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { auditConfigInForce, lastConfigInForce } from '../../pipelines/sealAudit';
import { tempDir } from '../support/tmp';

describe('config-in-force audit (spec §3.6)', () => {
  const tmp = tempDir('bot4-seal-audit-');
  after(() => tmp.cleanup());
  const base = { mode: 'live' as const, name: 'tier-growth', file: 'growth.yaml.sealed', sealed: true };

  it('records the first config, nothing for the same one again, and a change with the previous hash', () => {
    const dir = path.join(tmp.dir, 'a');
    const first = auditConfigInForce(dir, { ...base, hash: 'h1', sealedAt: 't0', activeFrom: 't1' }, 1);
    equal(first?.previousHash, null);
    equal(auditConfigInForce(dir, { ...base, hash: 'h1', sealedAt: 't0', activeFrom: 't1' }, 2), null);
    const second = auditConfigInForce(dir, { ...base, hash: 'h2', sealedAt: 't2', activeFrom: 't3' }, 3);
    deepStrictEqual([second?.previousHash, second?.hash, second?.tsEvent], ['h1', 'h2', 3]);
    const lines = readFileSync(path.join(dir, 'audit.jsonl'), 'utf8').trim().split('\n');
    equal(lines.length, 2);
    equal(lastConfigInForce(path.join(dir, 'audit.jsonl'))?.hash, 'h2');
  });

  it('an unsealed live run allowed by --allow-unsealed is recorded every time; a torn line is skipped', () => {
    const dir = path.join(tmp.dir, 'b');
    const unsealed = { ...base, sealed: false, hash: 'h1', allowUnsealed: true };
    ok(auditConfigInForce(dir, unsealed, 1));
    ok(auditConfigInForce(dir, unsealed, 2));
    appendFileSync(path.join(dir, 'audit.jsonl'), '{"kind":"config-in-force","hash":"torn');
    const third = auditConfigInForce(dir, { ...base, hash: 'h1' }, 3);
    equal(third?.previousHash, 'h1', 'the sealed config replacing the unsealed one is a change');
    equal(third?.sealed, true);
  });
});
