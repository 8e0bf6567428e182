/**
 * `run-pipeline doctor`: checks what a session needs before it starts, on the appliance or any
 * machine, and prints a pass/fail table. Exit code 0 when nothing failed (warnings allowed), 1
 * when a check failed. Nothing here places or changes an order; API keys are checked for
 * presence only and never printed.
 */
import { mkdirSync, statfsSync } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { type GpioAccess, ledSelfTest, openGpio, readButton } from '../hardware/gpioProbe';
import type { RpioLike, RpioMockBoard } from '../hardware/killSwitch';
import type { LedColor } from '../operators/ledPattern';
import { queryNtpOffset } from '../sources/ntpClock';
import { redirectRestApi } from '../sources/ohlcvHistory';
import { loadConfig } from './config';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  readonly check: string;
  readonly status: CheckStatus;
  readonly detail: string;
}

export interface DoctorOptions {
  /** Pipeline config to validate and take the venue and symbol from. */
  readonly config?: string;
  /** The session the machine is being prepared for: live also needs API keys. Default paper. */
  readonly mode?: 'paper' | 'live';
  /** Where the session will write its journals (disk space is checked there). Default `out`. */
  readonly out?: string;
  /** Free space required there, MiB; default 1024. */
  readonly minFreeMb?: number;
  /** ccxt exchange id; default the config's venue, else binance. */
  readonly exchange?: string;
  /** REST origin to use instead of the exchange's (a testnet, a local server). */
  readonly apiUrl?: string;
  /** NTP server as host or host:port; default pool.ntp.org. `none` skips the check. */
  readonly ntpServer?: string;
  /** Largest clock offset accepted, ms; default 1000 (exchanges' receive windows are 1–5 s). */
  readonly maxClockOffsetMs?: number;
  /** Network timeout per check, ms; default 5000. */
  readonly timeoutMs?: number;
  /** Answer yes to the LED questions (unattended installs); the pin read-back is still checked. */
  readonly yes?: boolean;
  /** Skip the LED self-test. */
  readonly skipLeds?: boolean;
  /** rpio mock board instead of real GPIO (tests, machines without a Pi). */
  readonly gpioMock?: RpioMockBoard;
  /** Where /dev/gpiomem is looked for (tests). */
  readonly gpiomemPath?: string;
  /** The rpio module (tests). */
  readonly rpio?: RpioLike;
  /** Environment the keys are read from; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Asks the person a yes/no question; default a terminal prompt. */
  readonly ask?: (question: string) => Promise<boolean>;
  /** Progress lines (stderr by default). */
  readonly log?: (line: string) => void;
}

const KEY_VARS = ['BOT4_API_KEY', 'BOT4_API_SECRET'] as const;

