// The palette's AgentLink over a real Unix socket, against a scripted JSON-RPC peer that plays
// the daemon's side of PROTOCOL.md byte for byte: lines cut mid-character, batches, the agent's
// own `thing.set` requests, the daemon going away and coming back (subscriptions and declared
// things restored, after a jittered delay), and the users' release rules.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../session/_helpers';
import { load } from './_palette';

interface Link {
  state: string;
  opens: number;
  acquire(u: object): void;
  release(u: object, removed: boolean): Promise<void>;
  close(): Promise<void>;
  request<T>(method: string, params?: unknown, o?: { waitMs?: number; timeoutMs?: number }): Promise<T>;
  subscribe(p: Record<string, unknown>, h: (n: Record<string, unknown>) => void, onError: (e: Error) => void): { close(): Promise<void> };
  declare(spec: unknown, onError: (e: Error) => void): void;
  onThingSet(thing: string, h: (s: { thing: string; field: string; value: unknown }) => Promise<boolean>): () => void;
}
const { AgentLink } = load<{ AgentLink: new (t: unknown, b?: unknown, onError?: (m: string) => void) => Link }>('lib/link.js');
const { socketOpener } = load<{ socketOpener(path: string, timeoutMs?: number): unknown }>('lib/unix-socket.js');

/** The daemon's side, scripted: records requests, answers by a table, can push raw bytes. */
class Peer {
  server!: Server;
  conns: Socket[] = [];
  requests: { method: string; params: unknown; id: unknown }[] = [];
  answers: { id: unknown; result?: unknown; error?: unknown }[] = [];
  private nextSub = 1;
  constructor(readonly path: string) {}

  listen(): Promise<void> {
    this.server = createServer((s) => {
      this.conns.push(s);
      let buf = '';
      s.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) this.onLine(s, JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      });
    });
    return new Promise((r) => this.server.listen(this.path, r));
  }

  private onLine(s: Socket, m: Record<string, unknown>): void {
    if (typeof m.method !== 'string') return void this.answers.push(m as { id: unknown });
    this.requests.push({ method: m.method, params: m.params, id: m.id });
    const reply = (result: unknown) => s.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }) + '\n');
    switch (m.method) {
      case 'agent.status': return void reply({ online: true });
      case 'subscribe': return void reply({ subscription: `sub${this.nextSub++}` });
      case 'thing.declare': {
        const id = (m.params as { id: string }).id;
        if (id === 'bad') return void s.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, error: { code: -32602, message: 'fields[0].name must be letters', data: { field: 'fields[0].name' } } }) + '\n');
        return void reply({ thing: id });
      }
      case 'echo': {
        // The answer inside a batch, its line cut in the middle of "°" (2 bytes in UTF-8).
        const line = Buffer.from(JSON.stringify([{ jsonrpc: '2.0', id: m.id, result: { unit: '°C' } }]) + '\n');
        const cut = line.indexOf(Buffer.from('°')) + 1;
        s.write(line.subarray(0, cut));
        setTimeout(() => s.write(line.subarray(cut)), 20);
        return;
      }
      default: void s.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: `no ${m.method}` } }) + '\n');
    }
  }

  push(s: Socket, m: unknown): void {
    s.write(JSON.stringify(m) + '\n');
  }

  async stop(): Promise<void> {
    for (const c of this.conns) c.destroy();
    this.conns = [];
    await new Promise((r) => this.server.close(r));
  }
}

