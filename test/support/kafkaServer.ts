/**
 * A real Apache Kafka broker for the tests (KRaft, single node, on loopback), one per mocha run:
 * the first test file that asks starts it with `scripts/kafka.sh` (jars from Maven Central, cached
 * in `.cache/kafka`), and it is stopped when the run exits. `KAFKA_BROKERS` points the tests at an
 * existing cluster instead (then the tests that kill the broker are pending, saying why).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeKafkaClient, waitForCluster } from '../../pipelines/rolesKafka';
import { freePort } from './freePort';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const SCRIPT = path.join(REPO_ROOT, 'scripts', 'kafka.sh');

export interface KafkaBroker {
  readonly brokers: string[];
  /** True when the broker is ours (it can be killed and restarted). */
  readonly owned: boolean;
  /** SIGKILL, keeping its data; resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same ports and data; resolves once the cluster answers. */
  restart(): Promise<void>;
}

let shared: Promise<KafkaBroker> | undefined;

/** The run's broker (started on first use). Call from a mocha `before` with a long timeout. */
export function kafkaBroker(): Promise<KafkaBroker> {
  shared ??= start();
  return shared;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A killed broker is no child of ours: until something reaps it, it is a zombie, not alive.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function start(): Promise<KafkaBroker> {
  const external = process.env['KAFKA_BROKERS'];
  if (external) {
    const brokers = external.split(',').map((b) => b.trim());
    await waitForCluster(makeKafkaClient(brokers, 'bot4-test'));
    const refuse = async (): Promise<void> => {
      throw new Error('KAFKA_BROKERS cluster: not ours to kill or restart');
    };
    return { brokers, owned: false, kill: refuse, restart: refuse };
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bot4-kafka-'));
  const port = await freePort();
  const controllerPort = await freePort();
  let pid = 0;
  const launch = async (): Promise<void> => {
    // Generous: a JVM start on this loaded 2-core machine takes 5–30 s; readiness is polled.
    execFileSync(SCRIPT, ['start', dir, String(port), String(controllerPort)], {
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 300_000,
    });
    pid = Number(readFileSync(path.join(dir, 'kafka.pid'), 'utf8').trim());
    await waitForCluster(makeKafkaClient([`127.0.0.1:${port}`], 'bot4-test'), 180_000);
  };
  await launch();
  process.on('exit', () => {
    if (pid && alive(pid)) process.kill(pid, 'SIGTERM');
  });
  return {
    brokers: [`127.0.0.1:${port}`],
    owned: true,
    kill: async () => {
      if (!alive(pid)) return;
      process.kill(pid, 'SIGKILL');
      while (alive(pid)) await new Promise((resolve) => setTimeout(resolve, 20));
    },
    restart: launch,
  };
}
