// The owners' run-time access decisions (allow bob as reader, deny carol, requests waiting for
// an answer) kept beside the config's lists, and the `Access` object every module asks. The
// decision itself is agent/access.ts (pure); this file holds state and logs each decision.
// The state is a small JSON file in the state directory (beside the outbox), replaced
// atomically on every change: written to a temp file, fsync'd, renamed, directory fsync'd, so
// a power cut leaves the old or the new file, never half of one.
import { join } from 'node:path';
import { XiotaError } from './errors';
import type { Logger } from './log';
import { silentLogger } from './log';
import { bareOf, decide, delegated, forThings, inList, type AccessPolicy, type AccessScope, type Action, type DelegatedAnswer, type Decision, type Grants, type Role } from './access';
import { nodeFs, type OutboxFs } from './outbox/fs';

export const ACCESS_FILE = 'access.json';
/** Strangers waiting for an answer, at most (the oldest go first): a flood cannot grow the file. */
export const MAX_PENDING = 100;

export type GrantRole = 'controller' | 'reader';

export interface PendingRequest { jid: string; since: number }

/** One person the access list knows: from the config or from an owner's decision. */
export interface AccessEntry {
  jid: string;
  role: Role;
  /** config: the YAML lists; allowed/denied: an owner's decision; pending: waits for one;
   *  claimed: an owner by a Thing Registry claim (XEP-0347); thing-claim: the owner of some
   *  things behind the gateway by claim (`things`), no role on the gateway itself. */
  source: 'config' | 'allowed' | 'denied' | 'pending' | 'claimed' | 'thing-claim';
  /** source thing-claim: the things owned (sorted). */
  things?: string[];
}

export type AccessChange =
  | { kind: 'allowed'; jid: string; role: GrantRole; by?: string }
  | { kind: 'denied'; jid: string; by?: string }
  | { kind: 'revoked'; jid: string; by?: string }
  | { kind: 'requested'; jid: string }
  /** XEP-0347: a Thing Registry reported a claim (owner added) or a disown (owner removed). */
  | { kind: 'owner-added'; jid: string; by?: string }
  | { kind: 'owner-removed'; jid: string; by?: string }
  /** XEP-0347: a thing behind the gateway claimed (its owner added) or disowned or gone. */
  | { kind: 'thing-owner-added'; jid: string; thing: string; by?: string }
  | { kind: 'thing-owner-removed'; jid: string; thing: string; by?: string };

/**
 * Who answers what the local policy cannot decide (XEP-0324, agent/xep/provisioning.ts).
 * `cached` answers at once from what the server said before (undefined: never asked);
 * `ask` asks the server (or its cache) and fails closed: an unreachable server is a refusal.
 */
export interface Delegate {
  cached(jid: string, scope: AccessScope): DelegatedAnswer | undefined;
  ask(jid: string, scope: AccessScope): Promise<DelegatedAnswer>;
}

/** What modules get as `deps.access`. */
export interface Access {
  readonly policy: AccessPolicy;
  /** The decision for `jid` (any form, full or bare) doing `action`, logged with the JID.
   *  Synchronous: a question for the provisioning server is answered from its cache, or
   *  refused with `delegate` set (use `check` where the asker may wait). */
  decide(jid: string, action: Action): Decision;
  /** The same decision, asking the provisioning server when the local policy cannot decide
   *  (XEP-0324); the scope says what is asked for and may come back narrowed (partial grant). */
  check(jid: string, action: Action, scope?: AccessScope): Promise<Decision>;
  /** The provisioning module registers here; returns the function that unregisters it. */
  delegateTo(d: Delegate): () => void;
  /** XEP-0347: a registry-reported owner (persisted); `removeOwner` undoes it (disowned). */
  addOwner(jid: string, by?: string): Promise<void>;
  removeOwner(jid: string, by?: string): Promise<void>;
  /** XEP-0347: `jid` claimed the thing `thing` behind the gateway: it may read and control that
   *  thing only (persisted); `removeThingOwner` undoes it for whoever owns the thing. */
  addThingOwner(jid: string, thing: string, by?: string): Promise<void>;
  removeThingOwner(thing: string, by?: string): Promise<void>;
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
  /** The state directory; without it, decisions live in memory only. */
  dir?: string;
  fs?: OutboxFs;
  log?: Logger;
  now?: () => number;
}

