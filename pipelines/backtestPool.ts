/**
 * Many backtests at once — parameter sets, symbols — on a pool of worker processes, as many as
 * the machine has cores. Each job is exactly `runBacktest` (its own config, data, output folder),
 * so a job's report and journal are the same, byte for byte, as when it runs alone in the main
 * process: the pipeline is deterministic and the workers share nothing.
 *
 * Processes, not `worker_threads`: tulind 0.8's native addon is not context-aware, so a second
 * thread that loads it fails ("Module did not self-register"). A process costs ~40 MB more
 * than a thread; it is one per core, reused for every job.
 *
 * ```ts
 * const results = await runBacktests([
 *   { configFile: 'config/growth.yaml', dataFile: 'btc.csv', outDir: 'out/btc' },
 *   { configFile: 'config/growth.yaml', dataFile: 'eth.csv', outDir: 'out/eth' },
 * ]);
 * ```
 */
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { runBacktest, type BacktestOptions, type BacktestResult } from './backtest';

/** One backtest: `runBacktest`'s options without the progress callback (it cannot cross threads). */
export type BacktestJob = Omit<BacktestOptions, 'onProgress'>;

export interface BacktestPoolOptions {
  /** Worker processes. Default: the machine's available parallelism, at most the number of jobs. */
  readonly workers?: number;
  /**
   * Called when a job ends, in completion order, with its index in `jobs` and, for resource
   * accounting, the worker's pid and its peak resident memory so far (KiB).
   */
  readonly onResult?: (index: number, result: BacktestResult, worker: { pid: number; maxRssKb: number }) => void;
}

/** A job that failed in its worker: the job's index, and the error's message and code there. */
export class BacktestJobError extends Error {
  readonly code = 'BACKTEST_JOB_FAILED';
  readonly stage = 'backtest';
  constructor(
    readonly index: number,
    readonly job: BacktestJob,
    override readonly cause: { readonly message: string; readonly code?: string },
  ) {
    super(`backtest ${index + 1} (${job.configFile} on ${job.dataFile}) failed: ${cause.message}`);
    this.name = 'BacktestJobError';
  }
}

interface JobMessage {
  readonly index: number;
  readonly job: BacktestJob;
}

type ResultMessage =
  | { readonly index: number; readonly ok: true; readonly result: BacktestResult; readonly maxRssKb: number }
  | { readonly index: number; readonly ok: false; readonly error: { message: string; code?: string } };

/** Set in a worker's environment: the module then serves jobs instead of exporting only. */
const WORKER_ENV = 'BOT4_BACKTEST_POOL_WORKER';

/**
 * Runs the jobs on a pool of worker processes and resolves with their results in the order of
 * `jobs`. The first failing job rejects with a {@link BacktestJobError} once the jobs already
 * running have ended; no further job starts.
 */
export async function runBacktests(
  jobs: readonly BacktestJob[],
  options: BacktestPoolOptions = {},
): Promise<BacktestResult[]> {
  const workers = options.workers ?? Math.min(availableParallelism(), jobs.length);
  if (options.workers !== undefined && !(Number.isInteger(workers) && workers >= 1))
    throw new Error(`runBacktests: workers must be an integer ≥ 1, found ${String(options.workers)}`);
  if (jobs.length === 0) return [];
  const results = new Array<BacktestResult>(jobs.length);
  let next = 0;
  let failure: BacktestJobError | undefined;

  const runWorker = (): Promise<void> =>
    new Promise((resolve, reject) => {
      // `advanced` serialization: a result may hold bigints (amounts).
      const worker = fork(__filename, [], {
        serialization: 'advanced',
        env: { ...process.env, [WORKER_ENV]: '1' },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      let finished = false;
      const give = (): void => {
        if (failure || next >= jobs.length) {
          finished = true;
          worker.disconnect(); // the worker exits when its channel closes
          return;
        }
        const index = next++;
        const message: JobMessage = { index, job: jobs[index]! };
        worker.send(message);
      };
      worker.on('message', (message: ResultMessage) => {
        if (message.ok) {
          results[message.index] = message.result;
          options.onResult?.(message.index, message.result, { pid: worker.pid ?? 0, maxRssKb: message.maxRssKb });
        } else {
          failure ??= new BacktestJobError(message.index, jobs[message.index]!, message.error);
        }
        give();
      });
      worker.once('error', reject);
      worker.once('exit', (code, signal) => {
        if (finished) resolve();
        else reject(new Error(`backtest worker ${worker.pid} exited early (${signal ?? `code ${code}`})`));
      });
      worker.once('spawn', give);
    });

  await Promise.all(Array.from({ length: Math.min(workers, jobs.length) }, runWorker));
  if (failure) throw failure;
  return results;
}

// The worker side: run each job it is given and send back its result.
if (require.main === module && process.env[WORKER_ENV] === '1' && process.send) {
  const send = process.send.bind(process);
  process.on('message', ({ index, job }: JobMessage) => {
    runBacktest(job).then(
      (result) => send({ index, ok: true, result, maxRssKb: process.resourceUsage().maxRSS } satisfies ResultMessage),
      (err: unknown) => {
        const e = err as { message?: unknown; code?: unknown };
        send({
          index,
          ok: false,
          error: {
            message: typeof e?.message === 'string' ? e.message : String(err),
            ...(typeof e?.code === 'string' ? { code: e.code } : {}),
          },
        } satisfies ResultMessage);
      },
    );
  });
}
