// Locates test/fixtures/drivers whether the compiled tests run from dist/ inside the repo or
// from a build directory elsewhere (then the repo is the working directory).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DriverContext, Reading } from '../../drivers/types';

export function fixtures(...parts: string[]): string {
  const candidates = [resolve(__dirname, '../../../test/fixtures/drivers'), resolve(process.cwd(), 'test/fixtures/drivers')];
  const base = candidates.find((c) => existsSync(c));
  if (!base) throw new Error(`test/fixtures/drivers not found (tried ${candidates.join(', ')}); run from the repo root`);
  return resolve(base, ...parts);
}

export interface Recorder { ctx: DriverContext; faults: string[]; warnings: string[] }

export function recorder(onEmit?: (r: Reading) => void): Recorder {
  const faults: string[] = [];
  const warnings: string[] = [];
  const ctx: DriverContext = {
    emit: (r) => onEmit?.(r),
    fault: (m) => faults.push(m),
    thingsChanged() {},
    log: { debug() {}, info() {}, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) },
  };
  return { ctx, faults, warnings };
}
