/**
 * `research evolve` (spec §3.3): a genetic algorithm over the config's TA rule set — which rules
 * vote, their weights, the vote threshold, and the numeric parameters of the features they read
 * (periods, multipliers). Every genome is scored out of sample by a walk-forward of its config
 * (the stitched out-of-sample Sharpe ratio), and every distinct genome evaluated counts as a
 * trial in the deflated Sharpe ratio of the winner.
 *
 * Operators: tournament selection (2), uniform crossover, per-gene mutation (rate 1/genes: a bit
 * flips, a real moves by a Gaussian step of 10 % of its range, an integer by ±1..3), one elite.
 * Seeded: the same seed, config and data evolve the same way.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import { mulberry32 } from '../operators/random';
import {
  bootstrapTrades,
  deflatedSharpe,
  equityReturns,
  probabilityOfBacktestOverfitting,
  type DeflatedSharpe,
  type PboResult,
  type TradeBootstrap,
} from '../operators/stats';
import { ConfigError, parseConfig } from './config';
import { ParamSpecError, type Overrides } from './researchConfig';
import { fileSha256 } from './researchData';
import { runWalkForward, type WalkForwardOptions } from './researchWalkForward';

type Gene =
  | { readonly kind: 'bit'; readonly label: string }
  | { readonly kind: 'real'; readonly label: string; readonly low: number; readonly high: number }
  | { readonly kind: 'int'; readonly label: string; readonly low: number; readonly high: number };

interface Rule {
  readonly [key: string]: unknown;
  readonly weight?: number;
}
interface Feature {
  readonly id: string;
  readonly options?: number[];
}

/** The genes of a config: per rule (on, weight), the TA threshold, per feature numeric option. */
export interface GenomeSpace {
  readonly genes: readonly Gene[];
  readonly rules: readonly Rule[];
  readonly features: readonly Feature[];
}

export function genomeSpace(configFile: string): GenomeSpace {
  const doc = parseDocument(readFileSync(path.resolve(configFile), 'utf8'));
  const rules = (doc.getIn(['signals', 'ta', 'rules']) as { toJSON(): Rule[] } | undefined)?.toJSON();
  if (!rules || rules.length === 0) throw new ParamSpecError(`${configFile}: evolve needs signals.ta.rules to evolve`);
  const features = ((doc.get('features') as { toJSON(): Feature[] } | undefined)?.toJSON() ?? []) as Feature[];
  const genes: Gene[] = [];
  for (const [i, r] of rules.entries()) {
    genes.push({ kind: 'bit', label: `rule ${i} (${String(r['kind'])}) on` });
    genes.push({ kind: 'real', label: `rule ${i} weight`, low: 0.25, high: 2 });
  }
  genes.push({ kind: 'real', label: 'signals.ta.threshold', low: 0.1, high: 0.9 });
  for (const f of features)
    for (const [j, v] of (f.options ?? []).entries())
      if (Number.isInteger(v) && v >= 2)
        genes.push({
          kind: 'int',
          label: `feature ${f.id} option ${j}`,
          low: Math.max(2, Math.round(v / 2)),
          high: Math.round(v * 2),
        });
  return { genes, rules, features };
}

/** The genome of the config as written: every rule on with its weight, its threshold, its options. */
function seedGenome(space: GenomeSpace, threshold: number): number[] {
  const g: number[] = [];
  for (const r of space.rules) g.push(1, r.weight ?? 1);
  g.push(threshold);
  for (const f of space.features) for (const v of f.options ?? []) if (Number.isInteger(v) && v >= 2) g.push(v);
  return g;
}

