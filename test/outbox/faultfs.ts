// A fault-injecting OutboxFs for tests: wraps the real one and, while `fail` is set, makes
// appends write part of their data and then throw that errno, as a filling disk does.
import { OutboxFs, nodeFs } from '../../agent/outbox/fs';

export interface Faults {
  fail?: string;
  partialBytes: number;
  syncs: number;
  /** While set, appends wait for it before writing (to act while a write is under way). */
  gate?: Promise<void>;
}

export function faultFs(inner: OutboxFs = nodeFs): { fs: OutboxFs; faults: Faults } {
  const faults: Faults = { partialBytes: 0, syncs: 0 };
  const errno = (code: string) => Object.assign(new Error(`${code}: injected`), { code });
  const fs: OutboxFs = {
    ...inner,
    async openAppend(path) {
      if (faults.fail && faults.fail !== 'ENOSPC') throw errno(faults.fail);
      const f = await inner.openAppend(path);
      return {
        ...f,
        async append(data) {
          if (faults.gate) await faults.gate;
          if (faults.fail) {
            const part = Math.min(faults.partialBytes, data.length - 1);
            if (part > 0) await f.append(data.subarray(0, part));
            throw errno(faults.fail);
          }
          await f.append(data);
        },
        async datasync() {
          faults.syncs++;
          await f.datasync();
        },
      };
    },
  };
  return { fs, faults };
}
