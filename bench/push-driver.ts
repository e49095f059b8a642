// The benches' driver: push-only, one numeric field, so the bench decides when a reading is
// sampled. Every value differs from the last, so a 0 deadband publishes every reading.
import type { Driver, DriverContext, ThingSpec } from '../drivers/types';

export class PushDriver implements Driver {
  readonly kind = 'bench';
  readonly id = 'bench';
  readonly thing: ThingSpec;
  /** `count` > 1: things THINGID0..THINGID{count-1}; emit(i) goes to thing i % count (bench/many.ts). */
  readonly all: ThingSpec[];
  private ctx?: DriverContext;
  constructor(thingId = 'bench', count = 1) {
    const spec = (id: string): ThingSpec => ({ id, fields: [{ name: 'temperature', type: 'numeric', unit: '°C', precision: 2 }] });
    this.all = count > 1 ? Array.from({ length: count }, (_, k) => spec(thingId + k)) : [spec(thingId)];
    this.thing = this.all[0]!;
  }
  things(): ThingSpec[] {
    return this.all;
  }
  async start(ctx: DriverContext): Promise<void> {
    this.ctx = ctx;
  }
  async stop(): Promise<void> {
    this.ctx = undefined;
  }
  emit(i: number): void {
    const thing = this.all.length > 1 ? this.all[((i % this.all.length) + this.all.length) % this.all.length]! : this.thing;
    this.ctx?.emit({ thing: thing.id, timestamp: Date.now(), values: [{ field: 'temperature', value: 20 + (i % 1000) / 100 }] });
  }
}
