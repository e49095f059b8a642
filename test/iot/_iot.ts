// Drives test/clients/iot_client.py (slixmpp 1.8.3's xep_0323 and xep_0325 client plugins,
// under Debian's /usr/bin/python3) and, for the benchmark, test/clients/iot_device.py (its
// xep_0323 device plugin): JSON lines in and out.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const PYTHON = '/usr/bin/python3';
export interface ServerAddress { host: string; c2sPort: number; caFile: string }

export interface PyField { name: string; typename: string; value: string; unit?: string; dataType?: string; flags?: Record<string, string> }
export interface PyReadResult { result: string; nodeId?: string | null; timestamp?: string | null; fields?: PyField[] | null; error_msg?: string | null }
export interface PyRead { results: PyReadResult[]; ms: number | null; exception?: string }
export interface PySet { result: string; fields?: string[] | null; error_msg?: string | null; exception?: string }
type Line = Record<string, unknown> & { event: string };

function script(name: string): string {
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
    this.proc = spawn(PYTHON, [script(file), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
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

  stderr(): string { return this.err; }

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

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.exited) return resolve();
      this.proc.once('exit', () => resolve());
      try { this.send({ op: 'quit' }); } catch { /* gone */ }
      setTimeout(() => { if (!this.exited) this.proc.kill('SIGKILL'); }, 3000).unref();
    });
  }
}

/** A machine with slixmpp's xep_0323 and xep_0325 client plugins. */
export class IotClient {
  jid = '';
  private constructor(private readonly p: PyLines) {}

  static async start(srv: ServerAddress, user: string, password: string, resource = 'py'): Promise<IotClient> {
    const p = new PyLines('iot_client.py', ['client', `${user}@${srv.host}/${resource}`, password, String(srv.c2sPort), srv.caFile], `iot ${user}`);
    const c = new IotClient(p);
    c.jid = String((await p.next('online', 20_000)).jid);
    return c;
  }

  async read(to: string, o: { nodes?: string[]; fields?: string[]; flags?: Record<string, string> } = {}): Promise<PyRead> {
    this.p.send({ op: 'read', to, nodes: o.nodes ?? null, fields: o.fields ?? null, flags: o.flags ?? null });
    return (await this.p.next('read')) as unknown as PyRead;
  }

  async set(to: string, fields: [string, string, string][], nodes?: string[]): Promise<PySet> {
    this.p.send({ op: 'set', to, fields, nodes: nodes ?? null });
    return (await this.p.next('set')) as unknown as PySet;
  }

  async setMessage(to: string, fields: [string, string, string][]): Promise<void> {
    this.p.send({ op: 'setmsg', to, fields });
    await this.p.next('setmsg');
  }

  async getForm(to: string): Promise<{ title?: string; fields?: { var: string; type: string | null; values: string[]; datatype: string | null }[]; error?: { condition: string; text: string } }> {
    this.p.send({ op: 'getform', to });
    return (await this.p.next('getform')) as never;
  }

  async bench(to: string, n: number, o: { nodes?: string[]; fields?: string[] } = {}): Promise<number[]> {
    this.p.send({ op: 'bench', to, n, nodes: o.nodes ?? null, fields: o.fields ?? null });
    const r = await this.p.next('bench', 300_000);
    if (r.error || r.exception) throw new Error(`bench failed: ${JSON.stringify(r.error ?? r.exception)}`);
    return r.ms as number[];
  }

  async burst(to: string, n: number): Promise<Record<string, number>> {
    this.p.send({ op: 'burst', to, n });
    const r = await this.p.next('burst', 120_000);
    if (r.exception) throw new Error(`burst failed: ${String(r.exception)}`);
    return r.counts as Record<string, number>;
  }

  close(): Promise<void> {
    return this.p.close();
  }
}
