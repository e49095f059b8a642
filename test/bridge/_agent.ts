// The agent with one bridge driver on a real Prosody, as the end-to-end bridge tests run it
// (fake board on a pty, the AVR image in simavr): a paired key, the config, the agent, and the
// PEP items a watcher reads back as readings.
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Agent } from '../../agent/agent';
import { buildDrivers } from '../../agent/cli/drivers';
import { configFromObject } from '../../agent/config';
import { createLogger } from '../../agent/log';
import type { XmppClient } from '../../agent/session/client';
import { itemsIq, parseItems } from '../../agent/xep/pubsub';
import { fieldsToReadings } from '../../agent/xep/sensordata-fields';
import type { Reading } from '../../drivers/types';
import { pairBoard, readKeys } from '../../firmware-bridge/host/keys';
import type { ProsodyServer } from '../../scripts/local-prosody';
import { workDir } from './_board';

/** Pairs `board` into `keysFile` and returns its key as hex (the fake board's --key). */
export function pairedKey(keysFile: string, board: string): string {
  pairBoard(keysFile, board);
  return Buffer.from(readKeys(keysFile).get(board)!).toString('hex');
}

/** An agent logged in as dev@ with one bridge driver `greenhouse` on `path` for board
 *  greenhouse-1; every reading goes to an open PEP node at once. */
export function bridgeAgent(srv: Pick<ProsodyServer, 'host' | 'c2sPort' | 'caFile'>, o: { path: string; keysFile: string; outbox: string; bridge?: Record<string, unknown>; log?: (line: string) => void }): Agent {
  const r = configFromObject({
    account: { jid: `dev@${srv.host}`, password: 'devpass' },
    server: { host: '127.0.0.1', port: srv.c2sPort },
    tls: { ca_file: srv.caFile },
    outbox: { dir: join(workDir, o.outbox), flush_interval_ms: 10 },
    pubsub: { access_model: 'open', max_items: 1000 },
    publish: { deadband: 0, min_interval_s: 0 },
    drivers: [{ id: 'greenhouse', kind: 'bridge', options: { path: o.path, board: 'greenhouse-1', keys_file: o.keysFile, handshake_timeout_ms: 3000, ...o.bridge } }],
  });
  assert.equal(r.errors, []);
  const { drivers, errors } = buildDrivers(r.config!);
  assert.equal(errors, []);
  const log = o.log ? createLogger({ level: 'info', write: o.log }) : createLogger({ level: 'warn', write: () => undefined });
  return new Agent({ config: r.config!, credentials: { password: 'devpass', source: 'password', warnings: [] }, drivers, log });
}

/** The items of dev@'s PEP node `node`, as the readings they carry (one an item). */
export async function pepReadings(watcher: XmppClient, host: string, node: string): Promise<Reading[]> {
  return (await watcher.iq(itemsIq(`dev@${host}`, node), 10_000).then(parseItems)).map((it) => fieldsToReadings(it.payload!)[0]!);
}
