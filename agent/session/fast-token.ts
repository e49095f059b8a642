// XEP-0484 FAST tokens on disk: `fast-token.json` in the state directory, mode 0600, written
// atomically (temporary file, fsync, rename). It also keeps the XEP-0388 user-agent id, which
// must stay the same across restarts: the server binds tokens to it. The token is a secret
// equal to the password (XEP-0484 4.1): it never reaches a log or an error message.
import { randomUUID } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { XiotaError } from '../errors';

export interface FastToken {
  /** The HT mechanism the token was issued for (XEP-0484 3.4: bound to it). */
  mechanism: string;
  token: string;
  /** XEP-0082 DateTime from the server. */
  expiry: string;
  /** The bare JID it authenticates. */
  jid: string;
}

interface FileShape { userAgentId: string; token?: FastToken }

/** Where FAST state lives; `MemoryFastStore` for tests and processes without a state directory. */
export interface FastStore {
  /** XEP-0388 2.2 user-agent id: stable for this installation. */
  userAgentId(): string;
  get(jid: string): FastToken | undefined;
  set(token: FastToken): void;
  /** Forget the token (used and refused, or invalidated on logout). */
  clear(): void;
}

export class MemoryFastStore implements FastStore {
  private readonly id = randomUUID();
  private token?: FastToken;
  userAgentId(): string { return this.id; }
  get(jid: string): FastToken | undefined { return this.token && this.token.jid === jid && !expired(this.token) ? this.token : undefined; }
  set(token: FastToken): void { this.token = { ...token }; }
  clear(): void { this.token = undefined; }
}

function expired(t: FastToken, now = Date.now()): boolean {
  const at = Date.parse(t.expiry);
  return Number.isFinite(at) && at <= now;
}

export class FileFastStore implements FastStore {
  readonly file: string;
  private state?: FileShape;

  constructor(stateDir: string) {
    this.file = join(stateDir, 'fast-token.json');
  }

  private load(): FileShape {
    if (this.state) return this.state;
    let raw: string | undefined;
    try {
      raw = readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new XiotaError('XIOTA_E_CONFIG', `cannot read ${this.file}: ${(e as Error).message}; fix its permissions or delete it (the agent then logs in with the password)`);
      }
    }
    if (raw !== undefined) {
      // A token readable by others is as bad as a leaked password: refuse to keep using it.
      const mode = statSync(this.file).mode & 0o077;
      let parsed: Partial<FileShape> | undefined;
      try { parsed = JSON.parse(raw) as Partial<FileShape>; } catch { parsed = undefined; }
      if (parsed && typeof parsed.userAgentId === 'string') {
        const t = parsed.token;
        const ok = t && typeof t.token === 'string' && typeof t.mechanism === 'string' && typeof t.expiry === 'string' && typeof t.jid === 'string';
        this.state = { userAgentId: parsed.userAgentId, token: ok && mode === 0 ? t : undefined };
        if (mode !== 0) this.write();
        return this.state;
      }
    }
    this.state = { userAgentId: randomUUID() };
    this.write();
    return this.state;
  }

  private write(): void {
    const s = this.state!;
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(s) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, 0o600); // umask cannot widen 0600, but an existing tmp file keeps its mode
    renameSync(tmp, this.file);
  }

  userAgentId(): string { return this.load().userAgentId; }

  get(jid: string): FastToken | undefined {
    const t = this.load().token;
    return t && t.jid === jid && !expired(t) ? t : undefined;
  }

  set(token: FastToken): void {
    this.load().token = { ...token };
    this.write();
  }

  clear(): void {
    const s = this.load();
    if (!s.token) return;
    s.token = undefined;
    this.write();
  }
}
