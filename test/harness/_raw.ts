// A raw socket conversation for checking the harness without depending on the agent's own
// client (which these servers exist to test): write bytes, wait for a pattern.
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket, type ConnectionOptions } from 'node:tls';

export class Raw {
  buf = '';
  closed = false;
  constructor(public sock: Socket | TLSSocket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (this.buf += d));
    sock.on('close', () => (this.closed = true));
    sock.on('error', () => {});
  }
  write(s: string): void {
    this.sock.write(s);
  }
  /** Resolve with the input up to the end of the first match (consumed); reject on close or timeout. */
  async until(re: RegExp, timeoutMs = 5000): Promise<string> {
    const end = Date.now() + timeoutMs;
    let m: RegExpExecArray | null;
    while (!(m = re.exec(this.buf))) {
      if (this.closed) throw new Error(`closed waiting for ${re}; got ${JSON.stringify(this.buf)}`);
      if (Date.now() > end) throw new Error(`timeout waiting for ${re}; got ${JSON.stringify(this.buf)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const cut = m.index + m[0].length;
    const out = this.buf.slice(0, cut);
    this.buf = this.buf.slice(cut);
    return out;
  }
  close(): void {
    this.sock.destroy();
  }
}

export function rawTcp(port: number): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ port, host: '127.0.0.1' }, () => resolve(new Raw(s)));
    s.once('error', reject);
  });
}

export function rawTls(port: number, opts: ConnectionOptions): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ port, host: '127.0.0.1', ...opts }, () => resolve(new Raw(s)));
    s.once('error', reject);
  });
}

export const openStream = (domain: string) =>
  `<?xml version='1.0'?><stream:stream to='${domain}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`;

export const plainAuth = (user: string, pass: string) =>
  `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${pass}`).toString('base64')}</auth>`;

/** Is this PID a live process (not a zombie)? */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // A killed child not yet reaped shows as a zombie: that counts as gone.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}
