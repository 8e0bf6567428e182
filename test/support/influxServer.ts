/**
 * A real InfluxDB 1.8 for the tests, on loopback: built by `scripts/influxdb.sh install` into
 * `.cache/bin` when absent, started on a free port with a fresh data folder, stopped after. It can
 * be killed and restarted on the same port and data (the outage test). `INFLUX_URL` points the
 * tests at an existing server instead (it must answer InfluxQL on `/query`, as 1.8 does).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { eventually } from './eventually';
import { freePort } from './freePort';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

export interface InfluxServer {
  readonly url: string;
  /** True when the server is ours (so it can be stopped and restarted). */
  readonly owned: boolean;
  /** Creates a database and returns the v2 bucket name for it (`<db>/autogen`). */
  createDatabase(name: string): Promise<string>;
  /** InfluxQL query; returns the `series` of the first statement. */
  query(db: string, q: string): Promise<InfluxSeries[]>;
  /** Stops the server abruptly (SIGKILL), keeping its data. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface InfluxSeries {
  readonly name: string;
  readonly tags?: Record<string, string>;
  readonly columns: string[];
  readonly values: unknown[][];
}

async function query(url: string, db: string, q: string, method: 'GET' | 'POST' = 'GET'): Promise<InfluxSeries[]> {
  const params = new URLSearchParams({ q, epoch: 'ns', ...(db ? { db } : {}) });
  const response = await fetch(`${url}/query?${params}`, { method });
  const body = (await response.json()) as { results?: { series?: InfluxSeries[]; error?: string }[]; error?: string };
  if (!response.ok || body.error) throw new Error(`InfluxQL ${q}: HTTP ${response.status} ${body.error ?? ''}`);
  const first = body.results?.[0];
  if (first?.error) throw new Error(`InfluxQL ${q}: ${first.error}`);
  return first?.series ?? [];
}

/** Starts (or, with INFLUX_URL, adopts) a server. Call from a mocha `before` with a long timeout. */
export async function startInfluxServer(dataDir: string): Promise<InfluxServer> {
  const external = process.env['INFLUX_URL'];
  if (external) {
    return {
      url: external,
      owned: false,
      createDatabase: async (name) => {
        await query(external, '', `CREATE DATABASE "${name}"`, 'POST');
        return `${name}/autogen`;
      },
      query: (db, q) => query(external, db, q),
      kill: async () => {
        throw new Error('INFLUX_URL server: not ours to stop');
      },
      restart: async () => {
        throw new Error('INFLUX_URL server: not ours to restart');
      },
      stop: async () => {},
    };
  }
  execFileSync(path.join(REPO_ROOT, 'scripts', 'influxdb.sh'), ['install'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const binary = path.join(process.env['BOT4_CACHE_BIN'] ?? path.join(REPO_ROOT, '.cache', 'bin'), 'influxd');
  const httpPort = await freePort();
  const rpcPort = await freePort();
  mkdirSync(dataDir, { recursive: true });
  const configFile = path.join(dataDir, 'influxdb.conf');
  writeFileSync(
    configFile,
    [
      'reporting-disabled = true',
      `bind-address = "127.0.0.1:${rpcPort}"`,
      '[meta]',
      `  dir = "${path.join(dataDir, 'meta')}"`,
      '[data]',
      `  dir = "${path.join(dataDir, 'data')}"`,
      `  wal-dir = "${path.join(dataDir, 'wal')}"`,
      '  query-log-enabled = false',
      '[http]',
      `  bind-address = "127.0.0.1:${httpPort}"`,
      '  log-enabled = false',
      '  flux-enabled = false',
      '[monitor]',
      '  store-enabled = false',
      '[continuous_queries]',
      '  enabled = false',
      '',
    ].join('\n'),
  );
  const url = `http://127.0.0.1:${httpPort}`;
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const started = spawn(binary, ['run', '-config', configFile], { stdio: 'ignore' });
    child = started;
    await eventually(
      async () => {
        if (started.exitCode !== null) throw new Error(`influxd exited with ${started.exitCode}`);
        const response = await fetch(`${url}/ping`);
        if (response.status !== 204) throw new Error(`ping: ${response.status}`);
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
  };
  const kill = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill('SIGKILL');
    });
  };
  await launch();
  return {
    url,
    owned: true,
    createDatabase: async (name) => {
      await query(url, '', `CREATE DATABASE "${name}"`, 'POST');
      return `${name}/autogen`;
    },
    query: (db, q) => query(url, db, q),
    kill,
    restart: launch,
    stop: async () => {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve());
        running.kill('SIGTERM');
      });
    },
  };
}
