// The `provisioning:` (XEP-0324) and `discovery:` (XEP-0347) sections of xiota.yaml.
//
//   provisioning:
//     service: provisioning.example.org  # the provisioning server's component address
//     timeout_s: 10                      # a question it does not answer in time is a refusal
//     cache_size: 1000                   # answers kept (least recently used go first)
//     fallback: refuse                   # unanswered: refuse, or local (the access: block decides)
//   discovery:
//     enabled: true                      # false: unregister (once) if registered, then stay out
//     registry: auto                     # the Thing Registry's address, or auto (disco)
//     self_owned: false                  # register public and claimed by itself
//     register_things: false             # also each thing behind the gateway (nodeId, sourceId)
//     tags: { MAN: example.com, MODEL: gw-1, SN: "0042", V: 1.2, LAT: 59.3, LON: 18.1 }   # KEY is added by the device
//
// Either server may be an XEP-0114 component (an address without @) or an ordinary account (a
// bare JID): XEP-0324 'Provisioning server hosted as a client' and XEP-0347 'JID vs Component
// Thing Registries' say the device must befriend such an account first, which
// agent/iot/service-peer.ts does (subscription both ways, iqs to its full JID).
import { s, error, warn, INVALID, describe, type CheckContext, type Path, type Schema } from './schema';

export interface ProvisioningConfig {
  service: string;
  timeoutS: number;
  cacheSize: number;
  /** XEP-0324 gives none: what an unanswered question becomes (refuse, or the local access: lists). */
  fallback: 'refuse' | 'local';
}

/** A meta tag value: a string tag (`str`) or a numeric one (`num`), XEP-0347 'Registering Thing'. */
export type MetaValue = string | number;

export interface DiscoveryConfig {
  /** false: a registered device unregisters (XEP-0347 'Unregistering Thing from Registry') and stays out. */
  enabled: boolean;
  /** A component address, a bare JID, or 'auto': the server's components are asked (XEP-0347 'Finding Thing Registry' 5). */
  registry: string;
  selfOwned: boolean;
  /** XEP-0347 'Registering Thing behind Concentrator': each thing with nodeId (thing id) and sourceId (driver id). */
  registerThings: boolean;
  tags: Record<string, MetaValue>;
}

const DOMAIN_RE = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$/;
const LOCAL_RE = /^[^\s@/"&'<>:]+$/;

/** Why `v` is neither a component address nor a bare account JID, or undefined. */
function serviceProblem(what: string, example: string): (v: string) => string | undefined {
  return (v) => {
    if (v.includes('/')) return `"${v}" has a resource: give the ${what}'s bare JID (the device learns its full JID from its presence)`;
    const at = v.indexOf('@');
    if (at >= 0) {
      return LOCAL_RE.test(v.slice(0, at)) && DOMAIN_RE.test(v.slice(at + 1)) ? undefined : `"${v}" is not a JID: write a component address such as ${example}, or an account such as ${what.split(' ')[0]}@example.org`;
    }
    return DOMAIN_RE.test(v) ? undefined : `"${v}" is not a component address: write a domain such as ${example}, or an account JID`;
  };
}

export const provisioningSchema: Schema<ProvisioningConfig> = s.object<ProvisioningConfig>({
  service: s.string().validate(serviceProblem('provisioning server', 'provisioning.example.org'))
    .hint('write the provisioning server\'s address under provisioning:, a component (service: provisioning.example.org) or an account (service: prov@example.org); '
      + 'without a provisioning server, remove the provisioning: section and the access: lists decide alone'),
  timeoutS: s.seconds().min(1).max(120).clamp().default(10),
  cacheSize: s.integer().min(10).max(100_000).clamp().default(1000),
  fallback: s.enum(['refuse', 'local'] as const).default('refuse'),
}).hint('write the provisioning server under it (provisioning: { service: provisioning.example.org }), or remove the section');

/** XEP-0347 'Meta Tags': predefined names and their types. */
export const NUMERIC_TAGS: ReadonlySet<string> = new Set(['ALT', 'LAT', 'LON', 'V']);
export const STRING_TAGS: ReadonlySet<string> = new Set([
  'APT', 'AREA', 'BLD', 'CITY', 'CLASS', 'COUNTRY', 'KEY', 'MAN', 'MLOC', 'MNR', 'MODEL', 'NAME', 'PURL', 'REGION', 'ROOM', 'SN', 'STREET', 'STREETNR',
]);

/** Why a tag name breaks XEP-0347 'Meta Tags' (at most 32 characters, no colon, # or white space). */
/** Location tags with a range (XEP-0347 'Meta Tags': LAT and LON in degrees; ALT in meters, unbounded). */
const RANGES: Readonly<Record<string, readonly [number, number]>> = { LAT: [-90, 90], LON: [-180, 180] };

export function tagNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > 32) return `tag name "${name}" must be 1 to 32 characters long (XEP-0347 'Meta Tags')`;
  if (/[:#\s]/.test(name)) return `tag name "${name}" may not hold a colon, # or white space (XEP-0347 'Meta Tags')`;
  return undefined;
}

const tagValue = s.custom<MetaValue>('a string or a number', (v, path, ctx) => {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    // XEP-0347 'Meta Tags': string values are at most 128 characters.
    if (v.length > 128) { error(ctx, path, `is ${v.length} characters; a string tag holds at most 128 (XEP-0347 'Meta Tags')`); return INVALID; }
    return v;
  }
  error(ctx, path, `expected a string or a number, got ${describe(v)}`);
  return INVALID;
});

