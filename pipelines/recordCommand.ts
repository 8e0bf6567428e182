/**
 * `run-pipeline record`: the CLI side of pipelines/record.ts, loaded without rxjs so `--help`
 * stays fast; the recorder itself is required when the command runs.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type * as RecordModule from './record';

export function registerRecordCommand(program: Command): void {
  program
    .command('record')
    .description(
      "poll the config's intelligence providers (sentiment, on-chain, macro, news) within the tier's daily budgets and append what they return, with observation times, to a JSONL file for backtests (--intel)",
    )
    .requiredOption('-c, --config <file>', 'pipeline config with an intelligence.providers section')
    .requiredOption('-o, --out <file>', 'JSONL file to append to, e.g. out/intel/2026-12.jsonl')
    .option('--duration <seconds>', 'stop after this many seconds (default: until Ctrl-C)', (value: string) => {
      const n = Number(value);
      if (!(Number.isInteger(n) && n > 0))
        throw new InvalidArgumentError(`expected whole seconds > 0, found "${value}"`);
      return n;
    })
    .action(async (opts: { config: string; out: string; duration?: number }) => {
      const { recordIntelligence } = require('./record') as typeof RecordModule;
      const { fromEvent, take } = require('rxjs') as typeof import('rxjs');
      const result = await recordIntelligence({
        configFile: opts.config,
        outFile: opts.out,
        ...(opts.duration !== undefined ? { durationMs: opts.duration * 1000 } : {}),
        stop$: fromEvent(process, 'SIGINT').pipe(take(1)),
        onEvent: (event) => {
          if (event.kind === 'intel-problem')
            process.stderr.write(`${event.provider} ${event.code}: ${event.detail}\n`);
        },
      });
      for (const plan of result.plans)
        process.stdout.write(
          `  ${plan.provider}: every ${Math.round(plan.everyMs / 1000)} s × ${plan.requestsPerPoll} request(s) = ${plan.plannedCallsPerDay} calls/day, budget ${plan.budget}\n`,
        );
      process.stdout.write(
        `recorded ${result.observations} observations, ${result.problems} problems to ${opts.out}\n`,
      );
    });
}
