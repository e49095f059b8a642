// Stream parsing throughput: our StreamParser against raw saxes (the floor we build on) and
// ltx's own streaming tokenizer (what xmpp.js uses), on ~10 MB of XEP-0060 PubSub event
// messages carrying XEP-0323 sensor data, fed in 1400-byte Buffer chunks (one TCP segment
// on a typical 1500-byte MTU link).
//   node dist/bench/parse.js [rounds]
import { SaxesParser } from 'saxes';
import { TextDecoder } from 'node:util';
import { execFileSync } from 'node:child_process';
import { StreamParser } from '../agent/xml/parser';

const TARGET_BYTES = 10 * 1024 * 1024;
const CHUNK = 1400;
const HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' " +
  "from='example.org' id='s1' version='1.0' xml:lang='en'>";

const FIELDS: [string, string, string][] = [
  ['temperature', '°C', '21.5'],
  ['humidity', '%', '43.2'],
  ['pressure', 'hPa', '1013.25'],
  ['co2', 'ppm', '612'],
  ['battery', 'V', '3.71'],
];

function stanza(i: number): string {
  const ts = new Date(Date.UTC(2024, 0, 1) + i * 15_000).toISOString();
  let fields = '';
  for (const [name, unit, v] of FIELDS) {
    const value = (Number(v) + (i % 17) / 10).toFixed(2);
    fields += `<numeric name='${name}' momentary='true' automaticReadout='true' value='${value}' unit='${unit}'/>`;
  }
  return (
    `<message from='pubsub.example.org' to='watcher${i % 7}@example.org/gajim' id='ev${i}'>` +
    `<event xmlns='http://jabber.org/protocol/pubsub#event'>` +
    `<items node='urn:xmpp:iot:sensordata/gw-${i % 3}/env'>` +
    `<item id='r${i}-${ts}'>` +
    `<fields xmlns='urn:xmpp:iot:sensordata' seqnr='${i}' done='true'>` +
    `<node nodeId='gw-${i % 3}' sourceId='env' cacheType='local'>` +
    `<timestamp value='${ts}'>${fields}<status name='state' momentary='true' value='ok &amp; running'/></timestamp>` +
    `</node></fields></item></items></event>` +
    `<delay xmlns='urn:xmpp:delay' stamp='${ts}'>Offline &lt;storage&gt;</delay>` +
    `</message>\n`
  );
}

export interface Corpus { chunks: Buffer[]; bytes: number; stanzas: number }

export function makeCorpus(targetBytes = TARGET_BYTES): Corpus {
  const parts: string[] = [HEADER];
  let len = HEADER.length;
  let n = 0;
  while (len < targetBytes) {
    const s = stanza(n++);
    parts.push(s);
    len += s.length;
  }
  const all = Buffer.from(parts.join(''), 'utf8');
  const chunks: Buffer[] = [];
  for (let off = 0; off < all.length; off += CHUNK) chunks.push(all.subarray(off, off + CHUNK));
  return { chunks, bytes: all.length, stanzas: n };
}

type Runner = (chunks: Buffer[]) => number; // returns stanzas seen

const runOurs: Runner = (chunks) => {
  let n = 0;
  const p = new StreamParser({
    onStreamStart: () => undefined,
    onStanza: () => void n++,
    onStreamEnd: () => undefined,
    onError: (e) => { throw e; },
  });
  for (const c of chunks) p.write(c);
  return n;
};

const runSaxes: Runner = (chunks) => {
  let n = 0;
  let depth = 0;
  const sax = new SaxesParser({ xmlns: true });
  const dec = new TextDecoder('utf-8', { fatal: true });
  sax.on('opentag', () => void depth++);
  sax.on('closetag', () => {
    if (--depth === 1) n++;
  });
  sax.on('text', () => undefined);
  sax.on('error', (e) => { throw e; });
  for (const c of chunks) sax.write(dec.decode(c, { stream: true }));
  return n;
};

