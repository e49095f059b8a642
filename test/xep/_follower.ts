// Drives test/clients/follower.py (slixmpp 1.8.3 under Debian's /usr/bin/python3): a person's
// client that subscribes to the device's presence, reads its status and its PEP items.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { XmppServer } from '../../scripts/servers';

export type Event = Record<string, unknown> & { event: string };

function script(): string {
  for (const p of [join(__dirname, '../../../test/clients/follower.py'), join(process.cwd(), 'test/clients/follower.py')]) if (existsSync(p)) return p;
  throw new Error('test/clients/follower.py not found: run from the repository root');
}

export interface Follower {
  jid: string;
  proc: ChildProcess;
  /** Every event so far (including those already taken by next()). */
  seen: Event[];
  /** The next event matching, waiting for it. */
  next(event: string, match?: (e: Event) => boolean, timeoutMs?: number): Promise<Event>;
  send(cmd: Record<string, unknown>): void;
  stderr(): string;
  close(): Promise<void>;
}

export async function follower(srv: Pick<XmppServer, 'host' | 'c2sPort' | 'caFile'>, user: string, password: string): Promise<Follower> {
  const jid = `${user}@${srv.host}`;
  const proc = spawn('/usr/bin/python3', [script(), `${jid}/phone`, password, String(srv.c2sPort), srv.caFile], { stdio: ['pipe', 'pipe', 'pipe'] });
  const queue: Event[] = [];
  const seen: Event[] = [];
  let err = '';
  let buf = '';
  const waiters = new Set<() => void>();
  const wakeAll = () => { for (const w of [...waiters]) w(); };
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const e = JSON.parse(l) as Event;
        queue.push(e);
        seen.push(e);
      } catch { err += `[stdout] ${l}\n`; }
    }
    wakeAll();
  });
  proc.stderr!.on('data', (d: Buffer) => { err = (err + d.toString('utf8')).slice(-8000); });
  let exited = false;
  const exit = new Promise<void>((r) => proc.on('exit', () => { exited = true; wakeAll(); r(); }));
  const f: Follower = {
    jid,
    proc,
    seen,
    stderr: () => err,
    send: (cmd) => { proc.stdin!.write(JSON.stringify(cmd) + '\n'); },
    next: (event, match = () => true, timeoutMs = 15_000) => new Promise<Event>((resolve, reject) => {
      const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`${user}: no ${event} within ${timeoutMs} ms; seen ${JSON.stringify(seen.slice(-10))}\n${err}`)); }, timeoutMs);
      const check = () => {
        const k = queue.findIndex((e) => e.event === event && match(e));
        if (k >= 0) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(queue.splice(k, 1)[0]!);
        } else if (exited) {
          clearTimeout(timer);
          waiters.delete(check);
          reject(new Error(`${user}: the client exited\n${err}`));
        } else {
          waiters.add(check);
        }
      };
      check();
    }),
    close: async () => {
      if (!exited) {
        proc.stdin!.write(JSON.stringify({ op: 'quit' }) + '\n');
        const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exit;
        clearTimeout(t);
      }
    },
  };
  await f.next('online', undefined, 15_000);
  return f;
}
