// Builds the configured drivers. A driver whose factory refuses its options is reported by
// id and the others still run.
import { createDriver } from '../../drivers/registry';
import type { Driver } from '../../drivers/types';
import type { Config } from '../config/types';

export function buildDrivers(config: Config): { drivers: Driver[]; errors: string[] } {
  const drivers: Driver[] = [];
  const errors: string[] = [];
  for (const d of config.drivers) {
    if (!d.enabled) continue;
    try {
      drivers.push(createDriver(d.kind, d.id, d.options));
    } catch (e) {
      errors.push(`drivers.${d.id} (${d.kind}): ${(e as Error).message}`);
    }
  }
  return { drivers, errors };
}
