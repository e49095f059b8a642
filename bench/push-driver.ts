// The benches' driver: push-only, one numeric field, so the bench decides when a reading is
// sampled. Every value differs from the last, so a 0 deadband publishes every reading.
import type { Driver, DriverContext, ThingSpec } from '../drivers/types';

export class PushDriver implements Driver {
  readonly kind = 'bench';
  readonly id = 'bench';
  readonly thing: ThingSpec;
  private ctx?: DriverContext;
  constructor(thingId = 'bench') {
    this.thing = { id: thingId, fields: [{ name: 'temperature', type: 'numeric', unit: '°C', precision: 2 }] };
  }
  things(): ThingSpec[] {
    return [this.thing];
  }
  async start(ctx: DriverContext): Promise<void> {
    this.ctx = ctx;
  }
  async stop(): Promise<void> {
    this.ctx = undefined;
  }
  emit(i: number): void {
    this.ctx?.emit({ thing: this.thing.id, timestamp: Date.now(), values: [{ field: 'temperature', value: 20 + (i % 1000) / 100 }] });
  }
}
