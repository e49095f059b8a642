// encodeRecordText (the append path, per reading) must write exactly the frame encodeRecord
// writes, which recovery (scanFrames + decodeRecord) reads back after a crash.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import { crc32, crc32U32BE, tableCrc32 } from '../../agent/outbox/crc32';
import { decodeRecord, encodeRecord, encodeRecordText, FRAME_HEADER, scanFrames } from '../../agent/outbox/record';

function both(seq: number, key: string, id: string, payload: string | Buffer): void {
  const k = Buffer.from(key, 'utf8');
  const idLen = Buffer.byteLength(id);
  const payloadLen = Buffer.isBuffer(payload) ? payload.length : Buffer.byteLength(payload);
  const want = encodeRecord(seq, k, Buffer.from(id, 'utf8'), Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8'));
  const { frame, payloadAt } = encodeRecordText(seq, k, id, idLen, payload, payloadLen);
  assert.ok(frame.equals(want), `seq ${seq} id ${JSON.stringify(id)}`);
  assert.is(frame.subarray(payloadAt).toString('hex'), (Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8')).toString('hex'));
  const scan = scanFrames(frame);
  assert.is(scan.frames.length, 1, 'the frame scans back (length and crc)');
  assert.is(decodeRecord(scan.frames[0]!.body)!.seq, seq);
}

test('frames equal encodeRecord: ASCII and non-ASCII ids, text and byte payloads, big seqs', () => {
  both(0, 'pep\u0000urn:xiota:bench', 'lx3k9a-1', '<fields xmlns="urn:xmpp:iot:sensordata"/>');
  both(2 ** 40 + 7, 'k', 'idé', 'payload °C');
  both(2 ** 53 - 1, '', 'x', Buffer.from([0, 1, 2, 255]));
  both(1, 'k', '\uD83D\uDE00', '\uDE00 lone low surrogate first');
  both(5, 'k', 'a', '');
});

test('generated records', () => {
  fc.assert(fc.property(fc.nat(), fc.string({ maxLength: 8 }), fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 40 }), (seq, key, id, payload) => {
    // The outbox gives encodeRecordText well-formed ids (its UTF-8 round trip).
    const wf = Buffer.from(id, 'utf8').toString('utf8');
    both(seq, key, wf, payload);
    return true;
  }), { numRuns: 3000 });
});

test('crc32U32BE is the crc of the 4 big-endian bytes', () => {
  for (const v of [0, 1, 255, 256, 0x12345678, 0xffffffff, 16 * 1024 * 1024]) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    assert.is(crc32U32BE(v), crc32(b));
    assert.is(crc32U32BE(v), tableCrc32(b));
  }
  assert.is(FRAME_HEADER, 8);
});

test.run();
