/**
 * `run-pipeline run --role ingest|decide|execute --brokers …`: one role of the pipeline split over
 * Kafka (see roles.ts). Loads kafkajs and the pipeline only when it runs.
 */
import { type Command, InvalidArgumentError } from 'commander';
import type * as RolesModule from './roles';
import type * as RolesKafkaModule from './rolesKafka';

interface RunOptions {
  role: string;
  config: string;
  brokers: string;
  topicPrefix: string;
  account: string;
  out?: string;
  data?: string[];
  symbols?: string;
  worker?: string;
  from?: number;
  until?: number;
  quiet?: boolean;
}

const ROLE_NAMES = ['ingest', 'decide', 'execute'] as const;

export function registerRolesCommand(program: Command, parseTime: (value: string) => number): void {
  program
    .command('compare-runs')
    .description(
      "check that a Kafka run's executor sent the same orders and got the same fills as a single-process backtest",
    )
    .argument('<executor-journal>', 'executor.jsonl of `run --role execute`')
    .argument('<backtest-journal>', 'journal.jsonl of `backtest` on the same config and data')
    .action((executorJournal: string, backtestJournal: string) => {
      const { compareWithBacktest } = require('./roles') as typeof RolesModule;
      const c = compareWithBacktest(executorJournal, backtestJournal);
      process.stdout.write(
        `orders: ${c.orders[0]} sent by the executor, ${c.orders[1]} in the backtest; fills: ${c.fills[0]} and ${c.fills[1]}\n` +
          (c.identical ? 'identical: same orders, same fills\n' : `DIFFERENT: ${c.difference}\n`),
      );
      if (!c.identical) process.exitCode = 1;
    });
  program
    .command('run')
    .description(
      'run one role of the pipeline split over Apache Kafka: ingest (publish bars), decide (a decision worker), execute (the venue of one account)',
    )
    .requiredOption('--role <role>', 'ingest, decide or execute')
    .requiredOption('-c, --config <file>', 'pipeline config (YAML or JSON); every role of a run uses the same one')
    .option(
      '--brokers <list>',
      'Kafka bootstrap servers, host:port[,host:port…] (default: $KAFKA_BROKERS)',
      process.env['KAFKA_BROKERS'] ?? '',
    )
    .option('--topic-prefix <prefix>', 'topic names start with this', 'bot4')
    .option('--account <name>', 'the account the orders are for (one executor each)', 'paper')
    .option('-o, --out <dir>', 'execute/decide: folder for the journal (default out/<config name>/kafka)')
    .option('-d, --data <files...>', 'ingest: bars CSVs or folders, as for backtest')
    .option('--symbols <list>', 'ingest: only these symbols of the universe, comma-separated (default all)')
    .option('--worker <id>', "decide: this worker's name (default decide-<pid>)")
    .option('--from <time>', 'ingest: first bar (ISO date or epoch ms)', parseTime)
    .option('--until <time>', 'ingest: stop before this time (ISO date or epoch ms)', parseTime)
    .option('-q, --quiet', 'no progress lines')
    .action(async (opts: RunOptions) => {
      if (!(ROLE_NAMES as readonly string[]).includes(opts.role))
        throw new InvalidArgumentError(`--role: expected one of ${ROLE_NAMES.join(', ')}, found "${opts.role}"`);
      const { parseBrokers } = require('./rolesKafka') as typeof RolesKafkaModule;
      const roles = require('./roles') as typeof RolesModule;
      const brokers = parseBrokers(opts.brokers);
      const log = opts.quiet ? undefined : (line: string) => process.stderr.write(`${line}\n`);
      const common = {
        configFile: opts.config,
        brokers,
        topicPrefix: opts.topicPrefix,
        account: opts.account,
        ...(log ? { log } : {}),
      };
      const outDir = (name: string): string => opts.out ?? `out/${name}/kafka`;
      switch (opts.role) {
        case 'ingest': {
          if (!opts.data || opts.data.length === 0)
            throw new InvalidArgumentError('--role ingest needs --data <files or folders>');
          const result = await roles.runIngest({
            ...common,
            data: opts.data,
            ...(opts.symbols ? { symbols: opts.symbols.split(',').map((s) => s.trim()) } : {}),
            ...(opts.from !== undefined ? { from: opts.from } : {}),
            ...(opts.until !== undefined ? { until: opts.until } : {}),
          });
          process.stdout.write(`ingest: ${result.bars} bars of ${result.symbols.join(', ')} published\n`);
          return;
        }
        case 'execute': {
          const abort = new AbortController();
          const stop = (): void => abort.abort();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
          const { loadConfig } = require('./config') as typeof import('./config');
          const result = await roles.runExecutor({
            ...common,
            outDir: outDir(loadConfig(opts.config).name),
            signal: abort.signal,
          });
          const p = (xs: readonly number[], q: number): string => {
            const sorted = [...xs].sort((a, b) => a - b);
            return sorted.length === 0
              ? '-'
              : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1);
          };
          process.stdout.write(
            `execute: ${result.steps} steps, ${result.orders} orders, ${result.fills} fills, ${result.duplicateDecisions} duplicate decisions and ${result.duplicateOrders} duplicate orders dropped, ${result.deadLetters} dead letters\n` +
              `  step → decision round trip p50 ${p(result.roundTripMs, 0.5)} ms, p99 ${p(result.roundTripMs, 0.99)} ms; bar → order → venue event p50 ${p(result.orderLatencyMs, 0.5)} ms, p99 ${p(result.orderLatencyMs, 0.99)} ms\n` +
              `  journal: ${result.journalFile}\n`,
          );
          return;
        }
        default: {
          const { loadConfig } = require('./config') as typeof import('./config');
          const result = await roles.runDecisionWorker({
            ...common,
            workerId: opts.worker ?? `decide-${process.pid}`,
            outDir: outDir(loadConfig(opts.config).name),
          });
          process.stdout.write(
            `decide: ${result.steps} steps folded, ${result.published} decisions published\n  journal: ${result.journalFile}\n`,
          );
        }
      }
    });
}