/** A genome as config overrides: the rules kept (at least one), their weights, threshold, feature options. */
export function genomeOverrides(space: GenomeSpace, genome: readonly number[]): Overrides {
  let k = 0;
  const rules: Rule[] = [];
  for (const r of space.rules) {
    const on = genome[k++] === 1;
    const weight = Number((genome[k++] as number).toFixed(3));
    if (on) rules.push({ ...r, weight });
  }
  if (rules.length === 0) rules.push({ ...(space.rules[0] as Rule), weight: 1 });
  const threshold = Number((genome[k++] as number).toFixed(3));
  const features = space.features.map((f) => ({
    ...f,
    ...(f.options
      ? { options: f.options.map((v) => (Number.isInteger(v) && v >= 2 ? (genome[k++] as number) : v)) }
      : {}),
  }));
  return { 'signals.ta.rules': rules, 'signals.ta.threshold': threshold, features };
}

function randomGenome(space: GenomeSpace, rand: () => number): number[] {
  return space.genes.map((g) =>
    g.kind === 'bit'
      ? rand() < 0.5
        ? 0
        : 1
      : g.kind === 'real'
        ? g.low + rand() * (g.high - g.low)
        : g.low + Math.floor(rand() * (g.high - g.low + 1)),
  );
}

function mutate(space: GenomeSpace, genome: readonly number[], rand: () => number): number[] {
  const rate = 1 / space.genes.length;
  return genome.map((v, i) => {
    if (rand() >= rate) return v;
    const g = space.genes[i] as Gene;
    if (g.kind === 'bit') return 1 - v;
    if (g.kind === 'real') {
      const u = 1 - rand();
      const step = 0.1 * (g.high - g.low) * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
      return Math.min(g.high, Math.max(g.low, v + step));
    }
    const d = 1 + Math.floor(rand() * 3);
    return Math.min(g.high, Math.max(g.low, v + (rand() < 0.5 ? -d : d)));
  });
}

export interface EvolveOptions
  extends Omit<WalkForwardOptions, 'candidates' | 'objective' | 'onProgress' | 'dataFile'> {
  /** Bars CSV of the config's symbol (one-symbol configs). */
  readonly dataFile: string;
  readonly population?: number;
  readonly generations?: number;
  readonly seed?: number;
  readonly onProgress?: (message: string) => void;
}

export interface Individual {
  readonly genome: readonly number[];
  readonly overrides: Overrides;
  readonly objective: number;
  readonly outOfSampleReturn: number;
  readonly buyAndHoldReturn: number;
  readonly sharpe: {
    readonly perBar: number;
    readonly n: number;
    readonly skewness: number;
    readonly kurtosis: number;
  };
  /** Why the config of this genome was refused (e.g. a MACD whose fast period passed its slow one); not a trial. */
  readonly invalid?: string;
}

/** What the overfitting controls need of a genome, kept out of the JSON result (65k numbers each). */
interface Evidence {
  /** Stitched out-of-sample per-bar returns. */
  readonly returns: Float64Array;
  /** Out-of-sample round trips' returns. */
  readonly tripReturns: readonly number[];
}

export interface EvolveResult {
  readonly generations: readonly { readonly generation: number; readonly best: number; readonly mean: number }[];
  readonly best: Individual;
  /** Distinct genomes evaluated: the trial count of the deflated Sharpe. */
  readonly trials: number;
  readonly deflated: DeflatedSharpe;
  /**
   * Probability of backtest overfitting: CSCV over every valid genome's stitched out-of-sample
   * per-bar returns (null with fewer than 2 genomes or too few bars for 2 blocks).
   */
  readonly pbo: PboResult | null;
  /** Bootstrap of the winner's out-of-sample round trips: 95 % intervals of return and drawdown (null below 2 trips). */
  readonly bootstrap: TradeBootstrap | null;
  readonly bestConfigFile: string;
}

/**
 * CSCV over candidates' per-bar returns: rows truncated to the shortest series, up to 16 blocks
 * (fewer, even, when there are few bars). Null with fewer than 2 candidates or 2 blocks.
 */