/** What access.json holds. */
interface StoredAccess {
  version: 1;
  allowed: Record<string, GrantRole>;
  denied: string[];
  pending: Record<string, number>;
  /** Owners from a Thing Registry claim (XEP-0347); absent in files written before. */
  owners?: string[];
  /** Owners of things behind the gateway by claim: bare JID -> thing ids; absent in files written before. */
  thingOwners?: Record<string, string[]>;
}

/** The decisions, persisted in `<dir>/access.json` when a directory is given. */
export class AccessStore implements Access {
  readonly policy: AccessPolicy;
  protected allowed = new Map<string, GrantRole>();
  protected denied = new Set<string>();
  protected requests = new Map<string, number>();
  protected claimedOwners = new Set<string>();
  protected thingOwners = new Map<string, Set<string>>();
  private delegate: Delegate | undefined;
  protected readonly log: Logger;
  protected readonly now: () => number;
  private readonly listeners = new Set<(c: AccessChange) => void>();
  private readonly fs: OutboxFs;
  /** Saves run one after another; each writes the state as it is when it runs. */
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly o: AccessStoreOptions) {
    this.policy = o.policy;
    this.log = o.log ?? silentLogger;
    this.now = o.now ?? Date.now;
    this.fs = o.fs ?? nodeFs;
  }

  get file(): string | undefined {
    return this.o.dir === undefined ? undefined : join(this.o.dir, ACCESS_FILE);
  }

  /**
   * Reads access.json (none yet: nothing decided). A file that does not parse is kept aside as
   * access.json.bad-<time> and the store starts empty, logged as an error: the device keeps
   * running on its config's lists rather than not at all.
   */
  async load(): Promise<void> {
    const file = this.file;
    if (!file) return;
    let text: string;
    try {
      text = (await this.fs.readFile(file)).toString('utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new XiotaError('XIOTA_E_CONFIG', `cannot read ${file}: ${(e as Error).message}; check the state directory's permissions`, { file });
    }
    let parsed: StoredAccess;
    try {
      parsed = parseStored(text);
    } catch (e) {
      const aside = `${file}.bad-${this.now()}`;
      await this.fs.rename(file, aside).catch(() => undefined);
      this.log.error('access decisions unreadable; starting without them', { file, keptAs: aside, error: (e as Error).message });
      return;
    }
    this.allowed = new Map(Object.entries(parsed.allowed));
    this.denied = new Set(parsed.denied);
    this.requests = new Map(Object.entries(parsed.pending));
    this.claimedOwners = new Set(parsed.owners ?? []);
    this.thingOwners = new Map(Object.entries(parsed.thingOwners ?? {}).map(([j, things]) => [j, new Set(things)]));
    this.log.debug('access decisions loaded', { file, allowed: this.allowed.size, denied: this.denied.size, pending: this.requests.size });
  }

  grants(): Grants {
    return { allowed: this.allowed, denied: this.denied, owners: this.claimedOwners, thingOwners: this.thingOwners };
  }

  decide(jid: string, action: Action): Decision {
    let d = decide(this.policy, jid, action, this.grants(), this.o.self, this.delegate !== undefined);
    if (d.delegate && this.delegate) {
      // Only a whole grant: a caller that cannot wait cannot narrow its answer to a partial one.
      const a = this.delegate.cached(d.jid, { question: questionOf(action) });
      if (a && (!a.allowed || (!a.nodes && !a.fields))) d = delegated(d, a);
    }
    return this.logged(d);
  }

  async check(jid: string, action: Action, scope: AccessScope = {}): Promise<Decision> {
    const d = decide(this.policy, jid, action, this.grants(), this.o.self, this.delegate !== undefined);
    if (!d.delegate) return this.logged(d);
    // XEP-0347: an owner of things behind the gateway reads and controls those, locally.
    const things = forThings(d, this.thingOwners.get(d.jid), scope);
    if (things) return this.logged(things);
    if (!this.delegate) return this.logged({ ...d, delegate: false });
    const a = await this.delegate.ask(d.jid, { question: questionOf(action), ...scope });
    return this.logged(delegated(d, a));
  }

  delegateTo(d: Delegate): () => void {
    this.delegate = d;
    return () => { if (this.delegate === d) this.delegate = undefined; };
  }

  private logged(d: Decision): Decision {
    const by = d.by === 'provisioning' ? { by: d.by } : {};
    if (d.allowed) this.log.debug('access allowed', { jid: d.jid, action: d.action, role: d.role, ...by });
    else this.log.info('access refused', { jid: d.jid, action: d.action, role: d.role, ...by, ...(d.delegate ? { waiting: 'provisioning' } : {}) });
    return d;
  }

  roleOf(jid: string): Role {
    return decide(this.policy, jid, 'read', this.grants(), this.o.self).role;
  }

  async addOwner(jid: string, by?: string): Promise<void> {
    const bare = checkedBare(jid);
    if (this.claimedOwners.has(bare)) return;
    this.claimedOwners.add(bare);
    this.allowed.delete(bare);
    this.denied.delete(bare);
    this.requests.delete(bare);
    await this.changed({ kind: 'owner-added', jid: bare, by });
  }

  async removeOwner(jid: string, by?: string): Promise<void> {
    const bare = checkedBare(jid);
    if (!this.claimedOwners.delete(bare)) return;
    await this.changed({ kind: 'owner-removed', jid: bare, by });
  }

  async addThingOwner(jid: string, thing: string, by?: string): Promise<void> {
    const bare = checkedBare(jid);
    if (this.thingOwners.get(bare)?.has(thing)) return;
    // One owner a thing (XEP-0347 'Claim Ownership': a claimed thing cannot be claimed again).
    for (const [j, things] of this.thingOwners) if (things.delete(thing) && !things.size) this.thingOwners.delete(j);
    this.thingOwners.set(bare, new Set([...(this.thingOwners.get(bare) ?? []), thing]));
    await this.changed({ kind: 'thing-owner-added', jid: bare, thing, by });
  }

  async removeThingOwner(thing: string, by?: string): Promise<void> {
    const owner = [...this.thingOwners].find(([, things]) => things.has(thing))?.[0];
    if (owner === undefined) return;
    const things = this.thingOwners.get(owner)!;
    things.delete(thing);
    if (!things.size) this.thingOwners.delete(owner);
    await this.changed({ kind: 'thing-owner-removed', jid: owner, thing, by });
  }

  /** Things behind the gateway that `jid` owns by claim (sorted). */
  thingsOwnedBy(jid: string): string[] {
    return [...(this.thingOwners.get(bareOf(jid)) ?? [])].sort();
  }

  async allow(jid: string, role: GrantRole = 'reader', by?: string): Promise<void> {
    const bare = checkedBare(jid);
    this.notOwner(bare, 'allowed');
    this.allowed.set(bare, role);
    this.denied.delete(bare);
    this.requests.delete(bare);
    await this.changed({ kind: 'allowed', jid: bare, role, by });
  }

  async deny(jid: string, by?: string): Promise<void> {
    const bare = checkedBare(jid);
    this.notOwner(bare, 'denied');
    this.allowed.delete(bare);
    this.requests.delete(bare);
    this.denied.add(bare);
    await this.changed({ kind: 'denied', jid: bare, by });
  }

  async revoke(jid: string, by?: string): Promise<void> {
    const bare = checkedBare(jid);
    this.notOwner(bare, 'revoked');
    this.allowed.delete(bare);
    this.requests.delete(bare);
    // The things it owns by a registry claim too: an owner's revoke is the gateway's word.
    this.thingOwners.delete(bare);
    // Someone the config lets in keeps that role unless denied: a revoke must take effect.
    if (this.roleOf(bare) !== 'stranger' && this.roleOf(bare) !== 'owner') this.denied.add(bare);
    await this.changed({ kind: 'revoked', jid: bare, by });
  }

  async request(jid: string): Promise<boolean> {
    const bare = checkedBare(jid);
    if (this.requests.has(bare)) return false;
    this.requests.set(bare, this.now());
    if (this.requests.size > MAX_PENDING) {
      const oldest = this.pending()[0]!;
      this.requests.delete(oldest.jid);
      this.log.info('too many pending access requests; dropped the oldest', { jid: oldest.jid, max: MAX_PENDING });
    }
    await this.changed({ kind: 'requested', jid: bare });
    return true;
  }

  pending(): PendingRequest[] {
    return [...this.requests].map(([jid, since]) => ({ jid, since })).sort((a, b) => a.since - b.since);
  }

  list(): AccessEntry[] {
    const out: AccessEntry[] = [];
    for (const j of this.policy.owners) out.push({ jid: j, role: 'owner', source: 'config' });
    for (const j of this.claimedOwners) out.push({ jid: j, role: 'owner', source: 'claimed' });
    for (const j of this.policy.controllers) out.push({ jid: j, role: 'controller', source: 'config' });
    for (const j of this.policy.readers) out.push({ jid: j, role: 'reader', source: 'config' });
    for (const [j, r] of this.allowed) out.push({ jid: j, role: r, source: 'allowed' });
    for (const j of this.denied) out.push({ jid: j, role: 'stranger', source: 'denied' });
    for (const p of this.pending()) out.push({ jid: p.jid, role: 'stranger', source: 'pending' });
    for (const [j, things] of this.thingOwners) out.push({ jid: j, role: 'stranger', source: 'thing-claim', things: [...things].sort() });
    return out;
  }

  ownerJids(): string[] {
    const config = this.policy.owners.filter((j) => !j.trim().startsWith('@')).map((j) => bareOf(j.trim()));
    return [...new Set([...config, ...this.claimedOwners])];
  }

  onChange(fn: (c: AccessChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Persists (subclasses) and tells the listeners. */
  protected async changed(c: AccessChange): Promise<void> {
    // A failed save does not undo the change (it holds until a restart) and the modules still
    // follow it (a revoke still removes the subscription); the caller hears of the failure.
    let failed: unknown;
    try {
      await this.save();
    } catch (e) {
      failed = e;
      this.log.error('access decision not saved', { error: e as Error });
    }
    this.log.info(`access ${c.kind}`, { ...c });
    for (const fn of [...this.listeners]) {
      try {
        fn(c);
      } catch (e) {
        this.log.error('access change listener threw', { error: e as Error });
      }
    }
    if (failed) throw failed;
  }

  /** Owners come from the config file only: a run-time decision about one is refused. */
  private notOwner(bare: string, what: string): void {
    if (inList(this.policy.owners, bare) || (this.o.self && bareOf(this.o.self) === bare)) {
      throw new XiotaError('XIOTA_E_CONFIG', `${bare} is an owner; owners cannot be ${what} at run time: edit access.owners in the config file`, { jid: bare });
    }
    if (this.claimedOwners.has(bare)) {
      throw new XiotaError('XIOTA_E_CONFIG', `${bare} owns the device by a Thing Registry claim; it cannot be ${what}: the owner disowns it through the registry (XEP-0347)`, { jid: bare });
    }
  }

  /** Writes access.json atomically (temp, fsync, rename, fsync dir), one save at a time. */
  protected save(): Promise<void> {
    const file = this.file;
    if (!file || this.o.dir === undefined) return Promise.resolve();
    const dir = this.o.dir;
    const run = async () => {
      const state: StoredAccess = {
        version: 1,
        allowed: Object.fromEntries(this.allowed),
        denied: [...this.denied].sort(),
        pending: Object.fromEntries(this.requests),
        ...(this.claimedOwners.size ? { owners: [...this.claimedOwners].sort() } : {}),
        ...(this.thingOwners.size ? { thingOwners: Object.fromEntries([...this.thingOwners].map(([j, t]) => [j, [...t].sort()])) } : {}),
      };
      const tmp = `${file}.tmp`;
      await this.fs.mkdirp(dir);
      await this.fs.unlink(tmp).catch(() => undefined);
      const f = await this.fs.openAppend(tmp);
      try {
        await f.append(Buffer.from(JSON.stringify(state, null, 2) + '\n', 'utf8'));
        await f.datasync();
      } finally {
        await f.close();
      }
      await this.fs.rename(tmp, file);
      await this.fs.syncDir(dir);
    };
    const p = this.saving.then(run, run);
    this.saving = p.catch(() => undefined);
    return p.catch((e) => {
      throw new XiotaError('XIOTA_E_OUTBOX', `cannot save access decisions to ${file}: ${(e as Error).message}; the change holds until a restart`, { file });
    });
  }
}

/** Parses access.json, checking every entry; throws with what is wrong. */
function parseStored(text: string): StoredAccess {
  const raw = JSON.parse(text) as unknown;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('not a JSON object');
  const o = raw as Record<string, unknown>;
  if (o.version !== 1) throw new Error(`unknown version ${JSON.stringify(o.version)}`);
  const out: StoredAccess = { version: 1, allowed: {}, denied: [], pending: {} };
  const obj = (v: unknown, what: string): Record<string, unknown> => {
    if (v === undefined) return {};
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${what} is not an object`);
    return v as Record<string, unknown>;
  };
  for (const [jid, role] of Object.entries(obj(o.allowed, 'allowed'))) {
    if (role !== 'reader' && role !== 'controller') throw new Error(`allowed.${jid}: role ${JSON.stringify(role)} is not reader or controller`);
    out.allowed[checkedBare(jid)] = role;
  }
  if (o.denied !== undefined && !Array.isArray(o.denied)) throw new Error('denied is not a list');
  for (const jid of (o.denied as unknown[] | undefined) ?? []) out.denied.push(checkedBare(String(jid)));
  for (const [jid, since] of Object.entries(obj(o.pending, 'pending'))) {
    if (typeof since !== 'number' || !Number.isFinite(since)) throw new Error(`pending.${jid}: ${JSON.stringify(since)} is not a time`);
    out.pending[checkedBare(jid)] = since;
  }
  if (o.owners !== undefined) {
    if (!Array.isArray(o.owners)) throw new Error('owners is not a list');
    out.owners = o.owners.map((j) => checkedBare(String(j)));
  }
  if (o.thingOwners !== undefined) {
    out.thingOwners = {};
    for (const [jid, things] of Object.entries(obj(o.thingOwners, 'thingOwners'))) {
      if (!Array.isArray(things) || !things.every((t) => typeof t === 'string' && t.length > 0)) throw new Error(`thingOwners.${jid}: not a list of thing ids`);
      out.thingOwners[checkedBare(jid)] = things as string[];
    }
  }
  return out;
}

/** The XEP-0324 question an action is: canRead or canControl. */
function questionOf(action: Action): 'read' | 'control' {
  return action === 'control' ? 'control' : 'read';
}

/** A bare JID `local@domain` (lower-cased), or a clear error. */
export function checkedBare(jid: string): string {
  const bare = bareOf(String(jid ?? '').trim());
  if (!/^[^@\s/]+@[^@\s/]+\.?[^@\s/]*$/.test(bare)) {
    throw new XiotaError('XIOTA_E_CONFIG', `"${jid}" is not a JID: write it as name@domain, for example bob@example.org`, { jid });
  }
  return bare;
}
