// The `provisioning:` (XEP-0324) and `discovery:` (XEP-0347) sections of xiota.yaml.
//
//   provisioning:
//     service: provisioning.example.org  # the provisioning server's component address
//     timeout_s: 10                      # a question it does not answer in time is a refusal
//     cache_size: 1000                   # answers kept (least recently used go first)
//   discovery:
//     registry: auto                     # the Thing Registry's component address, or auto (disco)
//     self_owned: false                  # register public and claimed by itself
//     tags: { MAN: example.com, MODEL: gw-1, SN: "0042", V: 1.2 }   # KEY is added by the device
//
// Both servers are taken as XEP-0114 components (an address without @): XEP-0324 and XEP-0347
// 'JID vs Component' say a server hosted as a client account must first be befriended, which
// this device does not do, so such an address is refused with that explanation.
import { s, error, warn, INVALID, describe, type CheckContext, type Path, type Schema } from './schema';

export interface ProvisioningConfig {
  service: string;
  timeoutS: number;
  cacheSize: number;
}

/** A meta tag value: a string tag (`str`) or a numeric one (`num`), XEP-0347 'Registering Thing'. */
export type MetaValue = string | number;

export interface DiscoveryConfig {
  /** A component address, or 'auto': the server's components are asked (XEP-0347 'Finding Thing Registry' 5). */
  registry: string;
  selfOwned: boolean;
  tags: Record<string, MetaValue>;
}

const COMPONENT_RE = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$/;

/** Why `v` is not a component address, or undefined. */
function componentProblem(what: string, example: string): (v: string) => string | undefined {
  return (v) => {
    if (v.includes('@')) return `"${v}" is a JID: a ${what} hosted as a client account needs a friendship first, which xiota does not make; run it as a component (XEP-0114) and give its address (a domain, such as ${example})`;
    return COMPONENT_RE.test(v) ? undefined : `"${v}" is not a component address: write a domain such as ${example}`;
  };
}

export const provisioningSchema: Schema<ProvisioningConfig> = s.object<ProvisioningConfig>({
  service: s.string().validate(componentProblem('provisioning server', 'provisioning.example.org')),
  timeoutS: s.seconds().min(1).max(120).clamp().default(10),
  cacheSize: s.integer().min(10).max(100_000).clamp().default(1000),
});

/** XEP-0347 'Meta Tags': predefined names and their types. */
export const NUMERIC_TAGS: ReadonlySet<string> = new Set(['ALT', 'LAT', 'LON', 'V']);
export const STRING_TAGS: ReadonlySet<string> = new Set([
  'APT', 'AREA', 'BLD', 'CITY', 'CLASS', 'COUNTRY', 'KEY', 'MAN', 'MLOC', 'MNR', 'MODEL', 'NAME', 'PURL', 'REGION', 'ROOM', 'SN', 'STREET', 'STREETNR',
]);

/** Why a tag name breaks XEP-0347 'Meta Tags' (at most 32 characters, no colon, # or white space). */
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
  registry: s.string().validate((v) => (v === 'auto' ? undefined : componentProblem('registry', 'registry.example.org')(v))).default('auto'),
  selfOwned: s.boolean().default(false),
  tags: s.record(tagValue, tagNameProblem).default(() => ({})),
}).refine((d: DiscoveryConfig, path: Path, ctx: CheckContext) => {
  for (const [name, value] of Object.entries(d.tags)) {
    const upper = name.toUpperCase(); // XEP-0347: tag names are case insensitive
    if (upper === 'KEY') error(ctx, [...path, 'tags', name], 'KEY is made by the device (a random secret kept in the state directory, shown by `xiota claim`); remove it here');
    else if (NUMERIC_TAGS.has(upper) && typeof value !== 'number') error(ctx, [...path, 'tags', name], `${upper} is a numeric tag (XEP-0347 'Meta Tags'): write a number, without quotes`);
    else if (STRING_TAGS.has(upper) && typeof value !== 'string') error(ctx, [...path, 'tags', name], `${upper} is a string tag (XEP-0347 'Meta Tags'): quote it, "${value}"`);
  }
  const names = Object.keys(d.tags).map((n) => n.toUpperCase());
  const twice = names.filter((n, i) => names.indexOf(n) !== i);
  if (twice.length) error(ctx, [...path, 'tags'], `${twice[0]} is given twice (tag names are case insensitive)`);
  if (!names.length) warn(ctx, [...path, 'tags'], 'no tags: the claim needs only the KEY; add MAN, MODEL and SN so the owner can tell devices apart');
});