export function pboOfReturns(series: readonly Float64Array[]): PboResult | null {
  if (series.length < 2) return null;
  const rows = Math.min(...series.map((m) => m.length));
  const blocks = Math.min(16, 2 * Math.floor(rows / 4));
  if (blocks < 2) return null;
  return {
    ...probabilityOfBacktestOverfitting(
      Array.from({ length: rows }, (_, t) => series.map((m) => m[t] as number)),
      { blocks },
    ),
    logits: [],
  };
}

export async function runEvolve(options: EvolveOptions): Promise<EvolveResult> {
  const progress = options.onProgress ?? (() => {});
  const populationSize = options.population ?? 8;
  const generationCount = options.generations ?? 4;
  if (!Number.isInteger(populationSize) || populationSize < 2)
    throw new ParamSpecError(`--population: expected a whole number ≥ 2, found ${populationSize}`);
  if (!Number.isInteger(generationCount) || generationCount < 1)
    throw new ParamSpecError(`--generations: expected a whole number ≥ 1, found ${generationCount}`);
  const space = genomeSpace(options.configFile);
  const base = parseConfig(readFileSync(path.resolve(options.configFile), 'utf8'), path.resolve(options.configFile));
  const rand = mulberry32(options.seed ?? 1);
  const cache = new Map<string, Individual>();
  const evidence = new Map<Individual, Evidence>();
  mkdirSync(options.outDir, { recursive: true });

  const evaluate = async (genome: number[]): Promise<Individual> => {
    const overrides = genomeOverrides(space, genome);
    const key = JSON.stringify(overrides);
    const known = cache.get(key);
    if (known) return known;
    let wf: Awaited<ReturnType<typeof runWalkForward>>;
    try {
      wf = await runWalkForward({
        ...options,
        candidates: [overrides],
        statistics: false,
        outDir: path.join(options.outDir, 'last-genome'),
      });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      const refused: Individual = {
        genome,
        overrides,
        objective: -Infinity,
        outOfSampleReturn: 0,
        buyAndHoldReturn: 0,
        sharpe: { perBar: 0, n: 0, skewness: 0, kurtosis: 3 },
        invalid: err.message.split('\n').slice(1).join(' ').trim(),
      };
      cache.set(key, refused);
      return refused;
    }
    const ind: Individual = {
      genome,
      overrides,
      objective: Number.isFinite(wf.outOfSample.sharpeAnnualised) ? wf.outOfSample.sharpeAnnualised : -1e9,
      outOfSampleReturn: wf.outOfSample.totalReturn,
      buyAndHoldReturn: wf.outOfSample.buyAndHoldReturn,
      sharpe: {
        perBar: wf.outOfSample.sharpePerBar,
        n: wf.outOfSample.bars,
        skewness: wf.outOfSample.moments?.skewness ?? 0,
        kurtosis: wf.outOfSample.moments?.kurtosis ?? 3,
      },
    };
    cache.set(key, ind);
    evidence.set(ind, { returns: equityReturns(wf.curve.equity), tripReturns: wf.trips.map((t) => t.return) });
    return ind;
  };

  let population: Individual[] = [];
  population.push(await evaluate(seedGenome(space, base.signals.ta?.threshold ?? 0.5)));
  while (population.length < populationSize) population.push(await evaluate(randomGenome(space, rand)));
  const history: EvolveResult['generations'][number][] = [];
  const record = (generation: number): void => {
    const values = population.filter((p) => p.invalid === undefined).map((p) => p.objective);
    const best = Math.max(...values);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    history.push({ generation, best, mean });
    const refused = [...cache.values()].filter((i) => i.invalid !== undefined).length;
    progress(
      `generation ${generation}/${generationCount}: best out-of-sample Sharpe ${best.toFixed(3)}, mean ${mean.toFixed(3)}, ${cache.size - refused} genomes evaluated (${refused} refused by the schema)`,
    );
  };
  record(0);
  const tournament = (): Individual => {
    const a = population[Math.floor(rand() * population.length)] as Individual;
    const b = population[Math.floor(rand() * population.length)] as Individual;
    return a.objective >= b.objective ? a : b;
  };
  for (let gen = 1; gen <= generationCount; gen++) {
    const elite = population.reduce((a, b) => (b.objective > a.objective ? b : a));
    const next: Individual[] = [elite];
    while (next.length < populationSize) {
      const p1 = tournament();
      const p2 = tournament();
      const child = p1.genome.map((v, i) => (rand() < 0.5 ? v : (p2.genome[i] as number)));
      next.push(await evaluate(mutate(space, child, rand)));
    }
    population = next;
    record(gen);
  }
  const all = [...cache.values()].filter((i) => i.invalid === undefined);
  if (all.length === 0) throw new ParamSpecError('evolve: every genome was refused by the config schema');
  const best = all.reduce((a, b) => (b.objective > a.objective ? b : a));
  const deflated = deflatedSharpe(
    {
      sharpe: best.sharpe.perBar,
      n: Math.max(2, best.sharpe.n),
      skewness: best.sharpe.skewness,
      kurtosis: best.sharpe.kurtosis,
    },
    all.length,
    all.map((i) => i.sharpe.perBar),
  );
  // The search chose among every genome it scored: CSCV over all of them, not just the last population.
  const pbo = pboOfReturns(all.map((i) => (evidence.get(i) as Evidence).returns));
  const bestConfigFile = writeEvolvedConfig(options, base.hash, best, deflated, all.length, pbo);
  const trips = (evidence.get(best) as Evidence).tripReturns;
  const bootstrap = trips.length >= 2 ? bootstrapTrades(trips) : null;
  return { generations: history, best, trials: all.length, deflated, pbo, bootstrap, bestConfigFile };
}

