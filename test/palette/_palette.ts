// The compiled palette (node-red-nodes/dist, built by `node node-red-nodes/build.js`) as the
// tests load it: Node-RED's own way, by path, with the shapes the tests use declared here (the
// palette is its own package, outside this tsconfig).
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const PALETTE = join(__dirname, '../../../node-red-nodes');
export const PALETTE_DIST = join(PALETTE, 'dist');

export function paletteFile(rel: string): string {
  const p = join(PALETTE_DIST, rel);
  if (!existsSync(p)) throw new Error(`${p} is missing: build the palette first (node node-red-nodes/build.js, or npm test)`);
  return p;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const load = <T>(rel: string): T => require(paletteFile(rel)) as T;

export type Value = number | boolean | string;
export interface FieldSpec { name: string; type: string; unit?: string; writable?: boolean; values?: string[]; min?: number; max?: number; precision?: number }
export interface Reading { thing: string; timestamp: number; values: { field: string; value?: Value; error?: string; unit?: string }[]; jid?: string }
export interface OutMessage { topic: string; payload: unknown; xiota: Record<string, unknown> }
export interface Mapped { messages: OutMessage[]; errors: string[] }

export interface Mappers {
  readingToMessages(r: Reading, mode: 'field' | 'reading', extra?: Record<string, unknown>, onlyField?: string): Mapped;
  itemToMessages(n: { subscription: string; jid: string; node: string; id: string; timestamp?: number; readings?: Reading[]; xml: string }, mode: 'field' | 'reading', onlyField?: string): Mapped;
  readoutPayload(readings: Reading[]): Record<string, unknown>;
  pick(config: string | undefined, fromMsg: unknown): string | undefined;
  parseList(s: string | undefined): string[];
  coerceValue(raw: unknown, f: FieldSpec): { value: Value } | { error: string };
  messageToValues(payload: unknown, topic: unknown, spec: { id: string; fields: FieldSpec[] }): { values: Record<string, Value> } | { error: string };
  payloadValue(p: unknown): { value: Value } | { error: string };
  fieldsFromConfig(rows: unknown): { fields: FieldSpec[] } | { error: string };
  statusValue(v: unknown, unit?: string): string;
}

export type ApiCall = { method: string; params: Record<string, unknown> };
export interface Settings {
  subscriptionFromConfig(def: Record<string, unknown>): Record<string, unknown>;
  readRequest(def: Record<string, unknown>, msg: Record<string, unknown>): ApiCall | { error: string };
  controlRequest(def: Record<string, unknown>, msg: Record<string, unknown>, value: unknown): ApiCall | { error: string };
}

export interface LinkModule {
  backoffDelay(attempt: number, o?: { initialDelayMs?: number; maxDelayMs?: number; random?: () => number }): number;
}

export interface StatusModule {
  errorLabel(e: unknown): string;
}
