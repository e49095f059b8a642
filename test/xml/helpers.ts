// Shared by the XML parser tests: a StreamParser that records what it reports.
import { StreamParser, StreamParserOptions } from '../../agent/xml/parser';
import { Element } from '../../agent/xml/element';
import { XiotaError } from '../../agent/errors';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' " +
  "from='example.org' id='s1' version='1.0' xml:lang='en'>";

export interface Recorded {
  parser: StreamParser;
  starts: { attrs: Record<string, string>; xmlns: string }[];
  stanzas: Element[];
  ends: number;
  errors: XiotaError[];
}

export function recorder(opts?: StreamParserOptions): Recorded {
  const r: Omit<Recorded, 'parser'> = { starts: [], stanzas: [], ends: 0, errors: [] };
  const parser = new StreamParser(
    {
      onStreamStart: (attrs, xmlns) => void r.starts.push({ attrs, xmlns }),
      onStanza: (el) => void r.stanzas.push(el),
      onStreamEnd: () => void r.ends++,
      onError: (err) => void r.errors.push(err),
    },
    opts,
  );
  return Object.assign(r, { parser });
}

/** Parses a whole input at once and returns what was recorded. */
export function parseAll(input: string | Buffer, opts?: StreamParserOptions): Recorded {
  const r = recorder(opts);
  r.parser.write(input);
  return r;
}

export function conditions(r: Recorded): unknown[] {
  return r.errors.map((e) => e.detail.condition);
}

setFlagsFromString('--expose-gc');
const gcFn = runInNewContext('gc') as () => void;

/** Heap in use after a full collection, in bytes. */
export function heapAfterGc(): number {
  gcFn();
  gcFn();
  return process.memoryUsage().heapUsed;
}
