// The API socket's write coalescing (agent/api/socket.ts): answers released together (here 20
// thing.publish requests sent in one chunk, as an outbox flush releases them) leave the server
// in one write; a notification is written at once, on its own, never held for the end of the
// tick. Counted at net.Socket's _write/_writev, the calls that become write(2)/writev(2).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DriverHost } from '../../drivers/host';
import { ApiDriver } from '../../drivers/api';
import { ApiService } from '../../agent/api/service';
import { ApiSocketServer } from '../../agent/api/socket';
import { silentLogger } from '../../agent/log';
import type { AgentEvents } from '../../agent/modules';
import { waitFor } from '../session/_helpers';
import { LineClient } from './_lines';

type WriteProto = { _write(chunk: unknown, enc: string, cb: () => void): void; _writev(chunks: { chunk: unknown }[], cb: () => void): void };

/** Records each _write/_writev call's text (one entry per call) while `fn` runs. */
async function countingWrites<T>(fn: (calls: string[]) => Promise<T>): Promise<T> {
  const proto = Socket.prototype as unknown as WriteProto;
  const { _write, _writev } = proto;
  const calls: string[] = [];
  proto._write = function (this: Socket, chunk, enc, cb) { calls.push(String(chunk)); return _write.call(this, chunk, enc, cb); };
  proto._writev = function (this: Socket, chunks, cb) { calls.push(chunks.map((c) => String(c.chunk)).join('')); return _writev.call(this, chunks, cb); };
  try {
    return await fn(calls);
  } finally {
    proto._write = _write;
    proto._writev = _writev;
  }
}

test('20 answers released together leave in one write; each notification in a write of its own', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-api-writes-'));
  const events = new EventEmitter<AgentEvents>();
  const flows = new ApiDriver();
  const host = new DriverHost({ drivers: [flows], onReading: (r, d) => { (events as unknown as EventEmitter).emit('reading', r, d); } });
  await host.start();
  const service = new ApiService({
    drivers: host, flows, events, role: 'owner', queue: 1000, maxSubscriptions: 100, log: silentLogger,
    status: () => ({ jid: 'gw@example.org', resource: 'r', state: 'online', online: true, startedAt: Date.now(), queued: 0 }),
  });
  const server = new ApiSocketServer(service, { path: join(dir, 'api.sock'), mode: 0o600, maxLineBytes: 65536, log: silentLogger });
  await server.listen();
  const flow = await LineClient.connect(server.path);
  const watcher = await LineClient.connect(server.path);
  try {
    flow.raw(JSON.stringify({ jsonrpc: '2.0', id: 'd', method: 'thing.declare', params: { id: 'tank', fields: [{ name: 'level', type: 'int' }] } }) + '\n');
    watcher.raw(JSON.stringify({ jsonrpc: '2.0', id: 's', method: 'subscribe', params: { thing: 'tank' } }) + '\n');
    await waitFor('declared and subscribed', () => flow.got.some((m) => m.id === 'd') && watcher.got.some((m) => m.id === 's'), 3000);
    const calls = await countingWrites(async (c) => {
      const lines = Array.from({ length: 20 }, (_, i) => JSON.stringify({ jsonrpc: '2.0', id: i, method: 'thing.publish', params: { thing: 'tank', values: { level: i } } }) + '\n');
      flow.raw(lines.join('')); // one chunk: the server handles all 20 in one tick
      await waitFor('20 answers and 20 readings', () => flow.got.filter((m) => typeof m.id === 'number').length === 20 && watcher.got.filter((m) => m.method === 'reading').length === 20, 3000);
      return c;
    });
    const answers = calls.filter((t) => t.includes('"accepted":true'));
    assert.is(answers.length, 1, `the answers in one write, got ${answers.length}`);
    assert.is(answers[0]!.split('\n').filter(Boolean).length, 20);
    const readings = calls.filter((t) => t.includes('"method":"reading"'));
    assert.is(readings.length, 20, 'each reading written as it came');
    assert.ok(readings.every((t) => t.split('\n').filter(Boolean).length === 1), 'one notification per write');
    assert.equal(watcher.got.filter((m) => m.method === 'reading').map((m) => m.params.values[0].value), Array.from({ length: 20 }, (_, i) => i));
  } finally {
    flow.sock.destroy();
    watcher.sock.destroy();
    await server.close();
    await host.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
