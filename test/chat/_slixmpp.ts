// Drives test/clients/chat_client.py (slixmpp 1.8.3 under Debian's /usr/bin/python3): a
// person's client for the chat tests, and the slixmpp bot the chat benchmark compares with.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** What a client needs of a server under test (Prosody or ejabberd from scripts/). */
export interface ServerAddress { host: string; c2sPort: number; caFile: string }

export type Line = Record<string, unknown> & { event: string };
export interface Answer { body: string | null; ms: number | null; receipt: boolean; timeout?: boolean; type?: string; error?: string | null }
export interface Collected { from: string; type: string; body: string; error?: string }

export const PYTHON = '/usr/bin/python3';

export function clientScript(): string {
  // Compiled to dist/test/chat (or dist/bench): the script stays in the source tree.
  for (const p of [join(__dirname, '../../../test/clients/chat_client.py'), join(__dirname, '../../test/clients/chat_client.py'), join(process.cwd(), 'test/clients/chat_client.py')]) {
    if (existsSync(p)) return p;
  }
  throw new Error('test/clients/chat_client.py not found: run from the repository root');
}

export interface PyProcess {
  proc: ChildProcess;
  next(event: string, timeoutMs?: number): Promise<Line>;
  send(cmd: Record<string, unknown>): void;
  stderr(): string;
  close(): Promise<void>;
}

export function spawnPy(args: string[], label: string): PyProcess {
  const proc = spawn(PYTHON, [clientScript(), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: Line[] = [];
  let err = '';
  let buf = '';
  let wake: (() => void) | undefined;
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try { lines.push(JSON.parse(l) as Line); } catch { err += `[stdout] ${l}\n`; }
    }
    wake?.();
  });
  proc.stderr!.on('data', (d: Buffer) => { err = (err + d.toString('utf8')).slice(-8000); });
  let exited = false;
  proc.on('exit', () => { exited = true; wake?.(); });
  return {
    proc,
    stderr: () => err,
    send: (cmd) => proc.stdin!.write(JSON.stringify(cmd) + '\n'),
    next: (event, timeoutMs = 30_000) => new Promise<Line>((resolve, reject) => {
      const timer = setTimeout(() => { wake = undefined; reject(new Error(`${label}: no ${event} within ${timeoutMs} ms\n${err}`)); }, timeoutMs);
      const check = () => {
        const k = lines.findIndex((l) => l.event === event);
        if (k >= 0) {
          clearTimeout(timer);
          wake = undefined;
          resolve(lines.splice(k, 1)[0]!);
        } else if (exited) {
          clearTimeout(timer);
          wake = undefined;
          reject(new Error(`${label} exited before ${event}\n${err}`));
        }
      };
      wake = check;
      check();
    }),
    close: () => new Promise<void>((resolve) => {
      if (exited) return resolve();
      proc.once('exit', () => resolve());
      try { proc.stdin!.write(JSON.stringify({ op: 'quit' }) + '\n'); } catch { /* gone */ }
      setTimeout(() => { if (!exited) proc.kill('SIGKILL'); }, 3000).unref();
    }),
  };
}

/** A person logged in with slixmpp. */
export class PyClient {
  private constructor(readonly py: PyProcess, readonly jid: string) {}

  static async start(srv: ServerAddress, user: string, password: string): Promise<PyClient> {
    const jid = `${user}@${srv.host}`;
    const py = spawnPy(['client', jid, password, String(srv.c2sPort), srv.caFile], `slixmpp ${user}`);
    await py.next('online', 30_000);
    return new PyClient(py, jid);
  }

  async ask(to: string, body: string, o: { timeout?: number; receipt?: boolean } = {}): Promise<Answer> {
    this.py.send({ op: 'ask', to, body, timeout: (o.timeout ?? 5000) / 1000, receipt: o.receipt ?? false });
    return (await this.py.next('answer', (o.timeout ?? 5000) + 5000)) as unknown as Answer;
  }

  /** The answer's body, or an error naming the question when there was none. */
  async text(to: string, body: string, timeout = 5000): Promise<string> {
    const a = await this.ask(to, body, { timeout });
    if (a.body === null || a.body === undefined) throw new Error(`${this.jid}: no answer to ${JSON.stringify(body.slice(0, 60))} within ${timeout} ms`);
    return a.body;
  }

  async sendRaw(to: string, body: string, mfrom?: string): Promise<void> {
    this.py.send({ op: 'send', to, body, ...(mfrom ? { mfrom } : {}) });
    await this.py.next('sent');
  }

  async flood(to: string, body: string, n: number): Promise<number> {
    this.py.send({ op: 'flood', to, body, n });
    return (await this.py.next('flooded', 60_000)).ms as number;
  }

  async collect(ms: number): Promise<Collected[]> {
    this.py.send({ op: 'collect', ms });
    return (await this.py.next('collected', ms + 10_000)).messages as Collected[];
  }

  async bench(to: string, body: string, n: number, gapMs: number): Promise<number[]> {
    this.py.send({ op: 'bench', to, body, n, gap_ms: gapMs });
    return (await this.py.next('bench', n * 6000 + 10_000)).ms as number[];
  }

  close(): Promise<void> {
    return this.py.close();
  }
}
