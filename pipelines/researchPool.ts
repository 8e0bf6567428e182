/**
 * Runs walk-forward trials in worker processes (one per core by default), so an optimisation uses
 * every core. Processes, not `worker_threads`: tulind's native addon is not context-aware and
 * refuses to load in a second thread ("Module did not self-register"). This file is both the pool
 * and the worker's entry point: a worker is this module forked with BOT4_RESEARCH_WORKER=1 and
 * answers one trial per message.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { runWalkForward, type WalkForwardOptions, type WalkForwardResult } from './researchWalkForward';

type TrialOptions = Omit<WalkForwardOptions, 'onProgress'>;

interface Request {
  readonly id: number;
  readonly options: TrialOptions;
}
type Reply =
  | { readonly id: number; readonly result: WalkForwardResult }
  | { readonly id: number; readonly error: string };

const WORKER_ENV = 'BOT4_RESEARCH_WORKER';

if (require.main === module && process.env[WORKER_ENV] === '1' && process.send) {
  const send = process.send.bind(process);
  process.on('message', (req: Request) => {
    runWalkForward(req.options).then(
      (result) => send({ id: req.id, result } satisfies Reply),
      (err: unknown) => send({ id: req.id, error: (err as Error).stack ?? String(err) } satisfies Reply),
    );
  });
}

export function defaultWorkers(): number {
  return Math.max(1, cpus().length);
}

/** A fixed set of worker processes running walk-forwards; `close()` ends them. */
export class WalkForwardPool {
  private readonly workers: ChildProcess[];
  private nextId = 0;

  constructor(size: number) {
    this.workers = Array.from({ length: size }, () =>
      fork(__filename, [], {
        env: { ...process.env, [WORKER_ENV]: '1' },
        serialization: 'advanced',
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      }),
    );
  }

  get size(): number {
    return this.workers.length;
  }

  /** Runs the trials, at most one per worker at a time; results in the order given. */
  async runAll(trials: readonly TrialOptions[]): Promise<WalkForwardResult[]> {
    const results: WalkForwardResult[] = new Array(trials.length);
    let next = 0;
    const drive = async (worker: ChildProcess): Promise<void> => {
      while (next < trials.length) {
        const index = next++;
        results[index] = await this.runOne(worker, trials[index] as TrialOptions);
      }
    };
    await Promise.all(this.workers.map(drive));
    return results;
  }

  private runOne(worker: ChildProcess, options: TrialOptions): Promise<WalkForwardResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onMessage = (reply: Reply): void => {
        if (reply.id !== id) return;
        worker.off('message', onMessage);
        worker.off('error', onError);
        if ('error' in reply) reject(new Error(`walk-forward trial failed in a worker: ${reply.error}`));
        else resolve(reply.result);
      };
      const onError = (err: Error): void => {
        worker.off('message', onMessage);
        reject(err);
      };
      worker.on('message', onMessage);
      worker.once('error', onError);
      worker.send({ id, options } satisfies Request);
    });
  }

  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.exitCode !== null || w.signalCode !== null) return resolve();
            w.once('exit', () => resolve());
            w.disconnect();
          }),
      ),
    );
  }
}
