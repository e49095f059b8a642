// Who may do what: the one decision every module asks (chat, ad-hoc commands, presence
// subscriptions, XEP-0323 readout, XEP-0325 control). Pure: the config's lists plus the
// owners' runtime decisions in, a role and a yes/no with its reason out. One place to audit.
//
// Roles nest: owner ⊃ controller ⊃ reader. Nobody but the owners (and the device's own
// account) is allowed anything unless a list or an owner's decision says so.

export type Role = 'owner' | 'controller' | 'reader' | 'stranger';
/** read: values, status, history, subscribe to presence and PEP. control: set writable fields.
 *  alerts: receive alerts. admin: allow/revoke others, see the access list. */
export type Action = 'read' | 'control' | 'alerts' | 'admin';

export interface AccessPolicy {
  /** Bare JIDs, or `@domain` for every account of that domain. */
  owners: string[];
  controllers: string[];
  readers: string[];
  /** What happens to a subscription request from someone on no list. */
  strangers: 'refuse' | 'ask_owners';
}

/** Owners' decisions made at run time (persisted by the access store): bare JID -> role, or denied. */
export interface Grants {
  allowed: ReadonlyMap<string, 'controller' | 'reader'>;
  denied: ReadonlySet<string>;
  /** Owners set at run time by a Thing Registry claim (XEP-0347 'Claiming Ownership'). */
  owners?: ReadonlySet<string>;
  /** Owners of things behind the gateway, by claim (XEP-0347 'Registering Thing behind
   *  Concentrator'): bare JID -> the thing ids it owns. Read and control of those things only. */
  thingOwners?: ReadonlyMap<string, ReadonlySet<string>>;
}

export const NO_GRANTS: Grants = { allowed: new Map(), denied: new Set() };

/** XEP-0324: what a delegated question is about (absent lists: everything asked for). */
export interface AccessScope {
  /** isFriend (a presence subscription), canRead or canControl. */
  question?: 'friend' | 'read' | 'control';
  /** Node (thing) ids asked for. */
  nodes?: string[];
  /** Field names (canRead) or parameter names (canControl) asked for. */
  fields?: string[];
  /** XEP-0323 field types asked for (momentary, historical, ...), for canRead. */
  kinds?: string[];
}

/** The answer of the one who decides delegated questions (agent/xep/provisioning.ts). */
export interface DelegatedAnswer {
  allowed: boolean;
  /** XEP-0324 partial grants: only these nodes / fields (parameters); absent = all asked for. */
  nodes?: string[];
  fields?: string[];
  /** Refused because the server did not answer (fails closed), not because it said no. */
  unanswered?: boolean;
  /** Unanswered with `provisioning.fallback: local`: the local decision stands (by: 'local'). */
  local?: boolean;
}

const RANK: Record<Role, number> = { stranger: 0, reader: 1, controller: 2, owner: 3 };
const NEEDS: Record<Action, Role> = { read: 'reader', control: 'controller', alerts: 'owner', admin: 'owner' };

/** The bare JID, lower-cased (RFC 7622 nodeprep/nameprep for the ASCII cases). */
export function bareOf(jid: string): string {
  const slash = jid.indexOf('/');
  return (slash >= 0 ? jid.slice(0, slash) : jid).toLowerCase();
}

function domainOf(bare: string): string {
  const at = bare.indexOf('@');
  return at >= 0 ? bare.slice(at + 1) : bare;
}

/** Does `bare` match a list entry: the same bare JID, or `@domain` for any account (with a local part) there. */
export function matches(entry: string, bare: string): boolean {
  const e = entry.trim().toLowerCase();
  if (!e) return false;
  if (e.startsWith('@')) return bare.includes('@') && domainOf(bare) === e.slice(1);
  return bareOf(e) === bare;
}

export function inList(list: readonly string[], jid: string): boolean {
  const bare = bareOf(jid);
  return list.some((e) => matches(e, bare));
}

/**
 * The role of `jid`. `self` is the device's own bare JID: its other resources are owners.
 * An owner's `deny` lowers controllers and readers of the config to stranger; it never
 * lowers an owner (owners change only in the config file).
 */
