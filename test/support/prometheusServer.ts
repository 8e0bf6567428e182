/**
 * A real Prometheus for the tests (Debian's package, installed by `scripts/prometheus.sh`), on
 * loopback, scraping the given targets every second. `PROMETHEUS_URL` is not supported: the test
 * needs a server whose scrape config it controls.
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

export async function startPrometheus(
  dir: string,
  target: string,
  ruleFiles: readonly string[] = [],
): Promise<PrometheusServer> {
  ensurePromtool();
  const port = await freePort();
  const config = path.join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      `rule_files: [${ruleFiles.map((f) => JSON.stringify(f)).join(', ')}]`,
      'scrape_configs:',
      '  - job_name: bot4',
      `    static_configs: [{ targets: ["${target}"] }]`,
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
    query: async (expr) => {
      const response = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
      return (await response.json()) as Awaited<ReturnType<PrometheusServer['query']>>;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
