// The few file operations the outbox needs, behind an interface so tests can inject faults
// (ENOSPC, EIO) and benchmarks can count writes and syncs (serialport style: inject the
// hardware). nodeFs is the real thing; countingFs wraps any OutboxFs with counters.
import { promises as fsp } from 'node:fs';

export interface OutboxFile {
  /** Appends all of data (loops over short writes; O_APPEND). */
  append(data: Buffer): Promise<void>;
  /** fdatasync(2): the data and the file size are on the medium when this resolves. */
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

export interface OutboxFs {
  mkdirp(dir: string): Promise<void>;
  list(dir: string): Promise<string[]>;
  readFile(path: string): Promise<Buffer>;
  /** Reads length bytes at position (fewer only at end of file). */
  readRange(path: string, position: number, length: number): Promise<Buffer>;
  openAppend(path: string): Promise<OutboxFile>;
  truncate(path: string, length: number): Promise<void>;
  unlink(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** fsync(2) on a directory, so a created, renamed or removed entry survives a power cut. */
  syncDir(dir: string): Promise<void>;
}

export const nodeFs: OutboxFs = {
  async mkdirp(dir) {
    await fsp.mkdir(dir, { recursive: true });
  },
  list: (dir) => fsp.readdir(dir),
  readFile: (path) => fsp.readFile(path),
  async readRange(path, position, length) {
    const fh = await fsp.open(path, 'r');
    try {
      const buf = Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, position + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === length ? buf : buf.subarray(0, got);
    } finally {
      await fh.close();
    }
  },
  async openAppend(path) {
    const fh = await fsp.open(path, 'a');
    return {
      async append(data) {
        let done = 0;
        while (done < data.length) {
          const { bytesWritten } = await fh.write(data, done, data.length - done);
          done += bytesWritten;
        }
      },
      datasync: () => fh.datasync(),
      truncate: (length) => fh.truncate(length),
      close: () => fh.close(),
    };
  },
  truncate: (path, length) => fsp.truncate(path, length),
  unlink: (path) => fsp.unlink(path),
  rename: (from, to) => fsp.rename(from, to),
  async syncDir(dir) {
    const fh = await fsp.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
};

export interface FsCounters {
  /** append() calls that reached the file. */
  writes: number;
  bytesWritten: number;
  /** datasync() and syncDir() calls. */
  syncs: number;
}

/** Wraps an OutboxFs, counting what it asks of the disk. */
export function countingFs(inner: OutboxFs = nodeFs): { fs: OutboxFs; counters: FsCounters } {
  const counters: FsCounters = { writes: 0, bytesWritten: 0, syncs: 0 };
  const fs: OutboxFs = {
    ...inner,
    async openAppend(path) {
      const f = await inner.openAppend(path);
      return {
        ...f,
        async append(data) {
          counters.writes++;
          counters.bytesWritten += data.length;
          await f.append(data);
        },
        async datasync() {
          counters.syncs++;
          await f.datasync();
        },
      };
    },
    async syncDir(dir) {
      counters.syncs++;
      await inner.syncDir(dir);
    },
  };
  return { fs, counters };
}
