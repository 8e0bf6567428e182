/**
 * Recorded intelligence (`run-pipeline record` writes it): one JSON object a line, each an
 * observation exactly as a driver emitted it — with the time it was published (`tsObserved`) and
 * the time it was received (`tsInit`) — or a problem the driver reported. Backtests replay the
 * observations through the same as-of join as a live session.
 */
import { readFileSync } from 'node:fs';
import { from, type Observable } from 'rxjs';
import { Bot4Error } from '../../operators/errors';
import { INTEL_SOURCES, type IntelEvent, type IntelObservation } from '../../operators/intelligence';

export class IntelRecordingError extends Bot4Error<'INTEL_RECORDING'> {
  constructor(message: string) {
    super('INTEL_RECORDING', 'source', message);
  }
}

/** One line of a recording. */
export function recordLine(event: IntelEvent): string {
  return `${JSON.stringify(event)}\n`;
}

/**
 * The observations of recording files, in file order (the join sorts them by observation time).
 * @throws IntelRecordingError naming file, line and field of the first bad line.
 */
export function readIntelRecording(files: readonly string[]): IntelObservation[] {
  const out: IntelObservation[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new IntelRecordingError(`${file}: cannot read the intelligence recording (${(err as Error).message})`);
    }
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      const where = `${file}:${i + 1}`;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        throw new IntelRecordingError(`${where}: not JSON (${(err as Error).message})`);
      }
      const o = value as Omit<Partial<IntelObservation>, 'kind'> & { kind?: unknown };
      if (o.kind === 'intel-problem') return;
      if (o.kind !== 'intel')
        throw new IntelRecordingError(
          `${where}: expected kind "intel" or "intel-problem", found ${JSON.stringify(o.kind)}`,
        );
      const bad = (field: string, expected: string, found: unknown): never => {
        throw new IntelRecordingError(`${where}: ${field} must be ${expected}, found ${JSON.stringify(found)}`);
      };
      if (!INTEL_SOURCES.includes(o.source as never)) bad('source', INTEL_SOURCES.join(' | '), o.source);
      if (typeof o.provider !== 'string' || o.provider === '') bad('provider', 'a name', o.provider);
      if (typeof o.metric !== 'string' || o.metric === '') bad('metric', 'a name', o.metric);
      if (o.asset !== null && typeof o.asset !== 'string') bad('asset', 'a base asset or null', o.asset);
      if (typeof o.score !== 'number' || !(o.score >= -1 && o.score <= 1)) bad('score', 'a number in −1..1', o.score);
      if (typeof o.confidence !== 'number' || !(o.confidence >= 0 && o.confidence <= 1))
        bad('confidence', 'a number in 0..1', o.confidence);
      if (typeof o.tsObserved !== 'number' || !Number.isFinite(o.tsObserved))
        bad('tsObserved', 'a time in ms', o.tsObserved);
      if (typeof o.tsInit !== 'number' || !Number.isFinite(o.tsInit)) bad('tsInit', 'a time in ms', o.tsInit);
      if (o.tsObserved! > o.tsInit!)
        bad(
          'tsObserved',
          `at or before tsInit (${o.tsInit}): a value cannot be published after it was received`,
          o.tsObserved,
        );
      out.push(o as IntelObservation);
    });
  }
  return out;
}

/** A recording as the pipeline's `intel$`. */
export function makeIntelReplaySource(observations: readonly IntelObservation[]): Observable<IntelEvent> {
  return from(observations);
}
