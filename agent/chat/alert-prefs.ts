// Who wants alert messages: owners get them unless they said `alerts off`. Kept in one small
// JSON file in the state directory (written to a temporary file, then renamed, so a power
// cut leaves the old or the new list, never half of one). The alerts module reads enabled().
import { mkdirSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bareOf } from '../access';

export interface AlertPrefs {
  enabled(jid: string): boolean;
  setEnabled(jid: string, on: boolean): Promise<void>;
}

export const ALERT_PREFS_FILE = 'chat-alerts.json';

/** In memory only (tests, and when there is no state directory). */
export class MemoryAlertPrefs implements AlertPrefs {
  protected off = new Set<string>();
  enabled(jid: string): boolean {
    return !this.off.has(bareOf(jid));
  }
  async setEnabled(jid: string, on: boolean): Promise<void> {
    const bare = bareOf(jid);
    if (on) this.off.delete(bare);
    else this.off.add(bare);
    await this.save();
  }
  protected async save(): Promise<void> {}
}

export class FileAlertPrefs extends MemoryAlertPrefs {
  private readonly file: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(stateDir: string) {
    super();
    this.file = join(stateDir, ALERT_PREFS_FILE);
    try {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as { off?: unknown };
      if (Array.isArray(parsed.off)) for (const j of parsed.off) if (typeof j === 'string') this.off.add(bareOf(j));
    } catch {
      // No file yet (or an unreadable one): everyone keeps the default, alerts on.
    }
  }

  protected override save(): Promise<void> {
    const text = JSON.stringify({ off: [...this.off].sort() }, null, 1) + '\n';
    // Writes one after another, the last one wins.
    this.writing = this.writing.catch(() => undefined).then(async () => {
      mkdirSync(join(this.file, '..'), { recursive: true });
      const tmp = `${this.file}.tmp`;
      await writeFile(tmp, text, { mode: 0o600 });
      await rename(tmp, this.file);
    });
    return this.writing;
  }
}
