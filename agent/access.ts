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
}

export const NO_GRANTS: Grants = { allowed: new Map(), denied: new Set() };

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
  if (inList(policy.owners, bare)) return 'owner';
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

export interface Decision { allowed: boolean; role: Role; action: Action; jid: string }

/** The decision for `jid` doing `action`. Every module calls this (through Access.decide). */
export function decide(policy: AccessPolicy, jid: string, action: Action, grants: Grants = NO_GRANTS, self?: string): Decision {
  const role = roleOf(policy, jid, grants, self);
  return { allowed: roleMay(role, action), role, action, jid: bareOf(jid) };
}
