/**
 * bot4's one logger (spec §16.2): JSON lines from pino, one child per component with its own
 * level, to standard output (journald under systemd) and optionally to a size-rotated file
 * (pino-roll). Lines carry `service`, `component` and `level` — the labels a Loki/Promtail setup
 * indexes (README "Logs") — and, for trading events, the fields of the event schema below.
 *
 * Secrets never reach a line, twice over: fields named like credentials are censored by pino's
 * `redact` (`apiKey`, `secret`, `password`, `passphrase`, `token`, `authorization`, `signature`, at
 * any depth up to two levels), and every secret value the process knows (from the environment or
 * the keystore) is replaced by `[redacted]` in the serialised line itself — so a key that slips
 * into an error message from a library is scrubbed too.
 */
import pino, { type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type LogLevel = Exclude<LevelWithSilent, 'silent'> | 'silent';

export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export interface LoggerConfig {
  /** Level of every component without its own; default info. */
  readonly level?: LogLevel;
  /** Per-component levels, e.g. `{ venue: 'debug', feed: 'warn' }`. */
  readonly components?: Readonly<Record<string, LogLevel>>;
  /** Also write to this file, rotated by size (pino-roll); default none. */
  readonly file?: { readonly path: string; readonly size?: string; readonly keep?: number };
  /** Write to standard output (journald under systemd); default true. */
  readonly stdout?: boolean;
  /** Secret values to scrub from every line (API keys, secrets, passphrases). */
  readonly secrets?: readonly string[];
  /** Another destination (tests). */
  readonly destination?: DestinationStream;
}

/** Field names whose values are censored wherever they appear (two levels deep). */
export const SECRET_FIELDS = [
  'apiKey',
  'secret',
  'password',
  'passphrase',
  'token',
  'authorization',
  'signature',
  'privateKey',
];

const redactPaths = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);

export interface Bot4Logger {
  /** A logger for one component, at its configured level. */
  component(name: string): Logger;
  /** Flushes what is buffered (before exit). */
  flush(): Promise<void>;
}

/** Escapes a literal for a RegExp. */
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Secret values worth scrubbing: those of 6 characters or more (shorter ones would redact
 * ordinary words), longest first so a secret containing another is removed whole; each also in its
 * JSON-escaped form, as it appears inside a serialised string.
 */
export function secretPattern(secrets: readonly string[]): RegExp | undefined {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (s.length < 6) continue;
    forms.add(s);
    forms.add(JSON.stringify(s).slice(1, -1));
  }
  if (forms.size === 0) return undefined;
  return new RegExp(
    [...forms]
      .sort((a, b) => b.length - a.length)
      .map(escape)
      .join('|'),
    'g',
  );
}

/** The secrets this process holds in its environment (credentials, keystore passphrase, tokens). */
export function secretsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return Object.entries(env)
    .filter(([k, v]) => v && /(_KEY|_SECRET|_PASSWORD|_PASSPHRASE|_TOKEN)$/.test(k))
    .map(([, v]) => v as string);
}

/** Builds the logger; rejects at once for an unknown level, naming the component. */
export async function makeLogger(config: LoggerConfig = {}): Promise<Bot4Logger> {
  const level = config.level ?? 'info';
  for (const [name, l] of [['(default)', level], ...Object.entries(config.components ?? {})] as const) {
    if (!LOG_LEVELS.includes(l))
      throw new RangeError(`logging level for ${name}: expected one of ${LOG_LEVELS.join(', ')}, found "${l}"`);
  }
  const pattern = secretPattern(config.secrets ?? []);
  // In-process streams (pino.multistream), not worker transports: lines are redacted before they
  // leave, and a flush at exit waits for the file.
  const streams: pino.StreamEntry[] = [];
  if (config.destination) streams.push({ stream: config.destination, level: 'trace' });
  if (config.file) {
    // pino-roll ships no types: its default export makes a size/time-rotated SonicBoom stream.
    const roll = (require('pino-roll') as { default?: unknown }).default ?? require('pino-roll');
    const makeRoll = roll as (o: object) => Promise<DestinationStream>;
    streams.push({
      level: 'trace',
      stream: await makeRoll({
        file: config.file.path,
        size: config.file.size ?? '10m',
        limit: { count: config.file.keep ?? 10 },
        mkdir: true,
        mode: 0o640,
      }),
    });
  }
  if (!config.destination && (config.stdout ?? true)) streams.push({ stream: pino.destination(1), level: 'trace' });
  const destination = pino.multistream(streams);
  const root = pino(
    {
      level: 'trace', // each component filters at its own level
      base: { service: 'bot4' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: redactPaths, censor: '[redacted]' },
      hooks: pattern ? { streamWrite: (line) => line.replace(pattern, '[redacted]') } : {},
    },
    destination,
  );
  const children = new Map<string, Logger>();
  return {
    component: (name) => {
      let child = children.get(name);
      if (!child) {
        child = root.child({ component: name }, { level: config.components?.[name] ?? level });
        children.set(name, child);
      }
      return child;
    },
    flush: async () => {
      for (const { stream } of streams) {
        const s = stream as {
          fd?: number;
          once?: (event: string, cb: () => void) => void;
          flush?: (cb?: (err?: Error) => void) => void;
        };
        // A file stream (SonicBoom) opens asynchronously: a flush before it is open writes nothing.
        if (typeof s.fd === 'number' && s.fd < 0 && typeof s.once === 'function')
          await new Promise<void>((resolve) => s.once!('ready', resolve));
        // SonicBoom's flush() calls back at once when it buffers nothing (minLength 0) even while a
        // write is in flight: wait until nothing is buffered or being written (at most 5 s).
        const pending = (): boolean => {
          const b = s as { _writing?: boolean; _len?: number };
          return b._writing === true || (b._len ?? 0) > 0;
        };
        for (let waited = 0; pending() && waited < 5000; waited += 5)
          await new Promise<void>((resolve) => setTimeout(resolve, 5));
        if (typeof s.flush === 'function') await new Promise<void>((resolve) => s.flush!(() => resolve()));
      }
    },
  };
}
