// The session transcript vector: what a board must answer, byte for byte, to a scripted host
// (firmware-bridge/vectors/session.json). The C test drives the real board library through it
// with the vector's nonce and clock; the TypeScript test decodes every frame of it.
import { wireFrame } from './cobs';
import { deriveKeys, DIR_BOARD_TO_HOST, DIR_HOST_TO_BOARD } from './crypto';
import { buildFrame, sealFrame } from './frame';
import { encodeBody, FrameType, schemaHash, type Message } from './messages';
import { hex, VECTOR_BOARD } from './vectors';
import { crc16 } from './crc16';

type Step =
  | { do: 'clock'; ms: number }
  | { do: 'report'; key: number; value: number }
  | { do: 'host'; note: string; wire: string; expect: string }
  | { do: 'poll'; expect: string }
  | { do: 'log'; level: number; text: string; expect: string };

export function sessionVectors(): { board: Record<string, unknown>; steps: Step[] } {
  const b = VECTOR_BOARD;
  const keys = deriveKeys(b.psk, b.hostNonce, b.boardNonce, b.boardId);
  let hctr = 0, bctr = 0;
  const host = (m: Message, opts: { plain?: boolean; ctr?: number } = {}): Uint8Array => {
    const ctr = opts.ctr ?? ++hctr;
    return sealFrame(FrameType[m.type], ctr, encodeBody(m), DIR_HOST_TO_BOARD, opts.plain ? undefined : keys.hostToBoard);
  };
  const board = (m: Message, plain = false): string => {
    const ctr = plain ? 0 : ++bctr;
    return hex(wireFrame(sealFrame(FrameType[m.type], ctr, encodeBody(m), DIR_BOARD_TO_HOST, plain ? undefined : keys.boardToHost)));
  };
  const w = (f: Uint8Array) => hex(wireFrame(f));
  const steps: Step[] = [];
  steps.push({ do: 'clock', ms: 1000 });
  for (const [key, value] of [[1, 215], [2, 40], [10, 0], [11, 20]]) steps.push({ do: 'report', key, value });
  steps.push({ do: 'clock', ms: 1250 });
  steps.push({ do: 'host', note: 'a frame before any session', wire: w(host({ type: 'PING', body: { seq: 1 } }, { plain: true, ctr: 1 })), expect: board({ type: 'ERROR', body: { code: 1, text: 'no session: send HELLO_REQ' } }, true) });
  const helloReq = sealFrame(FrameType.HELLO_REQ, 0, encodeBody({ type: 'HELLO_REQ', body: { hostNonce: b.hostNonce, version: 1, auth: true } }), DIR_HOST_TO_BOARD, undefined);
  steps.push({ do: 'host', note: 'hello', wire: w(helloReq), expect:
    board({ type: 'HELLO', body: { boardId: b.boardId, boardNonce: b.boardNonce, version: 1, auth: true } }, true) +
    board({ type: 'INFO', body: { fwName: b.fwName, fwVersion: b.fwVersion, schemaHash: schemaHash(b.entities), capabilities: 2, entityCount: b.entities.length } }) });
  steps.push({ do: 'host', note: 'describe', wire: w(host({ type: 'DESCRIBE_REQ', body: {} })), expect: b.entities.map((entity, index) => board({ type: 'DESCRIBE', body: { entity, index, count: b.entities.length } })).join('') });
  steps.push({ do: 'host', note: 'time', wire: w(host({ type: 'TIME', body: { unixMs: 1_796_169_600_000 } })), expect: '' });
  steps.push({ do: 'host', note: 'state dump', wire: w(host({ type: 'STATE_REQ', body: {} })), expect: board({ type: 'READINGS', body: { values: [[1, 215], [2, 40], [10, 0], [11, 20]].map(([key, value]) => ({ key, value, ageMs: 250, error: 0 })), full: true } }) });
  const set = (requestId: number, key: number, value: number, status: number, result: number) =>
    steps.push({ do: 'host', note: `set ${key}=${value}`, wire: w(host({ type: 'SET', body: { requestId, key, value } })), expect: board({ type: 'ACK', body: { requestId, status, value: result } }) });
  set(7, 10, 1, 0, 1);
  set(8, 11, 99, 3, 20);
  set(9, 1, 5, 2, 215);
  set(10, 99, 1, 1, 0);
  const ping = host({ type: 'PING', body: { seq: 5 } });
  steps.push({ do: 'host', note: 'ping', wire: w(ping), expect: board({ type: 'PONG', body: { seq: 5, uptimeMs: 1250 } }) });
  steps.push({ do: 'host', note: 'replayed ping: dropped', wire: w(ping), expect: '' });
  const forged = host({ type: 'PING', body: { seq: 6 } });
  forged[10] ^= 0x01; // inside the tag or ciphertext; CRC made right again so only the MAC can catch it
  const c = crc16(forged.subarray(0, forged.length - 2));
  forged[forged.length - 2] = c >> 8; forged[forged.length - 1] = c & 0xff;
  steps.push({ do: 'host', note: 'forged ping (valid CRC, bad MAC): dropped', wire: w(forged), expect: '' });
  steps.push({ do: 'host', note: 'plaintext ping inside an authenticated session: dropped', wire: w(host({ type: 'PING', body: { seq: 7 } }, { plain: true })), expect: '' });
  steps.push({ do: 'host', note: 'bad CRC: dropped', wire: w(buildFrame(0x11, FrameType.PING, 99, new Uint8Array(20)).map((x, i, a) => (i === a.length - 1 ? x ^ 1 : x))), expect: '' });
  steps.push({ do: 'host', note: 'ping after drops (counter gap is fine)', wire: w(host({ type: 'PING', body: { seq: 8 } })), expect: board({ type: 'PONG', body: { seq: 8, uptimeMs: 1250 } }) });
  steps.push({ do: 'host', note: 'unknown type from the host', wire: w(host({ type: 'LOG', body: { level: 0, text: 'x' } })), expect: board({ type: 'ERROR', body: { code: 5, text: 'unknown frame type' } }) });
  steps.push({ do: 'log', level: 1, text: 'hi', expect: board({ type: 'LOG', body: { level: 1, text: 'hi' } }) });
  steps.push({ do: 'report', key: 2, value: 41 });
  steps.push({ do: 'clock', ms: 1300 });
  steps.push({ do: 'poll', expect: '' }); // 50 ms: not due yet (batch window 100 ms)
  steps.push({ do: 'clock', ms: 1400 });
  steps.push({ do: 'poll', expect: board({ type: 'READINGS', body: { values: [{ key: 2, value: 41, ageMs: 150, error: 0 }], full: false } }) });
  return {
    board: { board_id: b.boardId, fw_name: b.fwName, fw_version: b.fwVersion, psk: hex(b.psk), board_nonce: hex(b.boardNonce), host_nonce: hex(b.hostNonce), entities: b.entities },
    steps,
  };
}
