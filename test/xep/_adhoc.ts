// Drives test/clients/adhoc_client.py (slixmpp 1.8.3 and its xep_0050 plugin, under Debian's
// /usr/bin/python3): a person running ad-hoc commands, and the slixmpp bot of the benchmark.
import { PyLines } from '../clients/_json-lines';
/** What the clients need of a server (Prosody or ejabberd from scripts/servers.ts). */
export interface ServerAddress { host: string; c2sPort: number; caFile: string }

export { PYTHON } from '../clients/_json-lines';

export interface PyField { var: string | null; type: string | null; label: string | null; values: string[]; options?: string[]; datatype?: string; range?: [string | null, string | null] }
export interface PyForm { type: string; title: string | null; instructions: string[]; fields: PyField[]; reported: string[] | null; items: Record<string, string>[] }
export interface PyResult {
  status?: string; sessionid?: string; node?: string; ms: number;
  actions?: { execute: string | null; list: string[] } | null;
  notes?: { type: string; text: string }[];
  form?: PyForm | null;
  error?: { condition: string; text?: string; type?: string; app?: string | null };
}

/** test/clients/adhoc_client.py as a JSON-lines child process. */
export class PyProc extends PyLines {
  constructor(args: string[], label: string) { super('adhoc_client.py', args, label); }
}

/** A person with slixmpp's xep_0050 plugin. */
export class AdhocClient {
  jid = '';
  private constructor(private readonly p: PyProc) {}

  static async start(srv: ServerAddress, user: string, password: string, resource = 'py'): Promise<AdhocClient> {
    const p = new PyProc(['client', `${user}@${srv.host}/${resource}`, password, String(srv.c2sPort), srv.caFile], `adhoc ${user}`);
    const c = new AdhocClient(p);
    c.jid = String((await p.next('online', 20_000)).jid);
    return c;
  }

  async list(to: string): Promise<{ items?: { jid: string; node: string; name: string }[]; error?: PyResult['error'] }> {
    this.p.send({ op: 'list', to });
    return (await this.p.next('list')) as never;
  }

  async info(to: string, node?: string): Promise<{ identities?: string[][]; features?: string[]; error?: PyResult['error'] }> {
    this.p.send({ op: 'info', to, node });
    return (await this.p.next('info')) as never;
  }

  /** action 'none': no action attribute at all (what Profanity sends). */
  async exec(to: string, node: string, o: { action?: string; sessionid?: string; fields?: Record<string, string[]> } = {}): Promise<PyResult> {
    this.p.send({ op: 'exec', to, node, action: o.action, sessionid: o.sessionid, fields: o.fields ?? null });
    return (await this.p.next('result')) as unknown as PyResult;
  }

  async bench(to: string, node: string, n: number, gapMs: number): Promise<number[]> {
    this.p.send({ op: 'bench', to, node, n, gap_ms: gapMs });
    const r = await this.p.next('bench', 120_000);
    if (r.error) throw new Error(`bench failed: ${JSON.stringify(r.error)}`);
    return r.ms as number[];
  }

  close(): Promise<void> {
    return this.p.close();
  }
}

/** The slixmpp bot answering `status` while publishing `rate` readings/s (the benchmark's anchor). */
export async function startBot(srv: ServerAddress, user: string, password: string, rate: number): Promise<{ jid: string; close(): Promise<void> }> {
  const p = new PyProc(['bot', `${user}@${srv.host}/bot`, password, String(srv.c2sPort), srv.caFile, String(rate)], `bot ${user}`);
  const jid = String((await p.next('online', 20_000)).jid);
  return { jid, close: () => p.close() };
}
