/** `run-pipeline seal <config>`: validates a config, then seals it (pipelines/seal.ts). */
import { type Command, InvalidArgumentError } from 'commander';
// The config loader (yaml, zod, the schema) is loaded when a config is sealed, not when the
// command is registered: run-pipeline --help stays light.
import type * as ConfigModule from './config';
import { DEFAULT_COOLDOWN_MS, SEALED_SUFFIX, sealConfigText, sealKeyFrom } from './seal';

export { SEALED_SUFFIX } from './seal';

/** `24h`, `90m`, `2d`, `0` → ms. */
export function parseCooldown(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`--cooldown: expected a duration like 24h, 90m or 2d, found "${value}"`);
  const unit = { ms: 1, s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[(m[2] ?? 'h') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

export function registerSealCommand(program: Command): void {
  program
    .command('seal')
    .description(
      'validate and seal a config for live trading: encrypted and signed with BOT4_SEAL_KEY, in force after a cooldown',
    )
    .argument('<config>', 'the config to seal (YAML or JSON)')
    .option('-o, --out <file>', `sealed file (default: <config>${SEALED_SUFFIX})`)
    .option('--cooldown <duration>', 'time before the sealed config takes effect', '24h')
    .option('--json', 'print the result as JSON on stdout')
    .action((config: string, opts: { out?: string; cooldown: string; json?: boolean }) => {
      const cooldownMs = parseCooldown(opts.cooldown);
      // A config that does not validate is never sealed; one that extends another is sealed whole.
      const { text, flattened } = (require('./config') as typeof ConfigModule).flattenConfig(config);
      const out = opts.out ?? `${config}${SEALED_SUFFIX}`;
      const header = sealConfigText({
        text,
        configFile: config,
        out,
        key: sealKeyFrom(),
        now: Date.now(),
        cooldownMs,
      });
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ ok: true, command: 'seal', config, out, flattened, sha256: header.sha256, sealedAt: header.sealedAt, activeFrom: header.activeFrom })}\n`,
        );
        return;
      }
      process.stdout.write(
        `sealed ${config}${flattened ? ' (its extends chain merged into one document)' : ''} → ${out} (sha256 ${header.sha256.slice(0, 16)}…); in force from ${header.activeFrom}${cooldownMs === DEFAULT_COOLDOWN_MS ? ' (24 h cooldown)' : ''}\n`,
      );
    });
}
