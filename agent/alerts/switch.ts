// Who said `alerts off` (or `alerts on`): per bare JID, kept in a small JSON file in the state
// directory and written atomically (a temporary file, fsync, rename), so a power cut leaves
// the old or the new list, never half of one. The alerts module reads it before every
// alert; the chat and commands modules change it through the same object, which
// `alertSwitchFor(stateDir)` hands to all of them (one per state directory, so one agent).
import { mkdirSync, readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { bareOf } from '../access';
import { checkedBare } from '../access-store';

export const ALERT_SWITCH_FILE = 'alerts.json';

export interface AlertSwitch {
  /** The JID's own choice; undefined when it never chose (the rules' recipients then get alerts). */
  choice(jid: string): boolean | undefined;
  /** Does `jid` get alerts, given whether it is a default recipient. */
  alertsOn(jid: string, byDefault?: boolean): boolean;
  /** Records the JID's choice; resolves once it is on disk. */
  setAlerts(jid: string, on: boolean): Promise<void>;
  /** JIDs that said `alerts on` (a `@domain` owner is no default recipient until it does). */
  optedIn(): string[];
}

/** Kept in memory only (tests; an agent without a state directory). */
export class MemoryAlertSwitch implements AlertSwitch {
  protected readonly choices = new Map<string, boolean>();

  choice(jid: string): boolean | undefined {
    return this.choices.get(bareOf(jid));
  }

  alertsOn(jid: string, byDefault = true): boolean {
    return this.choice(jid) ?? byDefault;
  }

  async setAlerts(jid: string, on: boolean): Promise<void> {
    const bare = checkedBare(jid);
    this.choices.set(bare, on);
    await this.save();
  }

  optedIn(): string[] {
    return [...this.choices].filter(([, on]) => on).map(([j]) => j);
  }

  protected async save(): Promise<void> {}
}

/** `{"on": [...], "off": [...]}` in `<stateDir>/alerts.json`. */
export class FileAlertSwitch extends MemoryAlertSwitch {
  readonly file: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(stateDir: string, onLoadError?: (message: string) => void) {
    super();
    this.file = join(stateDir, ALERT_SWITCH_FILE);
    let text: string | undefined;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') onLoadError?.(`cannot read ${this.file} (${(e as NodeJS.ErrnoException).code ?? String(e)}); everyone keeps the default`);
    }
    if (text !== undefined) {
      try {
        const parsed = JSON.parse(text) as { on?: unknown; off?: unknown };
        for (const [k, on] of [['on', true], ['off', false]] as const) {
          const list = parsed[k];
          if (Array.isArray(list)) for (const j of list) if (typeof j === 'string' && j) this.choices.set(bareOf(j), on);
        }
      } catch {
        onLoadError?.(`${this.file} is not valid JSON; everyone keeps the default until someone says alerts on/off`);
      }
    }
  }

  protected override save(): Promise<void> {
    const on = [...this.choices].filter(([, v]) => v).map(([j]) => j).sort();
    const off = [...this.choices].filter(([, v]) => !v).map(([j]) => j).sort();
    const text = JSON.stringify({ on, off }, null, 1) + '\n';
    // One write after another; the last one wins.
    this.writing = this.writing.catch(() => undefined).then(() => writeAtomic(this.file, text));
    return this.writing;
  }
}

async function writeAtomic(file: string, text: string): Promise<void> {
  mkdirSync(join(file, '..'), { recursive: true });
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}

const shared = new Map<string, FileAlertSwitch>();

/** The one switch of the agent whose state directory is `stateDir` (alerts, chat and commands share it). */
export function alertSwitchFor(stateDir: string, onLoadError?: (message: string) => void): FileAlertSwitch {
  let s = shared.get(stateDir);
  if (!s) { s = new FileAlertSwitch(stateDir, onLoadError); shared.set(stateDir, s); }
  return s;
}
