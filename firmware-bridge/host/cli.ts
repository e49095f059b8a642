// `xiota bridge ...`: pairing boards for the firmware bridge.
//   xiota bridge pair BOARD_ID [--config FILE | --keys FILE] [--force] [--no-qr]
//   xiota bridge list [--config FILE | --keys FILE]
//   xiota bridge pending | approve BOARD_ID [--force] | deny BOARD_ID   (trust on first use)
// The keys file is the one the agent's bridge driver reads (firmware-bridge/host/cli-config.ts).
// The key is shown once, as hex, as a C initializer for the firmware, and as a QR code
// (qrcode-generator: no dependencies, MIT) for a phone or a flashing tool to scan.
import { parseArgs } from 'node:util';
import qrcode from 'qrcode-generator';
import { allKeysFiles, bridgeSettings, keysFileForBoard, usingLine } from './cli-config';
import { DEFAULT_KEYS_FILE, keyAsC, keysFileOf, pairBoard, readKeys } from './keys';
import { approvePairing, denyPairing, pendingPairings } from './tofu';

export const BRIDGE_USAGE = `Usage: xiota bridge <command> [options]

Commands:
  pair BOARD_ID   make a key for a board, store it in the keys file, print it (hex, C, QR)
  list            list the paired boards (not their keys)
  pending         boards without a key asking to pair (drivers with pairing: tofu)
  approve BOARD_ID  trust a pending board: make its key; the driver sends it to the board once
  deny BOARD_ID   refuse a pending board for good (approve undoes it)

Options:
  -c, --config FILE  the agent's config (default ./xiota.yaml if present, else /etc/xiota/xiota.yaml,
                  as xiota run): the keys file is the one its bridge driver for the board reads
                  (options.keys_file, default ${DEFAULT_KEYS_FILE}); with no config at all,
                  $STATE_DIRECTORY/bridge-keys.json, else ${DEFAULT_KEYS_FILE}
  --keys FILE     this keys file, whatever the config says
  --force         pair: replace the board's key (the board then needs the new one);
                  approve: before the board asks, or replacing its key
  --no-qr         pair: no QR code
  -h, --help      show this text`;

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
  /** Tests: the working directory and where a config is looked for (default as `xiota run`). */
  cwd?: string;
  configSearch?: string[];
}

/** A QR code as text, two modules per character row (▀ ▄ █), with a quiet zone. */
export function qrText(data: string): string {
  const qr = qrcode(0, 'M');
  qr.addData(data);
  qr.make();
  const n = qr.getModuleCount(), q = 4; // ISO/IEC 18004: a 4-module quiet zone
  const dark = (r: number, c: number) => r >= 0 && c >= 0 && r < n && c < n && qr.isDark(r, c);
  const rows: string[] = [];
  for (let r = -q; r < n + q; r += 2) {
    let line = '';
    // Light modules print as blocks so the code reads on a dark terminal (inverted colours).
    for (let c = -q; c < n + q; c++) line += [' ', '▄', '▀', '█'][(dark(r, c) ? 0 : 2) + (dark(r + 1, c) ? 0 : 1)];
    rows.push(line);
  }
  return rows.join('\n');
}

export function bridgeMain(argv: string[], io: Io): number {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { config: { type: 'string', short: 'c' }, keys: { type: 'string' }, force: { type: 'boolean' }, 'no-qr': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  } catch (e) {
    io.err(`xiota bridge: ${(e as Error).message}\n\n${BRIDGE_USAGE}`);
    return 2;
  }
  const [cmd, ...rest] = parsed.positionals;
  if (parsed.values.help || !cmd) { io.out(BRIDGE_USAGE); return cmd || parsed.values.help ? 0 : 2; }
  const known = (cmd === 'pair' || cmd === 'approve' || cmd === 'deny') ? rest.length === 1 : (cmd === 'pending' || cmd === 'list') && rest.length === 0;
  if (!known) {
    io.err(`xiota bridge: expected "pair BOARD_ID", "list", "pending", "approve BOARD_ID" or "deny BOARD_ID", got "${[cmd, ...rest].join(' ')}"\n\n${BRIDGE_USAGE}`);
    return 2;
  }
  try {
    const settings = bridgeSettings({ config: parsed.values.config, keys: parsed.values.keys, env: io.env, cwd: io.cwd, configSearch: io.configSearch });
    for (const n of settings.notes) io.err(`xiota bridge: ${n}`);
    if (cmd === 'list' || cmd === 'pending') {
      const files = allKeysFiles(settings);
      const using = usingLine(settings, files);
      if (using) io.err(using);
      if (cmd === 'list') {
        const ids = files.flatMap((f) => [...readKeys(f).keys()]);
        io.out(ids.length ? ids.join('\n') : `no paired boards in ${files.join(', ')}`);
      } else {
        const p = files.flatMap((f) => Object.entries(pendingPairings(f)));
        io.out(p.length ? p.map(([id, r]) => `${id}  on ${r.seen_on}  asking since ${r.since}`).join('\n') : 'no board is asking to pair');
      }
      return 0;
    }
    const id = rest[0];
    const { keysFile, driver, note } = keysFileForBoard(settings, id);
    const using = usingLine(settings, [keysFile], driver);
    if (using) io.err(using);
    if (note) io.err(`xiota bridge: ${note}`);
    if (cmd === 'pair') {
      const key = pairBoard(keysFile, id, { force: parsed.values.force });
      const hex = Buffer.from(key).toString('hex');
      io.out(`paired board "${id}"; its key is stored in ${keysFile} (mode 0600). Shown once:\n`);
      io.out(`key (hex): ${hex}\n`);
      io.out(`for the firmware (key storage of the board's hardware layer):\n${keyAsC(key)}\n`);
      if (!parsed.values['no-qr']) io.out(`${qrText(`xiota-bridge:${id}:${hex}`)}\n`);
      if (driver) io.out(`the agent's driver "${driver.driver}" (${settings.configPath}) reads this key at the board's next handshake`);
      else io.out(`then in the agent's config: drivers: - { id: ${id}, kind: bridge, options: { path: /dev/ttyUSB0, board: ${id}${keysFile === keysFileOf({}) ? '' : `, keys_file: ${keysFile}`} } }`);
      return 0;
    }
    if (driver && driver.pairing !== 'tofu') io.err(`xiota bridge: warning: driver "${driver.driver}" pairs by pre-shared key (no pairing: tofu), so it never asks for or sends a key: \`xiota bridge pair ${id}\` prints one to load into the firmware`);
    if (cmd === 'approve') {
      const r = approvePairing(keysFile, id, { force: parsed.values.force });
      io.out(`approved board "${id}"${r.seenOn ? ` (seen on ${r.seenOn})` : ''}: its key is made and stored in ${keysFile}; the driver sends it to the board at its next attempt`);
      return 0;
    }
    denyPairing(keysFile, id);
    io.out(`denied board "${id}": it is refused and never sent a key (xiota bridge approve ${id} undoes this)`);
    return 0;
  } catch (e) {
    io.err(`xiota bridge: ${(e as Error).message}`);
    return 2;
  }
}