const t = suite('palette AgentLink over a Unix socket');
let dir: string;
let peer: Peer;
t.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'xiota-link-'));
  peer = new Peer(join(dir, 'api.sock'));
  await peer.listen();
});
t.after(async () => {
  await peer.stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

const transport = () => ({ open: socketOpener(peer.path, 2000), describe: peer.path });

t('opens on first use only; a line cut inside a UTF-8 character and a batch arrive whole', async () => {
  const link = new AgentLink(transport());
  assert.is(link.state, 'idle');
  assert.is(peer.conns.length, 0, 'nothing opened before a user');
  const u = {};
  link.acquire(u);
  link.acquire({});
  const r = await link.request<{ unit: string }>('echo');
  assert.equal(r, { unit: '°C' });
  assert.is(link.opens, 1);
  await link.close();
  assert.is(link.state, 'closed');
});

t('the agent\'s thing.set reaches the handler that takes it, and the answer follows; none: -32002 naming the field', async () => {
  const link = new AgentLink(transport());
  link.acquire({});
  await link.request('agent.status');
  const seen: unknown[] = [];
  const off = link.onThingSet('kitchen', async (s) => {
    if (s.field !== 'light') return false;
    seen.push(s.value);
    return true;
  });
  const conn = peer.conns[peer.conns.length - 1]!;
  peer.answers = [];
  peer.push(conn, { jsonrpc: '2.0', id: 's:1', method: 'thing.set', params: { thing: 'kitchen', field: 'light', value: true, from: 'a@x/y' } });
  peer.push(conn, { jsonrpc: '2.0', id: 's:2', method: 'thing.set', params: { thing: 'kitchen', field: 'oven', value: 200 } });
  await waitFor('two answers', () => peer.answers.length === 2, 3000);
  assert.equal(seen, [true]);
  assert.equal(peer.answers.find((a) => a.id === 's:1')?.result, { ok: true });
  const refused = peer.answers.find((a) => a.id === 's:2')?.error as { code: number; message: string };
  assert.is(refused.code, -32002);
  assert.match(refused.message, /kitchen\.oven/);
  off();
  await link.close();
});

t('the agent drops notifications for a slow Node-RED: one warning with the count, then at most one a minute', async () => {
  const warn: string[] = [];
  const link = new AgentLink(transport(), {}, (m) => warn.push(m));
  link.acquire({});
  await link.request('agent.status');
  const conn = peer.conns[peer.conns.length - 1]!;
  for (const count of [12, 30, 5]) peer.push(conn, { jsonrpc: '2.0', method: 'dropped', params: { count } });
  await link.request('echo'); // after the three notifications on the same stream
  assert.equal(warn, [`xiota agent ${peer.path}: 12 notifications dropped (Node-RED did not keep up with the readings)`]);
  await link.close();
});

t('the daemon goes away and returns: the link reconnects after a jittered delay and restores things, then subscriptions; a refused thing stops nothing else', async () => {
  const states: string[] = [];
  const link = new AgentLink(transport(), { initialDelayMs: 50, maxDelayMs: 200 });
  (link as unknown as { on(e: string, f: (s: string) => void): void }).on('state', (s) => states.push(s));
  link.acquire({});
  const notes: unknown[] = [];
  const errors: Error[] = [];
  link.subscribe({ kind: 'local', thing: 'greenhouse' }, (n) => notes.push(n), (e) => errors.push(e));
  const refused: Error[] = [];
  link.declare({ id: 'bad', fields: [{ name: 'a.b', type: 'int' }] }, (e) => refused.push(e));
  link.declare({ id: 'kitchen', fields: [{ name: 'light', type: 'boolean', writable: true }] }, (e) => errors.push(e));
  await waitFor('connected', () => link.state === 'connected', 3000);
  assert.is(refused.length, 1, 'a refused declaration goes to its node');
  assert.match(refused[0]!.message, /fields\[0\]\.name/);
  const firstSub = peer.requests.filter((r) => r.method === 'subscribe').length;
  await peer.stop();
  await waitFor('disconnected', () => link.state === 'disconnected', 3000);
  peer.requests = [];
  await peer.listen();
  await waitFor('connected again', () => link.state === 'connected', 5000);
  assert.ok(link.opens >= 2);
  assert.equal(peer.requests.map((r) => r.method), ['agent.status', 'thing.declare', 'thing.declare', 'subscribe'], 'things before subscriptions; a refused one does not stop the rest');
  assert.equal(peer.requests[3]!.params, { thing: 'greenhouse' });
  assert.is(refused.length, 2, 'refused again after the reconnect, to its node only');
  assert.ok(firstSub >= 1);
  // A notification for the new subscription id reaches the handler.
  peer.push(peer.conns[peer.conns.length - 1]!, { jsonrpc: '2.0', method: 'reading', params: { subscription: `sub${firstSub + 1}`, thing: 'greenhouse', timestamp: 1, values: [] } });
  await waitFor('the reading', () => notes.length === 1, 3000);
  assert.equal(errors, []);
  assert.ok(states.includes('disconnected') && states[states.length - 1] === 'connected', states.join(','));
  await link.close();
});

t('release: a redeployed user keeps the link; the last removed user closes it until a new user comes', async () => {
  const link = new AgentLink(transport());
  const a = {};
  const b = {};
  link.acquire(a);
  link.acquire(b);
  await link.request('agent.status');
  await link.release(a, false);
  await link.release(b, false);
  assert.is(link.state, 'connected', 'users closing without removed come back');
  link.acquire(a);
  await link.release(a, true);
  assert.is(link.state, 'idle', 'the last removed user ends the connection');
  await waitFor('the peer saw the close', () => peer.conns.every((c) => c.destroyed || c.readableEnded), 3000);
  // The config node stays (a "modified nodes" deploy): a user added later opens it again.
  link.acquire(b);
  await link.request('agent.status');
  assert.is(link.state, 'connected');
  assert.is(link.opens, 2);
  await link.close();
  assert.is(link.state, 'closed');
  link.acquire(a);
  assert.is(link.state, 'closed', 'a closed config node\'s link never reopens');
});

t('no daemon: the error names the socket and what to check; requests fail after their wait', async () => {
  const warn: string[] = [];
  const link = new AgentLink({ open: socketOpener(join(dir, 'nobody.sock'), 500), describe: 'nobody' }, { initialDelayMs: 50, maxDelayMs: 100 }, (m) => warn.push(m));
  link.acquire({});
  const e = await link.request('agent.status', undefined, { waitMs: 300 }).then(() => undefined, (x: Error) => x);
  assert.ok(e);
  assert.match(e!.message, /not connected to the xiota agent \(nobody\) within 300 ms: .*nobody\.sock: ENOENT \(is xiota run running/);
  await link.close();
});

t.run();