export const discoverySchema: Schema<DiscoveryConfig> = s.object<DiscoveryConfig>({
  enabled: s.boolean().default(true),
  registry: s.string().validate((v) => (v === 'auto' ? undefined : serviceProblem('registry', 'registry.example.org')(v))).default('auto')
    .hint('write registry: auto (the server\'s components are asked by disco), a component (registry: registry.example.org) or an account (registry: reg@example.org); leaving the key out means auto'),
  selfOwned: s.boolean().default(false),
  registerThings: s.boolean().default(false),
  tags: s.record(tagValue, tagNameProblem).default(() => ({})),
}).hint('write discovery: { enabled: true } to register with the defaults (registry: auto), or discovery: { enabled: false } to stay out of the registry').refine((d: DiscoveryConfig, path: Path, ctx: CheckContext) => {
  for (const [name, value] of Object.entries(d.tags)) {
    const upper = name.toUpperCase(); // XEP-0347: tag names are case insensitive
    if (upper === 'KEY') error(ctx, [...path, 'tags', name], 'KEY is made by the device (a random secret kept in the state directory, shown by `xiota claim`); remove it here');
    else if (NUMERIC_TAGS.has(upper) && typeof value !== 'number') error(ctx, [...path, 'tags', name], `${upper} is a numeric tag (XEP-0347 'Meta Tags'): write a number, without quotes`);
    else if (STRING_TAGS.has(upper) && typeof value !== 'string') error(ctx, [...path, 'tags', name], `${upper} is a string tag (XEP-0347 'Meta Tags'): quote it, "${value}"`);
    else if (RANGES[upper] && typeof value === 'number' && (value < RANGES[upper]![0] || value > RANGES[upper]![1])) {
      error(ctx, [...path, 'tags', name], `${upper} is ${value}; XEP-0347 'Meta Tags' ${upper === 'LAT' ? 'latitude' : 'longitude'} is in degrees, ${RANGES[upper]![0]} to ${RANGES[upper]![1]}`);
    }
  }
  const names = Object.keys(d.tags).map((n) => n.toUpperCase());
  const twice = names.filter((n, i) => names.indexOf(n) !== i);
  if (twice.length) error(ctx, [...path, 'tags'], `${twice[0]} is given twice (tag names are case insensitive)`);
  if (!names.length) warn(ctx, [...path, 'tags'], 'no tags: the claim needs only the KEY; add MAN, MODEL and SN so the owner can tell devices apart');
});