/** Runs every check in order; never throws for a failed check (it becomes a `fail` row). */
export async function runDoctor(options: DoctorOptions = {}): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const add = (check: string, status: CheckStatus, detail: string): void => {
    results.push({ check, status, detail });
    log(`  ${status.toUpperCase().padEnd(4)}  ${check}: ${detail}`);
  };
  const timeoutMs = options.timeoutMs ?? 5000;
  const env = options.env ?? process.env;

  // 1. The config, when given: it names the venue and the symbol the other checks use.
  let venue = options.exchange;
  let symbol: string | undefined;
  if (options.config !== undefined) {
    try {
      const config = loadConfig(options.config);
      venue ??= config.instrument.venue;
      symbol = config.instrument.symbol;
      add(
        'config',
        'pass',
        `${options.config}: valid (${config.name}, ${config.instrument.symbol} on ${config.instrument.venue})`,
      );
    } catch (err) {
      add('config', 'fail', messageOf(err).split('\n').slice(0, 4).join(' | '));
    }
  } else {
    add('config', 'skip', 'no --config given');
  }
  venue ??= 'binance';

  // 2. GPIO, the button, the LEDs.
  let gpio: GpioAccess | undefined;
  try {
    gpio = openGpio({
      ...(options.gpioMock !== undefined ? { mock: options.gpioMock } : {}),
      ...(options.rpio !== undefined ? { rpio: options.rpio } : {}),
      ...(options.gpiomemPath !== undefined ? { gpiomemPath: options.gpiomemPath } : {}),
    });
    add('gpio', gpio.real ? 'pass' : 'warn', gpio.detail);
  } catch (err) {
    add('gpio', 'fail', messageOf(err));
  }
  if (gpio) {
    if (!gpio.real) {
      add('kill switch button', 'skip', 'mock mode: an unconnected pin reads LOW (pressed); nothing to read');
    } else {
      try {
        const reading = readButton(gpio.rpio, 17);
        add(
          'kill switch button',
          reading === 'released' ? 'pass' : 'fail',
          reading === 'released'
            ? 'BCM17 reads HIGH (released, pull-up)'
            : 'BCM17 reads LOW: the button is pressed or the pin is shorted to ground — a session would start in Emergency',
        );
      } catch (err) {
        add('kill switch button', 'fail', `BCM17: ${messageOf(err)}`);
      }
    }
    if (options.skipLeds) {
      add('status LEDs', 'skip', '--skip-leds');
    } else {
      const ask = options.ask ?? askOnTerminal;
      try {
        const results = await ledSelfTest(
          gpio.rpio,
          { green: 22, yellow: 23, red: 24 },
          (color: LedColor, pin: number) =>
            options.yes ? Promise.resolve(true) : ask(`Is the ${color} LED (BCM${pin}) lit, and only it? [y/N] `),
        );
        const notDriven = results.filter((r) => r.readBack !== gpio.rpio.HIGH);
        const notSeen = results.filter((r) => !r.confirmed);
        const status: CheckStatus = notDriven.length || notSeen.length ? 'fail' : gpio.real ? 'pass' : 'warn';
        const parts = results.map(
          (r) =>
            `${r.color} BCM${r.pin} ${r.readBack === gpio.rpio.HIGH ? 'driven' : 'NOT driven'}${r.confirmed ? '' : ', not seen'}`,
        );
        add('status LEDs', status, `${parts.join('; ')}${gpio.real ? '' : ' (mock mode: nothing to see)'}`);
      } catch (err) {
        add('status LEDs', 'fail', messageOf(err));
      }
    }
  }

  // 3. The clock against NTP.
  const maxOffset = options.maxClockOffsetMs ?? 1000;
  const ntp = options.ntpServer ?? 'pool.ntp.org';
  if (ntp === 'none') {
    add('clock (NTP)', 'skip', '--ntp-server none');
  } else {
    const [host, port] = splitHostPort(ntp, 123);
    try {
      const r = await queryNtpOffset({ host, port, timeoutMs });
      add(
        'clock (NTP)',
        Math.abs(r.offsetMs) <= maxOffset ? 'pass' : 'fail',
        `offset ${r.offsetMs.toFixed(1)} ms from ${ntp} (stratum ${r.stratum}, delay ${r.delayMs.toFixed(1)} ms; limit ±${maxOffset} ms)${Math.abs(r.offsetMs) > maxOffset ? ': exchanges reject requests from a skewed clock — enable NTP (timedatectl set-ntp true)' : ''}`,
      );
    } catch (err) {
      add('clock (NTP)', 'fail', messageOf(err));
    }
  }

  // 4. Disk space for the journals.
  const out = path.resolve(options.out ?? 'out');
  const minFreeMb = options.minFreeMb ?? 1024;
  try {
    mkdirSync(out, { recursive: true });
    const fs = statfsSync(out);
    const freeMb = (fs.bavail * fs.bsize) / 2 ** 20;
    add(
      'disk space',
      freeMb >= minFreeMb ? 'pass' : 'fail',
      `${freeMb.toFixed(0)} MiB free at ${out} (need ${minFreeMb} MiB)`,
    );
  } catch (err) {
    add('disk space', 'fail', `${out}: ${messageOf(err)}`);
  }

  // 5. API keys (live only), presence only.
  const missing = KEY_VARS.filter((k) => !env[k]);
  if ((options.mode ?? 'paper') === 'live') {
    add(
      'API keys',
      missing.length ? 'fail' : 'pass',
      missing.length
        ? `missing ${missing.join(', ')} (set them in the service's environment file, mode 0600)`
        : `${KEY_VARS.join(', ')} present (not shown)`,
    );
  } else {
    add('API keys', 'skip', `paper mode needs none${missing.length ? '' : ' (present, not shown)'}`);
  }

  // 6. The exchange: reachable, its clock, the symbol listed.
  await checkExchange(venue, symbol, options.apiUrl, timeoutMs, maxOffset, add);
  return results;
}

