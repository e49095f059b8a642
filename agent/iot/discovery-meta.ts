// XEP-0347 discovery, the pure parts and the device's small state file: meta tags and their
// stanzas, the claim string (XEP-0347 'Claiming Ownership of a Thing') and the iotdisco: URI
// that phone apps read, and discovery.json (the KEY, what the registry last said). Shared by
// the module (agent/xep/discovery.ts) and `xiota claim` (agent/cli/claim.ts).
import { randomBytes } from 'node:crypto';
import { chownSync, closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { x, type Element } from '../xml/element';
import { NUMERIC_TAGS, type MetaValue } from '../config/iot-schema';

export const NS_DISCOVERY = 'urn:xmpp:iot:discovery';
export const DISCOVERY_FILE = 'discovery.json';

export interface MetaTag { name: string; value: MetaValue }

/** Where a thing stands with its registry. */
export type RegistryState = 'unregistered' | 'registered' | 'claimed' | 'self-owned' | 'removed';

export interface DiscoveryState {
  version: 1;
  /** XEP-0347 'KEY tag': the secret shared between the thing and its owner. */
  key: string;
  state: RegistryState;
  /** The owner the registry reported (claimed). */
  owner?: string;
  /** Claimed as public (searchable, meta data kept up to date) or private. */
  public?: boolean;
  /** The registry's address as last used (found by disco or configured). */
  registry?: string;
  /** The KEY was emptied in the registry after the claim (XEP-0347 'KEY tag'). */
  keyCleared?: boolean;
}

/** A fresh KEY: 128 random bits as 32 hex characters (XEP-0347 'KEY tag': long enough not to be guessed). */
export function newKey(): string {
  return randomBytes(16).toString('hex');
}

/** The tags a thing registers: the configured ones, then KEY (the examples' order). */
export function metaTags(configured: Record<string, MetaValue>, key: string): MetaTag[] {
  return [...Object.entries(configured).map(([name, value]) => ({ name, value })), { name: 'KEY', value: key }];
}

/** `<str name value/>` and `<num name value/>` (XEP-0347 'Registering Thing': two kinds of tags). */
export function tagElements(tags: readonly MetaTag[]): Element[] {
  return tags.map((t) => x(isNumeric(t) ? 'num' : 'str', { name: t.name, value: String(t.value) }));
}

function isNumeric(t: MetaTag): boolean {
  return typeof t.value === 'number' || NUMERIC_TAGS.has(t.name.toUpperCase());
}

/** XEP-0347 'Registering Thing' / 'Register self-owned Thing'. */
export function registerElement(tags: readonly MetaTag[], selfOwned: boolean): Element {
  return x('register', { xmlns: NS_DISCOVERY, ...(selfOwned ? { selfOwned: 'true' } : {}) }, ...tagElements(tags));
}

/** XEP-0347 'Update Meta Information about Thing in Registry' (only the tags given change). */
export function updateElement(tags: readonly MetaTag[]): Element {
  return x('update', { xmlns: NS_DISCOVERY }, ...tagElements(tags));
}

/** XEP-0347 'Unregistering Thing from Registry'. */
export function unregisterElement(): Element {
  return x('unregister', { xmlns: NS_DISCOVERY });
}

/** What a registry tells the thing, in an iq set or in a register/update result. */
export type RegistryPush =
  | { kind: 'claimed'; owner: string; public: boolean }
  | { kind: 'removed' }
  | { kind: 'disowned' };

/**
 * `<claimed jid public?/>`, `<removed/>`, `<disowned/>` (XEP-0347 'Ownership claimed', 'Thing
 * removed from registry by owner', 'Thing disowned in registry by owner'). A claim without
 * `public` is public: XEP-0347 says public='false' marks a private claim (its schema's default
 * of false for Claimed is a slip against that text and the Mine default of true). Pure.
 */
export function parseRegistryPush(el: Element | undefined): RegistryPush | undefined {
  if (!el || el.xmlns !== NS_DISCOVERY) return undefined;
  if (el.name === 'claimed') {
    const owner = (el.attrs.jid ?? '').trim();
    if (!/^[^@\s/]+@[^@\s/]+$/.test(owner.split('/')[0] ?? '')) return undefined;
    return { kind: 'claimed', owner: owner.split('/')[0]!.toLowerCase(), public: el.attrs.public !== 'false' && el.attrs.public !== '0' };
  }
  if (el.name === 'removed') return { kind: 'removed' };
  if (el.name === 'disowned') return { kind: 'disowned' };
  return undefined;
}

/**
 * The claim string of XEP-0347 0.5.1 'Claiming Ownership of a Thing': "IoTDisco", then per tag
 * ";" name (numeric: "#" name) ":" value, with ";" and "\" in values escaped by "\".
 *   IoTDisco;SN:394872348732948723;MAN:www.ktc.se;MODEL:IMC;#V:1.2;KEY:4857402340298342
 */
export function claimString(tags: readonly MetaTag[]): string {
  return 'IoTDisco' + tags.map((t) => `;${isNumeric(t) ? '#' : ''}${t.name}:${String(t.value).replace(/[\\;]/g, (c) => '\\' + c)}`).join('');
}

/**
 * The `iotdisco:` URI (the provisional IANA scheme the XEP's author registered, read by the
 * IoTGateway/Neuro-Access apps): tags as name=value (numeric: #name), ";"-separated, percent-
 * encoded, and R= the registry's address when known.
 *   iotdisco:MAN=www.ktc.se;MODEL=IMC;#V=1.2;KEY=4857402340298342;R=discovery.example.org
 */
export function iotDiscoUri(tags: readonly MetaTag[], registry?: string): string {
  const parts = tags.map((t) => `${isNumeric(t) ? '#' : ''}${encodeURIComponent(t.name)}=${encodeURIComponent(String(t.value))}`);
  if (registry) parts.push(`R=${encodeURIComponent(registry)}`);
  return 'iotdisco:' + parts.join(';');
}

/** Reads an iotdisco: URI back into tags and the registry (what a phone does). Pure. */
export function parseIotDiscoUri(uri: string): { tags: MetaTag[]; registry?: string } {
  if (!uri.toLowerCase().startsWith('iotdisco:')) throw new Error(`"${uri.slice(0, 20)}..." is not an iotdisco: URI`);
  const tags: MetaTag[] = [];
  let registry: string | undefined;
  for (const part of uri.slice('iotdisco:'.length).split(';')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq < 0) throw new Error(`"${part}" in the URI has no "="`);
    const numeric = part.startsWith('#');
    const name = decodeURIComponent(part.slice(numeric ? 1 : 0, eq));
    const raw = decodeURIComponent(part.slice(eq + 1));
    if (name === 'R') registry = raw;
    else tags.push({ name, value: numeric ? Number(raw) : raw });
  }
  return { tags, registry };
}

