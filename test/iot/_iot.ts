// Drives test/clients/iot_client.py (slixmpp 1.8.3's xep_0323 and xep_0325 client plugins,
// under Debian's /usr/bin/python3) and, for the benchmark, test/clients/iot_device.py (its
// xep_0323 device plugin): JSON lines in and out.
import { PyLines } from '../clients/_json-lines';

export { PYTHON, PyLines } from '../clients/_json-lines';
export interface ServerAddress { host: string; c2sPort: number; caFile: string }

export interface PyField { name: string; typename: string; value: string; unit?: string; dataType?: string; flags?: Record<string, string> }
export interface PyReadResult { result: string; nodeId?: string | null; timestamp?: string | null; fields?: PyField[] | null; error_msg?: string | null }
export interface PyRead { results: PyReadResult[]; ms: number | null; exception?: string }
export interface PySet { result: string; fields?: string[] | null; error_msg?: string | null; exception?: string }

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