async function checkExchange(
  venue: string,
  symbol: string | undefined,
  apiUrl: string | undefined,
  timeoutMs: number,
  maxOffset: number,
  add: (check: string, status: CheckStatus, detail: string) => void,
): Promise<void> {
  const ccxt = await import('ccxt');
  const Exchange = (ccxt as unknown as Record<string, new (o: object) => import('ccxt').Exchange>)[venue];
  if (typeof Exchange !== 'function') {
    add('exchange', 'fail', `unknown ccxt exchange "${venue}"`);
    return;
  }
  const exchange = new Exchange({ enableRateLimit: false, timeout: timeoutMs });
  if (symbol === undefined || !symbol.includes(':')) {
    // A spot symbol: load spot markets only (Binance would also load futures and margin pairs).
    const options = exchange.options as Record<string, unknown>;
    const fetchMarkets = options['fetchMarkets'] as { types?: unknown } | undefined;
    if (fetchMarkets && Array.isArray(fetchMarkets.types))
      options['fetchMarkets'] = { ...fetchMarkets, types: ['spot'] };
    options['defaultType'] = 'spot';
    options['fetchMargins'] = false;
  }
  if (apiUrl !== undefined) redirectRestApi(exchange.urls['api'], apiUrl.replace(/\/+$/, ''));
  try {
    const t0 = Date.now();
    const serverTime = await exchange.fetchTime();
    const t1 = Date.now();
    if (typeof serverTime !== 'number') {
      add('exchange', 'warn', `${venue} answered but has no server time`);
    } else {
      const offset = serverTime - (t0 + t1) / 2;
      add(
        'exchange',
        Math.abs(offset) <= maxOffset ? 'pass' : 'fail',
        `${venue} reachable in ${t1 - t0} ms; its clock is ${offset >= 0 ? '+' : ''}${offset.toFixed(0)} ms from ours (limit ±${maxOffset} ms)`,
      );
    }
    if (symbol !== undefined) {
      const markets = await exchange.loadMarkets();
      const market = markets[symbol];
      add(
        'symbol',
        market && market.active !== false ? 'pass' : 'fail',
        market
          ? `${symbol} listed${market.active === false ? ' but not active' : ''}`
          : `${symbol} is not listed on ${venue}`,
      );
    }
  } catch (err) {
    add('exchange', 'fail', `${venue}${apiUrl ? ` at ${apiUrl}` : ''} not reachable: ${messageOf(err)}`);
  } finally {
    await exchange.close().catch(() => undefined);
    const dispatcher = (exchange as unknown as { fetchDispatcher?: { close?: () => Promise<void> } }).fetchDispatcher;
    await dispatcher?.close?.().catch(() => undefined);
  }
}

/** The table a person reads. */
export function formatDoctor(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.check.length));
  const failed = results.filter((r) => r.status === 'fail').length;
  const warned = results.filter((r) => r.status === 'warn').length;
  return [
    ...results.map((r) => `${r.status.toUpperCase().padEnd(4)}  ${r.check.padEnd(width)}  ${r.detail}`),
    '',
    failed
      ? `${failed} check(s) failed: fix them before starting a session.`
      : `ready${warned ? ` (${warned} warning(s))` : ''}.`,
  ].join('\n');
}

async function askOnTerminal(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

function splitHostPort(value: string, defaultPort: number): [string, number] {
  const m = /^(.*):(\d+)$/.exec(value);
  return m && !m[1]!.endsWith(':') ? [m[1]!, Number(m[2])] : [value, defaultPort];
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
