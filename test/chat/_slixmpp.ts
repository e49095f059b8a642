// Drives test/clients/chat_client.py (slixmpp 1.8.3 under Debian's /usr/bin/python3): a
// person's client for the chat tests, and the slixmpp bot the chat benchmark compares with.
import type { ChildProcess } from 'node:child_process';
import { clientScript as scriptOf, PyLines, type Line } from '../clients/_json-lines';

/** What a client needs of a server under test (Prosody or ejabberd from scripts/). */
export interface ServerAddress { host: string; c2sPort: number; caFile: string }

export type { Line };
export interface Answer { body: string | null; ms: number | null; receipt: boolean; timeout?: boolean; type?: string; error?: string | null }
export interface Collected { from: string; type: string; body: string; error?: string }

export { PYTHON } from '../clients/_json-lines';

export function clientScript(): string {
  return scriptOf('chat_client.py');
}

export interface PyProcess {
  proc: ChildProcess;
  next(event: string, timeoutMs?: number): Promise<Line>;
  send(cmd: Record<string, unknown>): void;
  stderr(): string;
  close(): Promise<void>;
}

export function spawnPy(args: string[], label: string): PyProcess {
  return new PyLines('chat_client.py', args, label);
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