/** discovery.json in the state directory, or undefined when there is none yet. */
export function readDiscoveryState(dir: string): DiscoveryState | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, DISCOVERY_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const o = JSON.parse(text) as Partial<DiscoveryState>;
  if (o.version !== 1 || typeof o.key !== 'string' || !/^[0-9a-f]{32}$/.test(o.key)) {
    throw new Error(`${join(dir, DISCOVERY_FILE)} is not a xiota discovery state (version 1 with a 32-hex-digit key); move it aside to start over`);
  }
  const states: RegistryState[] = ['unregistered', 'registered', 'claimed', 'self-owned', 'removed'];
  return { ...o, state: states.includes(o.state as RegistryState) ? o.state! : 'unregistered' } as DiscoveryState;
}

/** Replaces discovery.json atomically (temp file, fsync, rename): a power cut leaves one or the other. */
export function writeDiscoveryState(dir: string, s: DiscoveryState): void {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, DISCOVERY_FILE);
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600); // the KEY is a secret: owner-only
  try {
    writeSync(fd, JSON.stringify(s, null, 2) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  // `sudo xiota claim` before the daemon wrote one: the file goes to the state directory's owner
  // (systemd's DynamicUser owns /var/lib/xiota), or the daemon could not read its KEY.
  if (process.getuid?.() === 0) {
    const d = statSync(dir);
    if (d.uid !== 0) chownSync(tmp, d.uid, d.gid);
  }
  renameSync(tmp, file);
}

/** The state, made (with a fresh KEY) when there is none: the CLI and the agent share one KEY. */
export function loadOrCreateState(dir: string): DiscoveryState {
  const s = readDiscoveryState(dir);
  if (s) return s;
  const fresh: DiscoveryState = { version: 1, key: newKey(), state: 'unregistered' };
  writeDiscoveryState(dir, fresh);
  return fresh;
}
