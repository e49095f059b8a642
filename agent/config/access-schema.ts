// The `access:` section of xiota.yaml (who may do what, agent/access.ts decides) and the
// advice `xiota check` gives about it. Entries are bare JIDs (bob@example.org) or `@domain`
// for every account of a domain.
import type { AccessPolicy } from '../access';
import { bareOf } from '../access';
import { s, warn, type CheckContext, type Path, type Schema } from './schema';

/** What `xiota init` writes as the owner, to be replaced by a real JID. */
export const PLACEHOLDER_OWNER = 'you@example.org';

const LOCAL_RE = /^[^@/\s"&'<>:]+$/;
const DOMAIN_RE = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$|^\[[0-9A-Fa-f:.]+\]$/;

/** Why `entry` is not a bare JID or `@domain`, or undefined when it is one. */
export function accessEntryProblem(entry: string): string | undefined {
  const e = entry.trim();
  if (e.startsWith('@')) {
    return DOMAIN_RE.test(e.slice(1)) ? undefined : `"${e}" is not a domain: write @example.org for every account of example.org`;
  }
  const slash = e.indexOf('/');
  if (slash >= 0) return `"${e}" has a resource ("${e.slice(slash)}"): access lists take bare JIDs, write ${e.slice(0, slash)}`;
  const at = e.indexOf('@');
  if (at < 0) return `"${e}" is not a JID: write name@domain (bob@example.org), or @${e} for every account of ${e}`;
  const local = e.slice(0, at);
  const domain = e.slice(at + 1);
  if (!LOCAL_RE.test(local) || !DOMAIN_RE.test(domain)) return `"${e}" is not a JID: write name@domain, for example bob@example.org`;
  return undefined;
}

const entry = s.string().validate(accessEntryProblem);
const list = () => s.array(entry).default(() => []);

export const accessSchema: Schema<AccessPolicy> = s.object<AccessPolicy>({
  owners: list(),
  controllers: list(),
  readers: list(),
  strangers: s.enum(['refuse', 'ask_owners'] as const).default('refuse'),
}).refine((a: AccessPolicy, path: Path, ctx: CheckContext) => {
  // The same person on two lists: the higher role wins (roles nest), which may not be meant.
  const seen = new Map<string, string>();
  for (const key of ['owners', 'controllers', 'readers'] as const) {
    a[key].forEach((e, i) => {
      const norm = e.trim().startsWith('@') ? e.trim().toLowerCase() : bareOf(e.trim());
      const first = seen.get(norm);
      if (first !== undefined) warn(ctx, [...path, key, i], `"${e}" is also in ${first}; the higher role applies`);
      else seen.set(norm, key);
    });
  }
  a.owners.forEach((e, i) => {
    if (e.trim().startsWith('@')) warn(ctx, [...path, 'owners', i], `every account of ${e.trim().slice(1)} is an owner (may change settings, approve others, gets alerts)`);
  });
  if (a.strangers === 'ask_owners' && !a.owners.some((e) => !e.trim().startsWith('@'))) {
    warn(ctx, [...path, 'strangers'], 'ask_owners needs an owner JID to ask; with none, requests wait until an owner is configured');
  }
});

/** What `xiota check` says about access (not config errors: the agent runs without owners). */
export function accessAdvice(a: AccessPolicy): string[] {
  const out: string[] = [];
  if (a.owners.length === 0) {
    out.push('no owner configured: nobody can approve followers or receive alerts; add your JID under access.owners');
  } else if (a.owners.some((e) => bareOf(e.trim()) === PLACEHOLDER_OWNER)) {
    out.push(`access.owners still holds the placeholder ${PLACEHOLDER_OWNER} from xiota init; put your own JID there`);
  }
  if (a.owners.length + a.controllers.length + a.readers.length === 0 && a.strangers === 'refuse') {
    out.push('nobody may read: with PubSub access_model presence, no one will see a reading');
  }
  return out;
}
