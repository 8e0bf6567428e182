/**
 * A progress bar with an ETA for long CLI work (a backtest), drawn on stderr and only when stderr
 * is a terminal: a pipe or a log file gets nothing, so scripts and `--json` output stay clean.
 * Redraws at most every `minIntervalMs` (the bar costs nothing next to the work it reports).
 */

/** The part of a stream the bar writes to (process.stderr). */
export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

export interface ProgressConfig {
  readonly stream: ProgressStream;
  /** What is being done, e.g. `backtest`. */
  readonly label: string;
  /** Wall clock, ms. Default `Date.now` (this is the CLI's edge, not an operator). */
  readonly now?: () => number;
  /** Least time between redraws, ms. Default 100. */
  readonly minIntervalMs?: number;
}

export interface Progress {
  /** `fraction` done in [0, 1]; `detail` is shown after the ETA (e.g. the bar's date). */
  update(fraction: number, detail?: string): void;
  /** Clears the bar's line (the caller prints its result next). */
  done(): void;
}

/** `1h 02m`, `3m 04s`, `12s`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/**
 * One line: `label [#####·····]  42.0 %  ETA 1m 05s  detail`. The ETA extrapolates the elapsed
 * time over the fraction done; before any progress it is `ETA ?`.
 */
export function formatProgress(label: string, fraction: number, elapsedMs: number, detail = '', width = 80): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const eta = f > 0 ? formatDuration((elapsedMs * (1 - f)) / f) : '?';
  const text = ` ${(f * 100).toFixed(1).padStart(5)} %  ETA ${eta}${detail ? `  ${detail}` : ''}`;
  const barWidth = Math.max(10, Math.min(30, width - label.length - text.length - 4));
  const filled = Math.round(f * barWidth);
  return `${label} [${'#'.repeat(filled)}${'·'.repeat(barWidth - filled)}]${text}`;
}

/** A bar on `stream` when it is a terminal; otherwise a progress that writes nothing. */
export function makeProgress(config: ProgressConfig): Progress {
  const { stream } = config;
  if (!stream.isTTY) return { update: () => undefined, done: () => undefined };
  const now = config.now ?? Date.now;
  const minInterval = config.minIntervalMs ?? 100;
  const started = now();
  let lastDraw = Number.NEGATIVE_INFINITY;
  let drawn = false;
  return {
    update(fraction, detail) {
      const t = now();
      if (t - lastDraw < minInterval && fraction < 1) return;
      lastDraw = t;
      drawn = true;
      stream.write(`\r${formatProgress(config.label, fraction, t - started, detail, stream.columns ?? 80)}\x1b[K`);
    },
    done() {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}
