/**
 * A real Jaeger (v2 all-in-one: OTLP/HTTP receiver, in-memory storage, query API) for the trace
 * tests, on loopback: built by `scripts/jaeger.sh install` into `.cache/bin` when absent, started
 * on free ports, stopped after. `JAEGER_OTLP_URL` (the OTLP/HTTP traces endpoint) with
 * `JAEGER_QUERY_URL` (the query service) point the tests at an existing one instead.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { eventually } from './eventually';
import { freePort } from './freePort';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

export interface JaegerSpan {
  readonly traceID: string;
  readonly spanID: string;
  readonly operationName: string;
  readonly tags: readonly { readonly key: string; readonly value: unknown }[];
}

export interface JaegerServer {
  /** OTLP/HTTP traces endpoint (`…/v1/traces`). */
  readonly otlpUrl: string;
  /** The spans Jaeger stored for a trace id (32 hex digits); [] when it has none. */
  trace(traceId: string): Promise<JaegerSpan[]>;
  stop(): Promise<void>;
}

async function traceFrom(queryUrl: string, traceId: string): Promise<JaegerSpan[]> {
  const response = await fetch(`${queryUrl}/api/traces/${traceId}`);
  if (response.status === 404) return [];
  const body = (await response.json()) as { data?: { spans: JaegerSpan[] }[]; errors?: { msg: string }[] | null };
  if (!response.ok) {
    if (body.errors?.some((e) => /not found/i.test(e.msg))) return [];
    throw new Error(`jaeger query ${traceId}: HTTP ${response.status} ${JSON.stringify(body.errors)}`);
  }
  return (body.data ?? []).flatMap((t) => t.spans);
}

/** Starts (or adopts) a Jaeger. Call from a mocha `before` with a long timeout. */
export async function startJaeger(dir: string): Promise<JaegerServer> {
  const otlp = process.env['JAEGER_OTLP_URL'];
  const query = process.env['JAEGER_QUERY_URL'];
  if (otlp && query) return { otlpUrl: otlp, trace: (id) => traceFrom(query, id), stop: async () => {} };

  execFileSync(path.join(REPO_ROOT, 'scripts', 'jaeger.sh'), ['install'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const binary = path.join(process.env['BOT4_CACHE_BIN'] ?? path.join(REPO_ROOT, '.cache', 'bin'), 'jaeger');
  const [otlpPort, queryPort, grpcPort] = [await freePort(), await freePort(), await freePort()];
  mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, 'jaeger.yaml');
  writeFileSync(
    configFile,
    `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${queryPort}
    grpc:
      endpoint: 127.0.0.1:${grpcPort}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlpPort}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`,
  );
  const queryUrl = `http://127.0.0.1:${queryPort}`;
  let output = '';
  const child: ChildProcess = spawn(binary, ['--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`jaeger exited with ${child.exitCode}: ${output}`);
        const response = await fetch(`${queryUrl}/api/services`);
        if (!response.ok) throw new Error(`jaeger query: ${response.status}`);
        // The receiver answers too (an empty export is accepted).
        const receiver = await fetch(`http://127.0.0.1:${otlpPort}/v1/traces`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"resourceSpans":[]}',
        });
        if (!receiver.ok) throw new Error(`jaeger OTLP receiver: ${receiver.status}`);
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    otlpUrl: `http://127.0.0.1:${otlpPort}/v1/traces`,
    trace: (id) => traceFrom(queryUrl, id),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
