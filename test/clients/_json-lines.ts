// One of the Python clients here (slixmpp 1.8.3 under Debian's /usr/bin/python3) as a child
// process speaking JSON lines: commands in on stdin, events out on stdout, one object a line.
// The chat, ad-hoc and IoT helpers (test/chat/_slixmpp.ts, test/xep/_adhoc.ts, test/iot/_iot.ts)
// drive their scripts through it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const PYTHON = '/usr/bin/python3';

export type Line = Record<string, unknown> & { event: string };

/** A script of test/clients (or a path relative to it); this file runs from dist/test/clients. */
export function clientScript(name: string): string {
  for (const p of [join(__dirname, '../../../test/clients', name), join(process.cwd(), 'test/clients', name)]) if (existsSync(p)) return p;
  throw new Error(`test/clients/${name} not found: run from the repository root`);
}

export class PyLines {
  readonly proc: ChildProcess;
  private lines: Line[] = [];
  private err = '';
  private wake?: () => void;
  private exited = false;

  constructor(file: string, args: string[], private readonly label: string) {
    this.proc = spawn(PYTHON, [clientScript(file), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let buf = '';
    this.proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const l = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try { this.lines.push(JSON.parse(l) as Line); } catch { this.err += `[stdout] ${l}\n`; }
      }
      this.wake?.();
    });
    this.proc.stderr!.on('data', (d: Buffer) => { this.err = (this.err + d.toString('utf8')).slice(-8000); });
    this.proc.on('exit', () => { this.exited = true; this.wake?.(); });
  }

  /** The last 8,000 characters the script wrote to stderr (and stdout lines that were not JSON). */
  stderr(): string { return this.err; }

  /** The first event of this name not taken yet, waiting for it. */
  next(event: string, timeoutMs = 30_000): Promise<Line> {
    return new Promise<Line>((resolve, reject) => {
      const timer = setTimeout(() => { this.wake = undefined; reject(new Error(`${this.label}: no ${event} within ${timeoutMs} ms\n${this.err}`)); }, timeoutMs);
      const check = () => {
        const k = this.lines.findIndex((l) => l.event === event);
        if (k >= 0) {
          clearTimeout(timer);
          this.wake = undefined;
          resolve(this.lines.splice(k, 1)[0]!);
        } else if (this.exited) {
          clearTimeout(timer);
          this.wake = undefined;
          reject(new Error(`${this.label} exited before ${event}\n${this.err}`));
        }
      };
      this.wake = check;
      check();
    });
  }

  send(cmd: Record<string, unknown>): void {
    this.proc.stdin!.write(JSON.stringify(cmd) + '\n');
  }

  /** Asks the script to quit; killed after 3 s if it has not. */
  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.exited) return resolve();
      this.proc.once('exit', () => resolve());
      try { this.send({ op: 'quit' }); } catch { /* gone */ }
      setTimeout(() => { if (!this.exited) this.proc.kill('SIGKILL'); }, 3000).unref();
    });
  }
}