function writeEvolvedConfig(
  options: EvolveOptions,
  baseHash: string,
  best: Individual,
  deflated: DeflatedSharpe,
  trials: number,
  pbo: PboResult | null,
): string {
  const source = path.resolve(options.configFile);
  const doc = parseDocument(readFileSync(source, 'utf8'));
  for (const [key, value] of Object.entries(best.overrides)) doc.setIn(key.split('.'), doc.createNode(value));
  const out = path.join(options.outDir, `${path.basename(source).replace(/\.(ya?ml|json)$/, '')}.evolved.yaml`);
  const model = doc.getIn(['signals', 'ml', 'model']);
  if (typeof model === 'string' && !path.isAbsolute(model))
    doc.setIn(['signals', 'ml', 'model'], path.relative(path.dirname(out), path.resolve(path.dirname(source), model)));
  doc.commentBefore = [
    ` Written by run-pipeline research evolve from ${path.relative(process.cwd(), source)} (config hash ${baseHash}).`,
    ` Data ${path.basename(options.dataFile)} sha256 ${fileSha256(options.dataFile)}; seed ${options.seed ?? 1}.`,
    ` Best of ${trials} genomes by stitched out-of-sample Sharpe (walk-forward, ${options.folds ?? 6} folds): ${best.objective.toFixed(3)},`,
    ` return ${(best.outOfSampleReturn * 100).toFixed(2)} % (buy & hold ${(best.buyAndHoldReturn * 100).toFixed(2)} %).`,
    ` Deflated Sharpe ${deflated.deflatedSharpe.toFixed(3)} counting ${trials} trials (probabilistic Sharpe ${deflated.probabilisticSharpe.toFixed(3)}).`,
    pbo
      ? ` Probability of backtest overfitting ${pbo.pbo.toFixed(3)} (CSCV, ${pbo.splits} splits of the ${pbo.candidates} genomes).`
      : ' Probability of backtest overfitting: not computed (fewer than 2 valid genomes).',
  ].join('\n');
  const text = doc.toString();
  parseConfig(text, out); // it must load like any other config
  writeFileSync(out, text);
  return out;
}
