/**
 * Sealed live configs (spec §3.6, "emotionless operation"): `run-pipeline seal <config>` encrypts
 * and signs a validated config into `<config>.sealed`; live sessions accept only a sealed config
 * (unless `--allow-unsealed`, audited), refuse a tampered one, and a config takes effect only
 * after a cooldown from its sealing (24 h by default), so nobody changes a live strategy on
 * impulse. The key comes from `BOT4_SEAL_KEY` (a passphrase, ≥ 12 characters) and is never
 * written anywhere; the clear config is never written to disk by bot4.
 *
 * File: `{ format, version, configName, sha256 (of the clear text), sealedAt, activeFrom, kdf,
 * iv, tag, data }`; everything but iv/tag/data is authenticated, so moving `activeFrom` earlier
 * breaks the seal.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { deriveKey, newScryptParams, type ScryptParams, type SealedBox, seal, unseal } from '../sinks/sealedBox';

export const SEALED_SUFFIX = '.sealed';
export const DEFAULT_COOLDOWN_MS = 24 * 3_600_000;

export class SealError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'SealError';
  }
}

interface SealHeader {
  readonly format: 'bot4-sealed-config';
  readonly version: 1;
  /** The clear file's name, for error positions and relative paths (models). */
  readonly configName: string;
  /** sha256 of the clear text. */
  readonly sha256: string;
  readonly sealedAt: string;
  readonly activeFrom: string;
  readonly kdf: ScryptParams;
}

type SealedFile = SealHeader & SealedBox;

export function sealKeyFrom(env: NodeJS.ProcessEnv = process.env): string {
  const key = env['BOT4_SEAL_KEY'];
  if (!key || key.length < 12) {
    throw new SealError(
      'BOT4_SEAL_KEY',
      `expected a passphrase of at least 12 characters in the environment, found ${key ? `${key.length} characters` : 'none'}`,
    );
  }
  return key;
}

/** Seals `text` (already validated by the caller) into `out`, atomically, 0600; audits the change. */
export function sealConfigText(options: {
  readonly text: string;
  readonly configFile: string;
  readonly out: string;
  readonly key: string;
  readonly now: number;
  readonly cooldownMs?: number;
  readonly scryptN?: number;
}): SealHeader {
  const cooldown = options.cooldownMs ?? DEFAULT_COOLDOWN_MS;
  const header: SealHeader = {
    format: 'bot4-sealed-config',
    version: 1,
    configName: path.basename(options.configFile),
    sha256: createHash('sha256').update(options.text).digest('hex'),
    sealedAt: new Date(options.now).toISOString(),
    activeFrom: new Date(options.now + cooldown).toISOString(),
    kdf: newScryptParams(options.scryptN),
  };
  const box = seal(deriveKey(options.key, header.kdf), header, options.text);
  let previous: string | null = null;
  try {
    previous = (JSON.parse(readFileSync(options.out, 'utf8')) as SealHeader).sha256;
  } catch {
    // no earlier sealed config there
  }
  const tmp = `${options.out}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ ...header, ...box }, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, options.out);
  appendFileSync(
    `${options.out}.audit.jsonl`,
    `${JSON.stringify({ ts: header.sealedAt, kind: 'config-sealed', config: header.configName, previous, sha256: header.sha256, activeFrom: header.activeFrom })}\n`,
    { mode: 0o600 },
  );
  return header;
}

/**
 * The clear text of a sealed config: authenticated with the key, and only once its cooldown has
 * passed. Returns the path the clear config had (beside the sealed file) for relative paths.
 */
export function unsealConfigFile(
  file: string,
  key: string,
  now: number,
): { text: string; virtualPath: string; header: SealHeader } {
  let stored: SealedFile;
  try {
    stored = JSON.parse(readFileSync(file, 'utf8')) as SealedFile;
    if (stored.format !== 'bot4-sealed-config' || stored.version !== 1) throw new Error('not a bot4 sealed config');
  } catch (err) {
    throw new SealError(file, `not a readable sealed config (${(err as Error).message})`);
  }
  const header: SealHeader = {
    format: stored.format,
    version: stored.version,
    configName: stored.configName,
    sha256: stored.sha256,
    sealedAt: stored.sealedAt,
    activeFrom: stored.activeFrom,
    kdf: stored.kdf,
  };
  let text: string;
  try {
    text = unseal(deriveKey(key, header.kdf), header, stored);
  } catch {
    throw new SealError(
      file,
      'the seal is broken: the file was changed after sealing, or BOT4_SEAL_KEY is not the key it was sealed with',
    );
  }
  if (createHash('sha256').update(text).digest('hex') !== header.sha256) {
    throw new SealError(file, 'the sealed text does not match its recorded checksum');
  }
  const activeFrom = Date.parse(header.activeFrom);
  if (now < activeFrom) {
    throw new SealError(
      file,
      `sealed at ${header.sealedAt}; it takes effect at ${header.activeFrom} (cooldown), not before — the config in force stays until then`,
    );
  }
  return { text, virtualPath: path.join(path.dirname(path.resolve(file)), header.configName), header };
}
