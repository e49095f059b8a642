// Prosody's in-memory PEP store for fault tests that replay thousands of items.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * PEP items in memory: Prosody's file store reloads the whole node on every publish (it trims
 * to max_items each time), about 10-30 publishes/s here with a few hundred items. Prosody is
 * not restarted in this test, so memory loses nothing. But Prosody 0.12.3's memory archive
 * store mis-replaces items: append() of an existing key does `table.remove(a, a[key])`
 * (mod_storage_memory.lua line 83) without re-indexing the keys after it, so the next replace
 * removes the wrong item and the node ends up holding one id twice and losing another. A
 * replay after a kill republishes items the server already has (XEP-0060 7.1.2: same id
 * replaces), which is exactly that path. So the test loads a copy of the module with the
 * missing re-index, as `memory_fixed`. The store also refuses more than
 * storage_archive_item_limit items (default 1000) with an internal-server-error: raised.
 */
export function memoryStoreConfig(pluginDir: string, modulesDir?: string): string {
  // modulesDir: another Prosody's modules (Prosody 13 under /opt/xiota-servers has the same bug).
  const candidates = modulesDir ? [join(modulesDir, 'mod_storage_memory.lua')] : ['/usr/lib/prosody/modules/mod_storage_memory.lua', '/usr/lib64/prosody/modules/mod_storage_memory.lua', '/usr/local/lib/prosody/modules/mod_storage_memory.lua'];
  const src = candidates.find((f) => existsSync(f));
  if (!src) throw new Error(`mod_storage_memory.lua not found in ${candidates.join(', ')}: where does this Prosody keep its modules?`);
  const BUG = '\t\ttable.remove(a, a[key]);\n';
  const lua = readFileSync(src, 'utf8');
  if (!lua.includes(BUG)) throw new Error(`${src} changed (no "table.remove(a, a[key])"): check whether the replace bug is fixed and drop the copy`);
  mkdirSync(pluginDir, { recursive: true });
  writeFileSync(join(pluginDir, 'mod_storage_memory_fixed.lua'), lua.replace(BUG, BUG + '\t\tfor j = a[key], #a do a[a[j].key] = j; end\n'));
  return `plugin_paths = { ${JSON.stringify(pluginDir)} }\nstorage = { pep_data = "memory_fixed" }\nstorage_archive_item_limit = 100000`;
}
