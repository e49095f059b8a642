// ReadingPipeline with a real outbox and a scripted session: retries of a publish the server
// keeps failing (a 'wait' error) back off and warn once with a hint; a stop does not warn.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../agent/log';
import { Outbox } from '../../agent/outbox/outbox';
import { ReadingPipeline, type SessionLike } from '../../agent/publish/pipeline';
import { Element, x } from '../../agent/xml/element';
import type { ThingSpec } from '../../drivers/types';

const dirs: string[] = [];
test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const THING: ThingSpec = { id: 't', fields: [{ name: 'v', type: 'int' }] };

interface LogLine { level: string; msg: string; fields: Record<string, unknown> }
function captureLog(lines: LogLine[]): Logger {
  const mk = (): Logger => {
    const at = (level: string) => (msg: string, fields: Record<string, unknown> = {}) => void lines.push({ level, msg, fields });
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => mk() } as unknown as Logger;
  };
  return mk();
}

/** A session whose publishes fail with the given condition until `healAfter` attempts. */
function session(cond: string, healAfter: number): SessionLike & { times: number[] } {
  const ee = new EventEmitter();
  const times: number[] = [];
  return Object.assign(ee, {
    state: 'online',
    times,
    iq: async (_req: Element): Promise<Element> => {
      times.push(Date.now());
      if (times.length <= healAfter) {
        const error = x('error', { type: 'wait' }, x(cond, { xmlns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }));
        throw Object.assign(new Error(cond), { stanza: x('iq', { type: 'error' }, error) });
      }
      return x('iq', { type: 'result' });
    },
  }) as unknown as SessionLike & { times: number[] };
}

async function pipelineWith(s: SessionLike, log: Logger): Promise<{ p: ReadingPipeline; ob: Outbox }> {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-pipeline-'));
  dirs.push(dir);
  const ob = await Outbox.open({ dir, flushIntervalMs: 5 });
  const p = new ReadingPipeline({
    session: s,
    outbox: ob,
    thing: () => THING,
    policyFor: () => ({ deadband: 0, minIntervalMs: 0 }),
    targetFor: () => ({ service: 'pep', node: 'urn:xiota:t', config: {} }),
    retryDelayMs: 40,
    log,
  });
  return { p, ob };
}

test('a publish the server keeps failing: retries back off, one warning with a hint, then it goes through', async () => {
  const lines: LogLine[] = [];
  const s = session('internal-server-error', 4);
  const { p, ob } = await pipelineWith(s, captureLog(lines));
  await p.offer({ thing: 't', timestamp: Date.now(), values: [{ field: 'v', value: 1 }] });
  const t0 = Date.now();
  while (p.stats.published < 1 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
  assert.is(p.stats.published, 1, 'published in the end');
  assert.ok(s.times.length >= 5);
  // The first attempt is the publish with publish-options, then retries: 40, 80, 160 ms apart.
  const gaps = s.times.slice(1).map((t, i) => t - s.times[i]!);
  assert.ok(gaps[gaps.length - 1]! >= 140, `the last retry waited longer (gaps ${gaps.join(', ')} ms)`);
  assert.ok(gaps[gaps.length - 1]! > gaps[1]! * 2, `backoff grows (gaps ${gaps.join(', ')} ms)`);
  const warns = lines.filter((l) => l.level === 'warn');
  assert.is(warns.length, 1, 'one warning for the run of failures');
  assert.match(String(warns[0]!.fields.hint), /storage_archive_item_limit/);
  assert.ok(lines.some((l) => l.level === 'info' && /again/.test(l.msg)), 'recovery is logged');
  p.stop();
  await ob.close();
});

test('stopping while publishes are in flight logs no warnings', async () => {
  const lines: LogLine[] = [];
  const ee = new EventEmitter();
  let reject!: (e: Error) => void;
  const s = Object.assign(ee, {
    state: 'online',
    iq: () => new Promise<Element>((_res, rej) => (reject = rej)),
  }) as unknown as SessionLike;
  const { p, ob } = await pipelineWith(s, captureLog(lines));
  await p.offer({ thing: 't', timestamp: Date.now(), values: [{ field: 'v', value: 1 }] });
  await new Promise((r) => setTimeout(r, 20));
  p.stop();
  reject(new Error('the agent is stopping'));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(lines.filter((l) => l.level === 'warn' || l.level === 'error'), []);
  await ob.close();
});

test.run();
