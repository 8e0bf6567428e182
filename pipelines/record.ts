/**
 * `run-pipeline record`: polls the intelligence providers of a config (within the tier's daily
 * budgets) and appends what each returned, with its observation time, to a JSONL file that
 * backtests replay (`backtest --intel <file>`). Problems (429s, timeouts, dead letters) are
 * recorded too, so a gap in the data explains itself.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { asyncScheduler, lastValueFrom, takeUntil, tap, timer, type Observable, type SchedulerLike } from 'rxjs';
import type { IntelEvent } from '../operators/intelligence';
import { makeIntelSources, planProviders, type ProviderPlan } from '../sources/intel';
import { recordLine } from '../sources/intel/recording';
import { loadConfig } from './config';

export interface RecordOptions {
  readonly configFile: string;
  /** JSONL file to append to. */
  readonly outFile: string;
  /** Stop after this long, ms (default: until stopped). */
  readonly durationMs?: number;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly scheduler?: SchedulerLike;
  readonly onEvent?: (event: IntelEvent) => void;
  /** Stops the recording (SIGINT). */
  readonly stop$?: Observable<unknown>;
}

export interface RecordResult {
  readonly observations: number;
  readonly problems: number;
  readonly plans: readonly ProviderPlan[];
}

/** Records until the duration ends or `stop$` fires; resolves with what was written. */
export async function recordIntelligence(options: RecordOptions): Promise<RecordResult> {
  const config = loadConfig(options.configFile);
  const providers = config.intelligence?.providers;
  if (!providers || Object.values(providers).every((p) => p === undefined))
    throw new Error(`config ${config.file}: record needs intelligence.providers (none configured)`);
  const plans = planProviders(providers, config.tier);
  const scheduler = options.scheduler ?? asyncScheduler;
  const source$ = makeIntelSources({
    providers,
    tier: config.tier,
    scheduler,
    ...(options.env ? { env: options.env } : {}),
  });
  mkdirSync(path.dirname(path.resolve(options.outFile)), { recursive: true });
  let observations = 0;
  let problems = 0;
  const ends: Observable<unknown>[] = [];
  if (options.durationMs !== undefined) ends.push(timer(options.durationMs, scheduler));
  if (options.stop$) ends.push(options.stop$);
  let stream = source$;
  for (const end of ends) stream = stream.pipe(takeUntil(end));
  return lastValueFrom(
    stream.pipe(
      tap((event) => {
        appendFileSync(options.outFile, recordLine(event));
        if (event.kind === 'intel') observations++;
        else problems++;
        options.onEvent?.(event);
      }),
    ),
    { defaultValue: undefined },
  ).then(() => ({ observations, problems, plans }));
}
