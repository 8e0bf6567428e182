import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CSV_HEADER } from '../../sources/csvBars';
import type { Bar } from '../../operators/types';

/** A fresh temporary folder, removed by the returned cleanup. */
export function tempDir(prefix = 'bot4-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes bars as a candles CSV (the format `download` writes and `backtest` reads). */
export function writeBarsCsv(file: string, bars: readonly Bar[]): void {
  writeFileSync(
    file,
    `${CSV_HEADER}\n${bars.map((b) => `${b.tsOpen},${b.open},${b.high},${b.low},${b.close},${b.volume}`).join('\n')}\n`,
  );
}
