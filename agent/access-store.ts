// The owners' run-time access decisions (allow bob as reader, deny carol, requests waiting for
// an answer) kept beside the config's lists, and the `Access` object every module asks. The
// decision itself is agent/access.ts (pure); this file holds state and logs each decision.
import { XiotaError } from './errors';
import type { Logger } from './log';
import { silentLogger } from './log';
import { bareOf, decide, type AccessPolicy, type Action, type Decision, type Grants, type Role } from './access';

export type GrantRole = 'controller' | 'reader';

export interface PendingRequest { jid: string; since: number }

/** One person the access list knows: from the config or from an owner's decision. */
export interface AccessEntry {
  jid: string;
  role: Role;
  /** config: the YAML lists; allowed/denied: an owner's decision; pending: waits for one. */
  source: 'config' | 'allowed' | 'denied' | 'pending';
}

export type AccessChange =
  | { kind: 'allowed'; jid: string; role: GrantRole; by?: string }
  | { kind: 'denied'; jid: string; by?: string }
  | { kind: 'revoked'; jid: string; by?: string }
  | { kind: 'requested'; jid: string };

/** What modules get as `deps.access`. */
export interface Access {
  readonly policy: AccessPolicy;
  /** The decision for `jid` (any form, full or bare) doing `action`, logged with the JID. */
  decide(jid: string, action: Action): Decision;
  roleOf(jid: string): Role;
  /** An owner lets `jid` in (reader by default); answers its pending request if any. */
  allow(jid: string, role?: GrantRole, by?: string): Promise<void>;
  /** An owner refuses `jid` (a pending request, or someone the config lets in). */
  deny(jid: string, by?: string): Promise<void>;
  /** An owner takes back what `jid` was given; the presence subscription goes too. */
  revoke(jid: string, by?: string): Promise<void>;
  /** A stranger asked to follow the device: remembered until an owner answers. True if new. */
  request(jid: string): Promise<boolean>;
  pending(): PendingRequest[];
  list(): AccessEntry[];
  /** Owner JIDs that can be written to (config entries that are not `@domain`). */
  ownerJids(): string[];
  /** Called after every change (subscriptions follow allow/deny/revoke). */
  onChange(fn: (c: AccessChange) => void): () => void;
}

export interface AccessStoreOptions {
  policy: AccessPolicy;
  /** Our own bare JID: its other resources are owners. */
  self?: string;
  log?: Logger;
  now?: () => number;
}

/** In-memory state plus the decisions; `FileAccessStore` (persisted) builds on it. */
export class AccessStore implements Access {
  readonly policy: AccessPolicy;
  protected allowed = new Map<string, GrantRole>();
  protected denied = new Set<string>();
  protected requests = new Map<string, number>();
  protected readonly log: Logger;
  protected readonly now: () => number;
  private readonly listeners = new Set<(c: AccessChange) => void>();

  constructor(private readonly o: AccessStoreOptions) {
    this.policy = o.policy;
    this.log = o.log ?? silentLogger;
    this.now = o.now ?? Date.now;
  }

  grants(): Grants {
    return { allowed: this.allowed, denied: this.denied };
  }

  decide(jid: string, action: Action): Decision {
    const d = decide(this.policy, jid, action, this.grants(), this.o.self);
    if (d.allowed) this.log.debug('access allowed', { jid: d.jid, action, role: d.role });
    else this.log.info('access refused', { jid: d.jid, action, role: d.role });
    return d;
  }

  roleOf(jid: string): Role {
    return decide(this.policy, jid, 'read', this.grants(), this.o.self).role;
  }

  async allow(jid: string, role: GrantRole = 'reader', by?: string): Promise<void> {
    const bare = checkedBare(jid);
    this.allowed.set(bare, role);
    this.denied.delete(bare);
    this.requests.delete(bare);
    await this.changed({ kind: 'allowed', jid: bare, role, by });
  }

  async deny(jid: string, by?: string): Promise<void> {
    const bare = checkedBare(jid);
    this.allowed.delete(bare);
    this.requests.delete(bare);
    this.denied.add(bare);
    await this.changed({ kind: 'denied', jid: bare, by });
  }

  async revoke(jid: string, by?: string): Promise<void> {
    const bare = checkedBare(jid);
    this.allowed.delete(bare);
    this.requests.delete(bare);
    // Someone the config lets in keeps that role unless denied: a revoke must take effect.
    if (this.roleOf(bare) !== 'stranger' && this.roleOf(bare) !== 'owner') this.denied.add(bare);
    await this.changed({ kind: 'revoked', jid: bare, by });
  }

  async request(jid: string): Promise<boolean> {
    const bare = checkedBare(jid);
    if (this.requests.has(bare)) return false;
    this.requests.set(bare, this.now());
    await this.changed({ kind: 'requested', jid: bare });
    return true;
  }

  pending(): PendingRequest[] {
    return [...this.requests].map(([jid, since]) => ({ jid, since })).sort((a, b) => a.since - b.since);
  }

  list(): AccessEntry[] {
    const out: AccessEntry[] = [];
    for (const j of this.policy.owners) out.push({ jid: j, role: 'owner', source: 'config' });
    for (const j of this.policy.controllers) out.push({ jid: j, role: 'controller', source: 'config' });
    for (const j of this.policy.readers) out.push({ jid: j, role: 'reader', source: 'config' });
    for (const [j, r] of this.allowed) out.push({ jid: j, role: r, source: 'allowed' });
    for (const j of this.denied) out.push({ jid: j, role: 'stranger', source: 'denied' });
    for (const p of this.pending()) out.push({ jid: p.jid, role: 'stranger', source: 'pending' });
    return out;
  }

  ownerJids(): string[] {
    return this.policy.owners.filter((j) => !j.trim().startsWith('@')).map((j) => bareOf(j.trim()));
  }

  onChange(fn: (c: AccessChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Persists (subclasses) and tells the listeners. */
  protected async changed(c: AccessChange): Promise<void> {
    await this.save();
    this.log.info(`access ${c.kind}`, { ...c });
    for (const fn of [...this.listeners]) {
      try {
        fn(c);
      } catch (e) {
        this.log.error('access change listener threw', { error: e as Error });
      }
    }
  }

  protected async save(): Promise<void> {}
}

/** A bare JID `local@domain` (lower-cased), or a clear error. */
export function checkedBare(jid: string): string {
  const bare = bareOf(String(jid ?? '').trim());
  if (!/^[^@\s/]+@[^@\s/]+\.?[^@\s/]*$/.test(bare)) {
    throw new XiotaError('XIOTA_E_CONFIG', `"${jid}" is not a JID: write it as name@domain, for example bob@example.org`, { jid });
  }
  return bare;
}
