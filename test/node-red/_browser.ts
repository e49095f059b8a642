// Debian's chromium driven by playwright-core, headless, for the Node-RED editor tests
// (shared/node-red.md 6: a persistent context on a throwaway profile, no sandbox as root, no
// GPU, no QUIC, no background networking or component updates, so nothing leaves 127.0.0.1).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.XIOTA_CHROMIUM ?? '/usr/bin/chromium';

export interface Browser {
  context: BrowserContext;
  /** A fresh tab; `errors` collects its console errors and page errors. */
  newPage(): Promise<{ page: Page; errors: string[] }>;
  close(): Promise<void>;
}

export async function launchBrowser(viewport = { width: 1400, height: 860 }): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no chromium at ${CHROMIUM}${process.env.CI ? ' (CI: a failure, not a skip)' : ''}. Install it with: sudo apt-get install chromium`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'xiota-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    async newPage() {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      page.on('pageerror', (e) => errors.push(String(e)));
      return { page, errors };
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Opens the editor and waits until the palette has its core nodes and the flows are drawn (2-2.5 s here). */
export async function openEditor(page: Page, url: string): Promise<void> {
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector(".red-ui-palette-node[data-palette-type='inject']", { state: 'attached', timeout: 20_000 });
  await page.waitForSelector('#red-ui-workspace-chart', { state: 'visible', timeout: 20_000 });
  await page.waitForFunction('!!(globalThis.RED && RED.nodes && RED.nodes.getType("inject") && RED.workspaces && RED.workspaces.active())', undefined, { timeout: 20_000 });
}
