// Where to connect: configured host/port, or DNS SRV (RFC 6120 3.2.1, XEP-0368 3):
// `_xmpps-client._tcp` (direct TLS) and `_xmpp-client._tcp` (STARTTLS) records, ordered by
// priority then weighted-random (RFC 2782), and finally the domain itself on 5222.
import { promises as dns, SrvRecord } from 'node:dns';
import * as net from 'node:net';
import { XiotaError } from '../errors';

export interface Endpoint {
  host: string;
  port: number;
  directTls: boolean;
}

export interface EndpointConfig {
  host?: string;
  port?: number;
  directTls?: boolean;
}

export type SrvResolver = (name: string) => Promise<SrvRecord[]>;

/** RFC 2782: lowest priority first; within a priority, weighted random order. */
export function orderSrv(records: SrvRecord[], random: () => number = Math.random): SrvRecord[] {
  const byPrio = new Map<number, SrvRecord[]>();
  for (const r of records) {
    if (r.name === '.' || r.name === '') continue; // "service decidedly not available"
    const list = byPrio.get(r.priority) ?? [];
    list.push(r);
    byPrio.set(r.priority, list);
  }
  const out: SrvRecord[] = [];
  for (const prio of [...byPrio.keys()].sort((a, b) => a - b)) {
    const pool = [...byPrio.get(prio)!];
    while (pool.length) {
      const total = pool.reduce((s, r) => s + r.weight, 0);
      let pick = 0;
      if (total > 0) {
        let n = random() * total;
        pick = pool.findIndex((r) => (n -= r.weight) < 0);
        if (pick < 0) pick = pool.length - 1;
      }
      out.push(pool.splice(pick, 1)[0]!);
    }
  }
  return out;
}

export async function resolveEndpoints(domain: string, cfg: EndpointConfig, resolveSrv: SrvResolver = dns.resolveSrv): Promise<Endpoint[]> {
  if (cfg.host) {
    const directTls = cfg.directTls ?? false;
    return [{ host: cfg.host, port: cfg.port ?? (directTls ? 5223 : 5222), directTls }];
  }
  const out: Endpoint[] = [];
  const lookup = async (prefix: string, directTls: boolean) => {
    try {
      for (const r of orderSrv(await resolveSrv(`${prefix}.${domain}`))) out.push({ host: r.name, port: r.port, directTls });
    } catch {
      /* no such record: next */
    }
  };
  if (cfg.directTls !== false) await lookup('_xmpps-client._tcp', true);
  if (cfg.directTls !== true) await lookup('_xmpp-client._tcp', false);
  if (out.length === 0) out.push({ host: domain, port: cfg.port ?? (cfg.directTls ? 5223 : 5222), directTls: cfg.directTls ?? false });
  return out;
}

export function connectTcp(ep: Endpoint, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: ep.host, port: ep.port });
    sock.setNoDelay(true);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new XiotaError('XIOTA_E_TIMEOUT', `connecting to ${ep.host}:${ep.port} timed out after ${timeoutMs} ms; check the host, port and network`));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.removeAllListeners('error');
      resolve(sock);
    });
    sock.once('error', (err: Error & { code?: string }) => {
      clearTimeout(timer);
      const code = err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN' ? 'XIOTA_E_DNS' : 'XIOTA_E_CONNECT';
      const hint = code === 'XIOTA_E_DNS' ? 'the host name does not resolve; check server.host or DNS' : err.code === 'ECONNREFUSED' ? 'nothing listens there; check server.host/port and that the server runs' : 'check the network';
      reject(new XiotaError(code, `cannot connect to ${ep.host}:${ep.port}: ${err.code ?? err.message}; ${hint}`, { sysCode: err.code }, { cause: err }));
    });
  });
}