export function roleOf(policy: AccessPolicy, jid: string, grants: Grants = NO_GRANTS, self?: string): Role {
  const bare = bareOf(jid);
  if (!bare) return 'stranger';
  if (self && bare === bareOf(self)) return 'owner';
  if (inList(policy.owners, bare) || grants.owners?.has(bare)) return 'owner';
  if (grants.denied.has(bare)) return 'stranger';
  let role: Role = 'stranger';
  if (inList(policy.controllers, bare)) role = 'controller';
  else if (inList(policy.readers, bare)) role = 'reader';
  const granted = grants.allowed.get(bare);
  if (granted && RANK[granted] > RANK[role]) role = granted;
  return role;
}

export function roleMay(role: Role, action: Action): boolean {
  return RANK[role] >= RANK[NEEDS[action]];
}

export interface Decision {
  allowed: boolean;
  role: Role;
  action: Action;
  jid: string;
  /** The decision needs what is asked for (use Access.check with the scope): a provisioning
   *  server is to be asked (XEP-0324), or the asker owns things behind the gateway (forThings).
   *  Not allowed until then. */
  delegate?: boolean;
  /** Who decided: the config and owners (local), or the provisioning server. */
  by?: 'local' | 'provisioning';
  /** A partial grant (XEP-0324 'Restricting nodes/fields'): only these nodes, fields or parameters. */
  nodes?: string[];
  fields?: string[];
  /** The provisioning server did not answer: refused, but not its word (nothing is undone on it). */
  unanswered?: boolean;
}

/** Actions a provisioning server may grant: owners' things (alerts, admin) never leave the device. */
const DELEGABLE: ReadonlySet<Action> = new Set(['read', 'control']);

/**
 * The decision for `jid` doing `action`. Every module calls this (through Access.decide/check).
 * With `delegating` (a provisioning server is configured), what the local lists do not allow
 * and no owner denied is marked `delegate`: XEP-0324 3 ('Delegating trust'), the device asks.
 */
export function decide(policy: AccessPolicy, jid: string, action: Action, grants: Grants = NO_GRANTS, self?: string, delegating = false): Decision {
  const role = roleOf(policy, jid, grants, self);
  const bare = bareOf(jid);
  const allowed = roleMay(role, action);
  const d: Decision = { allowed, role, action, jid: bare, by: 'local' };
  const ownsThings = (grants.thingOwners?.get(bare)?.size ?? 0) > 0;
  if (!allowed && (delegating || ownsThings) && DELEGABLE.has(action) && bare.includes('@') && !grants.denied.has(bare)) d.delegate = true;
  return d;
}

/**
 * A decision marked `delegate` completed for an owner of things behind the gateway: read and
 * control of the things it owns, as a partial grant (`nodes`), like a provisioning server's
 * (XEP-0324 'Restricting nodes'), so readout and control narrow to them and chat, commands and
 * browsing refuse. Undefined when it owns none of the things asked for (nodes absent or empty:
 * all), or for a friendship: following the gateway shows every thing (presence, PEP).
 */
export function forThings(d: Decision, owned: ReadonlySet<string> | undefined, scope: AccessScope = {}): Decision | undefined {
  if (!owned?.size || !d.delegate || !DELEGABLE.has(d.action) || scope.question === 'friend') return undefined;
  const asked = scope.nodes?.length ? scope.nodes : [...owned].sort();
  const nodes = asked.filter((n) => owned.has(n));
  if (!nodes.length) return undefined;
  return { ...d, allowed: true, delegate: false, by: 'local', nodes };
}

/** A local decision completed by the delegate's answer (XEP-0324): the role it amounts to, and the partial grant. */
export function delegated(d: Decision, a: DelegatedAnswer): Decision {
  if (!a.allowed && a.local) return { ...d, delegate: false, by: 'local', unanswered: true };
  if (!a.allowed) return { ...d, allowed: false, delegate: false, by: 'provisioning', ...(a.unanswered ? { unanswered: true } : {}) };
  const role: Role = d.action === 'control' ? 'controller' : RANK[d.role] >= RANK.reader ? d.role : 'reader';
  const out: Decision = { ...d, allowed: true, delegate: false, role, by: 'provisioning' };
  if (a.nodes) out.nodes = a.nodes;
  if (a.fields) out.fields = a.fields;
  return out;
}
