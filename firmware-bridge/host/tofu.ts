// Trust on first use, confirmed by the owner. A board without a key that asks to pair is
// recorded as pending (board id, where it was seen, when); nothing is sent to it until the owner
// approves (`xiota bridge approve BOARD`), which makes its key like `xiota bridge pair` and marks
// it for delivery. The driver then sends the key once (PAIR, in the clear: over a wire only, never
// over MQTT) and clears the mark when the board answers under it. `deny` refuses for good.
// State: bridge-pairing.json beside the keys file (0600, written atomically like the keys).
import { chownSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { XiotaError } from '../../agent/errors';
import { BOARD_ID_RE, pairBoard, readKeys } from './keys';

export interface PairingRequest { seen_on: string; since: string; last: string }
interface PairingFile { version: 1; pending: Record<string, PairingRequest>; deliver: Record<string, string>; denied: Record<string, string> }

export const pairingPath = (keysFile: string): string => join(dirname(keysFile), 'bridge-pairing.json');

function read(keysFile: string): PairingFile {
  const p = pairingPath(keysFile);
  const empty: PairingFile = { version: 1, pending: {}, deliver: {}, denied: {} };
  if (!existsSync(p)) return empty;
  try {
    const f = JSON.parse(readFileSync(p, 'utf8')) as Partial<PairingFile>;
    return { version: 1, pending: f.pending ?? {}, deliver: f.deliver ?? {}, denied: f.denied ?? {} };
  } catch (e) {
    throw new XiotaError('XIOTA_E_CONFIG', `cannot read the bridge pairing file ${p}: ${(e as Error).message} (fix or remove it)`, { path: p });
  }
}

function write(keysFile: string, f: PairingFile): void {
  const p = pairingPath(keysFile);
  const tmp = join(dirname(p), `.pairing-${Date.now()}-${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(f, null, 2) + '\n', { mode: 0o600 });
  // `sudo xiota bridge approve`: the file goes to the state directory's owner (systemd's
  // DynamicUser owns /var/lib/xiota), or the daemon could not read the approval.
  if (process.getuid?.() === 0) {
    const d = statSync(dirname(p));
    if (d.uid !== 0) chownSync(tmp, d.uid, d.gid);
  }
  renameSync(tmp, p);
}

export function pendingPairings(keysFile: string): Record<string, PairingRequest> { return read(keysFile).pending; }

/** What the driver may do for an unpaired board that answered with UNPAIRED. */
export type UnpairedVerdict = { deliver: Uint8Array } | { refuse: string };

export function onUnpairedBoard(keysFile: string, boardId: string, seenOn: string, now = new Date()): UnpairedVerdict {
  const f = read(keysFile);
  if (f.denied[boardId]) return { refuse: `board "${boardId}" asks to pair but the owner denied it (${f.denied[boardId]}); to allow it after all: xiota bridge approve ${boardId}` };
  const key = f.deliver[boardId] ? readKeys(keysFile).get(boardId) : undefined;
  if (key) return { deliver: key };
  if (readKeys(keysFile).has(boardId)) return { refuse: `board "${boardId}" has no key stored: load the key from \`xiota bridge pair ${boardId}\` into its firmware, or re-approve it (xiota bridge approve ${boardId} --force)` };
  const had = f.pending[boardId];
  f.pending[boardId] = { seen_on: seenOn, since: had?.since ?? now.toISOString(), last: now.toISOString() };
  if (!had || had.seen_on !== seenOn) write(keysFile, f);
  return { refuse: `board "${boardId}" on ${seenOn} has no key and asks to pair (trust on first use): if it is yours, \`xiota bridge approve ${boardId}\`; otherwise \`xiota bridge deny ${boardId}\`` };
}

/** The board answered under its delivered key: nothing more to send it. */
export function pairingDelivered(keysFile: string, boardId: string): void {
  const f = read(keysFile);
  if (!f.deliver[boardId]) return;
  delete f.deliver[boardId];
  write(keysFile, f);
}

/** The owner's yes: makes the key (as `xiota bridge pair`), marked for delivery to the board. */
export function approvePairing(keysFile: string, boardId: string, opts: { force?: boolean; now?: Date } = {}): { seenOn?: string } {
  if (!BOARD_ID_RE.test(boardId)) throw new XiotaError('XIOTA_E_CONFIG', `"${boardId}" is not a board id`, { board: boardId });
  const f = read(keysFile);
  const req = f.pending[boardId];
  if (!req && !opts.force) throw new XiotaError('XIOTA_E_CONFIG', `no board "${boardId}" is asking to pair (xiota bridge pending lists those that are); --force approves it before it asks`, { board: boardId });
  pairBoard(keysFile, boardId, { force: opts.force, now: opts.now });
  delete f.pending[boardId];
  delete f.denied[boardId];
  f.deliver[boardId] = (opts.now ?? new Date()).toISOString();
  write(keysFile, f);
  return { seenOn: req?.seen_on };
}

export function denyPairing(keysFile: string, boardId: string, now = new Date()): void {
  if (!BOARD_ID_RE.test(boardId)) throw new XiotaError('XIOTA_E_CONFIG', `"${boardId}" is not a board id`, { board: boardId });
  const f = read(keysFile);
  delete f.pending[boardId];
  delete f.deliver[boardId];
  f.denied[boardId] = now.toISOString();
  write(keysFile, f);
}

/** The owner's chat command (`bridge pending|approve BOARD|deny BOARD`, agent/chat): the same
 *  decisions as the CLI, over the keys files of the drivers that pair by trust on first use. */
export interface PairingChat { pending(): string; approve(board: string): string; deny(board: string): string }

export function pairingChat(keysFiles: string[]): PairingChat {
  const files = [...new Set(keysFiles)];
  const asking = () => files.flatMap((f) => Object.entries(pendingPairings(f)).map(([id, r]) => ({ f, id, r })));
  const text = (e: unknown) => (e instanceof Error ? e.message : String(e));
  return {
    pending: () => {
      const a = asking();
      return a.length ? a.map(({ id, r }) => `${id} on ${r.seen_on}, asking since ${r.since}: bridge approve ${id} | bridge deny ${id}`).join('\n') : 'no board is asking to pair';
    },
    approve: (board) => {
      const hit = asking().find((x) => x.id === board);
      if (!hit) return `no board "${board}" is asking to pair (bridge pending lists those that are)`;
      try { approvePairing(hit.f, board); } catch (e) { return `could not approve ${board}: ${text(e)}`; }
      return `approved ${board}: its key is made; the gateway sends it to the board at its next attempt`;
    },
    deny: (board) => {
      const hit = asking().find((x) => x.id === board);
      try { denyPairing(hit?.f ?? files[0], board); } catch (e) { return `could not deny ${board}: ${text(e)}`; }
      return `denied ${board}: it is refused and never sent a key`;
    },
  };
}
