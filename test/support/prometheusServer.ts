/**
 * A real Prometheus for the tests (Debian's package, installed by `scripts/prometheus.sh`), on
 * loopback, scraping the given target every second. Its target comes from a file (`file_sd`), so
 * an existing server works the same way:
 *
 *   PROMETHEUS_URL=http://127.0.0.1:9090 PROMETHEUS_TARGETS_FILE=/etc/prometheus/bot4-test.json npm test
 *
 * uses the Prometheus at PROMETHEUS_URL instead of starting one, writing the target into
 * PROMETHEUS_TARGETS_FILE — a file that server watches with a `file_sd_configs` entry (scrape
 * interval 1 s; e.g. `scrape_configs: [{job_name: bot4-test, scrape_interval: 1s,
 * file_sd_configs: [{files: [/etc/prometheus/bot4-test.json], refresh_interval: 1s}]}]`); the
 * target's `job` label is `bot4`. The rule files are then the server's own.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { eventually } from './eventually';
import { freePort } from './freePort';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

export function ensurePromtool(): void {
  execFileSync(path.join(REPO_ROOT, 'scripts', 'prometheus.sh'), { stdio: ['ignore', 'inherit', 'inherit'] });
}

export interface PrometheusServer {
  readonly url: string;
  query(expr: string): Promise<{
    status: string;
    data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
    error?: string;
  }>;
  stop(): Promise<void>;
}

/** The file_sd target list naming `target` (job `bot4`), or naming nothing. */
function writeTargets(file: string, target: string | undefined): void {
  writeFileSync(file, JSON.stringify(target ? [{ targets: [target], labels: { job: 'bot4' } }] : []));
}

/** The Prometheus at PROMETHEUS_URL, if set: checked to be ready, the target written for it. */
async function existingPrometheus(target: string, env: NodeJS.ProcessEnv): Promise<PrometheusServer | undefined> {
  const url = env['PROMETHEUS_URL']?.replace(/\/+$/, '');
  if (!url) return undefined;
  const targets = env['PROMETHEUS_TARGETS_FILE'];
  if (!targets)
    throw new Error(
      `PROMETHEUS_URL=${url} needs PROMETHEUS_TARGETS_FILE: a file_sd file that server watches, into which the test writes the target to scrape`,
    );
  const ready = await fetch(`${url}/-/ready`).catch((err: unknown) => {
    throw new Error(`PROMETHEUS_URL=${url}: not reachable (${(err as Error).message})`);
  });
  if (ready.status !== 200) throw new Error(`PROMETHEUS_URL=${url}: /-/ready answered ${ready.status}`);
  writeTargets(targets, target);
  return {
    url,
    query: queryOf(url),
    stop: async () => writeTargets(targets, undefined),
  };
}

function queryOf(url: string): PrometheusServer['query'] {
  return async (expr) => {
    const response = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
    return (await response.json()) as Awaited<ReturnType<PrometheusServer['query']>>;
  };
}

export async function startPrometheus(
  dir: string,
  target: string,
  ruleFiles: readonly string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): Promise<PrometheusServer> {
  const existing = await existingPrometheus(target, env);
  if (existing) return existing;
  ensurePromtool();
  const port = await freePort();
  const config = path.join(dir, 'prometheus.yml');
  const targets = path.join(dir, 'targets.json');
  writeTargets(targets, target);
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      `rule_files: [${ruleFiles.map((f) => JSON.stringify(f)).join(', ')}]`,
      'scrape_configs:',
      '  - job_name: bot4-test',
      `    file_sd_configs: [{ files: [${JSON.stringify(targets)}], refresh_interval: 1s }]`,
      '',
    ].join('\n'),
  );
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=error',
    ],
    { stdio: 'ignore' },
  );
  await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}`);
      const response = await fetch(`${url}/-/ready`);
      if (response.status !== 200) throw new Error(`ready: ${response.status}`);
    },
    { timeoutMs: 60_000, intervalMs: 50 },
  );
  return {
    url,
    query: queryOf(url),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
