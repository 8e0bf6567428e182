/**
 * Every change of the config a paper or live session runs is audited (spec §3.6): before a
 * session starts, its audit journal gets a `config-in-force` record when the config differs from
 * the one the previous session of that folder ran (name, hash, whether it was sealed and when it
 * took effect), and whenever a live session runs an unsealed config because `--allow-unsealed`
 * said so. The same config started again adds nothing.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { appendJournalRecord } from '../sinks/journal';

export interface ConfigInForce {
  readonly kind: 'config-in-force';
  readonly mode: 'paper' | 'live';
  readonly name: string;
  readonly hash: string;
  /** The file as given (`config/tiers/growth.yaml.sealed`). */
  readonly file: string;
  readonly sealed: boolean;
  /** A sealed config: when it was sealed and from when it is in force (after its cooldown). */
  readonly sealedAt?: string;
  readonly activeFrom?: string;
  /** A live session on an unsealed config, allowed by `--allow-unsealed`. */
  readonly allowUnsealed?: boolean;
  /** The hash the previous record of this folder named; null for the first. */
  readonly previousHash: string | null;
  readonly tsEvent: number;
}

/** The last `config-in-force` record of an audit journal, if any (torn or foreign lines skipped). */
export function lastConfigInForce(auditFile: string): ConfigInForce | null {
  if (!existsSync(auditFile)) return null;
  let last: ConfigInForce | null = null;
  for (const line of readFileSync(auditFile, 'utf8').split('\n')) {
    if (!line.includes('"config-in-force"')) continue;
    try {
      const record = JSON.parse(line) as ConfigInForce;
      if (record.kind === 'config-in-force') last = record;
    } catch {
      // a torn last line: the journal's reader skips it too
    }
  }
  return last;
}

/**
 * Appends a `config-in-force` record to `<outDir>/audit.jsonl` when the config changed since the
 * last record (or is the first), or when an unsealed live config is allowed; returns it, or null
 * when nothing changed.
 */
export function auditConfigInForce(
  outDir: string,
  config: Omit<ConfigInForce, 'kind' | 'previousHash' | 'tsEvent'>,
  now: number,
): ConfigInForce | null {
  const auditFile = path.join(outDir, 'audit.jsonl');
  const previous = lastConfigInForce(auditFile);
  if (previous && previous.hash === config.hash && previous.sealed === config.sealed && !config.allowUnsealed)
    return null;
  const record: ConfigInForce = {
    kind: 'config-in-force',
    ...config,
    previousHash: previous?.hash ?? null,
    tsEvent: now,
  };
  appendJournalRecord(auditFile, record);
  return record;
}
