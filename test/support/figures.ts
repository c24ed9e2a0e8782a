import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const DIR = join(__dirname, '..', '..', 'artifacts', 'figures');

/**
 * Figures a test measured (recovery times, spreads): printed and saved under
 * artifacts/figures/ for the record. Tests never assert on timing; these are
 * for reading.
 */
export function reportFigures(name: string, figures: Record<string, unknown>): void {
  mkdirSync(DIR, { recursive: true });
  writeFileSync(join(DIR, `${name}.json`), `${JSON.stringify(figures, null, 2)}\n`);
  process.stdout.write(`\n[figures] ${name}: ${JSON.stringify(figures)}\n`);
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