// ltx 3's SaxLtx tokenizer with elements built the way @xmpp/xml builds them; the package
// is ESM-first, the CommonJS build is under lib/.
interface LtxElement { name: string; parent?: LtxElement; cnode(c: LtxElement): LtxElement; t(s: string): void }
interface LtxSax { write(s: string): void; on(ev: string, f: (...a: never[]) => void): void }
/* eslint-disable @typescript-eslint/no-require-imports */
const SaxLtx = require('ltx/lib/parsers/ltx.js') as new () => LtxSax;
const LtxEl = (require('ltx') as { Element: new (name: string, attrs: Record<string, string>) => LtxElement }).Element;

const runLtx: Runner = (chunks) => {
  let n = 0;
  let el: LtxElement | undefined;
  let depth = 0;
  const p = new SaxLtx();
  const dec = new TextDecoder('utf-8', { fatal: true });
  p.on('startElement', (name: string, attrs: Record<string, string>) => {
    depth++;
    if (depth === 1) return; // stream header
    const child = new LtxEl(name, attrs);
    el = el ? el.cnode(child) : child;
  });
  p.on('endElement', () => {
    depth--;
    if (depth === 0 || !el) return;
    if (el.parent) el = el.parent;
    else { n++; el = undefined; }
  });
  p.on('text', (s: string) => { if (el) el.t(s); });
  for (const c of chunks) p.write(dec.decode(c, { stream: true }));
  return n;
};

// CPU time of this process rather than wall time: the 2-core boards (and CI machines) this
// runs on are often busy with other work, and wall time then measures the neighbours.
function time(run: Runner, corpus: Corpus): number {
  const t0 = process.cpuUsage();
  const n = run(corpus.chunks);
  const d = process.cpuUsage(t0);
  const ms = (d.user + d.system) / 1000;
  if (n !== corpus.stanzas) throw new Error(`parser saw ${n} stanzas, expected ${corpus.stanzas}`);
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const PARSERS: Record<string, Runner> = {
  'xiota StreamParser': runOurs,
  'saxes (raw, xmlns)': runSaxes,
  'ltx SaxLtx + Element': runLtx,
};

/** Child mode: time one parser `runs` times after a warm-up and print the CPU ms as JSON. */
function measureOne(name: string, runs: number): void {
  const run = PARSERS[name]!;
  const corpus = makeCorpus();
  time(run, corpus);
  const ms: number[] = [];
  for (let r = 0; r < runs; r++) ms.push(time(run, corpus));
  process.stdout.write(JSON.stringify(ms));
}

// Each parser runs in its own process: sharing one process lets the type feedback of one
// parser's callbacks slow down code the other parsers share (saxes' hot loop is shared by
// the first two), and a real agent only ever runs one of them. Rounds are interleaved so a
// busy moment of the machine hits every parser alike.
export function main(rounds = Number(process.argv[2] ?? 3), runsPerRound = 3): void {
  const corpus = makeCorpus();
  const mb = corpus.bytes / 1e6;
  const names = Object.keys(PARSERS);
  const ms = new Map<string, number[]>(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const name of names) {
      const out = execFileSync(process.execPath, [__filename, '--one', name, String(runsPerRound)], { encoding: 'utf8' });
      ms.get(name)!.push(...(JSON.parse(out) as number[]));
    }
  }
  const saxesMs = median(ms.get('saxes (raw, xmlns)')!);
  console.log(`${mb.toFixed(1)} MB, ${corpus.stanzas} stanzas, ${corpus.chunks.length} chunks of ${CHUNK} B; median CPU time of ${rounds * runsPerRound} runs, each parser in its own process`);
  console.log('parser                 |   MB/s | stanzas/s | ratio vs saxes');
  console.log('-----------------------|--------|-----------|---------------');
  for (const name of names) {
    const m = median(ms.get(name)!);
    console.log(
      `${name.padEnd(22)} | ${(mb / (m / 1000)).toFixed(1).padStart(6)} | ${Math.round(corpus.stanzas / (m / 1000)).toString().padStart(9)} | ${(saxesMs / m).toFixed(2).padStart(6)}x`,
    );
  }
}

if (require.main === module) {
  if (process.argv[2] === '--one') measureOne(process.argv[3]!, Number(process.argv[4] ?? 3));
  else main();
}
