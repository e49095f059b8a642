// The palette in the Node-RED editor, 4.1 and 5.0, in Debian's headless chromium
// (playwright-core): the palette shows the five flow nodes in their own colour (not grey, not
// missing), each node's edit dialog opens with its fields and labels from locales/en-US and
// marks a bad value invalid, the config node's dialog hides the password, the example flow
// imports from the Import > Examples menu with every node known, and the example deployed
// against a real `xiota run` shows live status. Screenshots go to test-artifacts/node-red/.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { greenhouseYaml, startXiotaDaemon, type XiotaDaemon } from '../servers/xiota-daemon';
import { launchBrowser, openEditor, type Browser } from './_browser';
import { artefactDir, NODE_RED_VERSIONS, PALETTE_DIR, packPalette, startEach, until, type FlowNode, type NodeRed, type NodeRedVersion } from './_nodered';

const FLOW_TYPES = ['xiota-in', 'xiota-read', 'xiota-control', 'xiota-thing', 'xiota-control-in'];
const MODULE = '@xiota/node-red-xiota';

/** Per node type: the inputs its dialog must show, and one bad value that must be marked. */
const DIALOGS: Record<string, { inputs: string[]; bad: { set: Record<string, string>; invalid: string } }> = {
  'xiota-in': { inputs: ['agent', 'source', 'thing', 'field', 'output', 'name'], bad: { set: { thing: '', field: 'temperature' }, invalid: 'field' } },
  'xiota-read': { inputs: ['agent', 'jid', 'thing', 'field', 'timeout', 'name'], bad: { set: { jid: 'gateway@example.org' }, invalid: 'jid' } },
  'xiota-control': { inputs: ['agent', 'jid', 'thing', 'field', 'name'], bad: { set: { jid: 'not a jid' }, invalid: 'jid' } },
  'xiota-thing': { inputs: ['agent', 'thing', 'name'], bad: { set: { thing: '' }, invalid: 'thing' } },
  'xiota-control-in': { inputs: ['agent', 'thing', 'field', 'name'], bad: { set: { thing: '' }, invalid: 'thing' } },
};

/** What these tests touch in the editor's page (compiled without the DOM lib; in the page,
 *  `globalThis` is the window). */
interface EditorWindow {
  RED: {
    nodes: { getType(t: string): { category?: string } | undefined; eachNode(f: (n: { type: string }) => void): void; eachConfig(f: (n: { type: string }) => void): void };
    actions: { invoke(a: string): void };
    sidebar: { show(tab: string): void };
    workspaces: { show(id: string): void };
  };
  getComputedStyle(e: unknown): { backgroundColor: string };
}

let browser: Browser;
let agent: XiotaDaemon;
let starting: Map<NodeRedVersion, Promise<NodeRed>> | undefined;
const t0 = Date.now();

for (const version of NODE_RED_VERSIONS) {
  const t = suite(`node-red ${version} editor`);
  let nr: NodeRed;
  let page: Page;
  let errors: string[] = [];
  const shot = (name: string) => page.screenshot({ path: join(artefactDir(), `nr${version}-${name}.png`) });

  t.before(async () => {
    try {
      if (!starting) {
        const tgz = packPalette();
        starting = startEach(NODE_RED_VERSIONS, (v) => ({ version: v, palette: tgz }));
        browser = await launchBrowser();
        agent = await startXiotaDaemon({ pollS: 0.25, thingsYaml: greenhouseYaml(4) });
      }
      nr = await starting.get(version)!;
      console.log(`node-red ${version} editor: Node-RED up at ${Date.now() - t0} ms`);
      ({ page, errors } = await browser.newPage());
      page.setDefaultTimeout(8000); // a missing element fails the case in seconds, not 30 s
      await openEditor(page, nr.url);
    } catch (e) {
      console.error(`node-red ${version} editor setup failed:`, e); // uvu does not print a failed hook's error
      throw e;
    }
  });
  let tCase = 0;
  t.before.each(() => { tCase = Date.now(); });
  t.after.each(() => { console.log(`  [${version}] case took ${Date.now() - tCase} ms`); });
  t.after(async () => {
    await page?.close();
    await nr?.stop();
    console.log(`node-red ${version} editor: done at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if (version === NODE_RED_VERSIONS[NODE_RED_VERSIONS.length - 1]) {
      await browser?.close();
      await agent?.stop();
    }
  });

  t(`${version}: the palette shows the five xiota nodes in their colour, labelled, not grey`, async () => {
    await filterPalette(page, 'xiota');
    for (const type of FLOW_TYPES) {
      const el = page.locator(`.red-ui-palette-node[data-palette-type='${type}']`);
      assert.ok(await el.isVisible(), `${type} in the palette`);
      assert.is((await el.innerText()).replace(/\s+/g, ' ').trim(), type.replace(/-/g, ' '), `${type}'s palette label`);
      const bg = await el.evaluate((e) => (globalThis as unknown as EditorWindow).getComputedStyle(e).backgroundColor);
      assert.not.match(bg, /^rgb\((\d+), \1, \1\)$/, `${type} coloured, not grey (${bg})`);
    }
    const defs = await page.evaluate((types) => types.map((ty) => {
      const d = (globalThis as unknown as EditorWindow).RED.nodes.getType(ty);
      return d?.category ?? 'missing';
    }), [...FLOW_TYPES, 'xiota-agent']);
    assert.equal(defs, [...FLOW_TYPES.map(() => 'xiota'), 'config']);
    await shot('palette');
    assert.equal(errors, [], 'no console errors');
  });

  for (const type of FLOW_TYPES) {
    t(`${version}: ${type}'s dialog opens with its fields and labels and marks a bad value`, async () => {
      await filterPalette(page, 'xiota');
      await dropNode(page, type, 420, 120 + 60 * FLOW_TYPES.indexOf(type));
      const spec = DIALOGS[type]!;
      for (const f of spec.inputs) {
        assert.ok(await page.locator(`#node-input-${f}`).count(), `${type}: #node-input-${f} in the dialog`);
        const label = (await page.locator(`label[for='node-input-${f}']`).innerText()).trim();
        assert.ok(label && !label.includes(`${type}.label`), `${type}: the label of ${f} translated (${JSON.stringify(label)})`);
      }
      for (const [f, v] of Object.entries(spec.bad.set)) await setInput(page, `#node-input-${f}`, v);
      await setInput(page, `#node-input-${spec.bad.invalid}`, spec.bad.set[spec.bad.invalid] ?? '');
      await until(`${type}: #node-input-${spec.bad.invalid} marked invalid`, () => hasClass(page, `#node-input-${spec.bad.invalid}`, 'input-error'), 3000);
      await shot(`dialog-${type}`);
      await page.click('#node-dialog-cancel');
      await page.waitForSelector('#node-dialog-cancel', { state: 'detached', timeout: 5000 });
    });
  }

  t(`${version}: the xiota-agent config dialog: agent and account modes, password hidden, a bad JID marked`, async () => {
    await filterPalette(page, 'xiota');
    await dropNode(page, 'xiota-in', 420, 480);
    await page.click('#node-input-btn-agent-add'); // the + beside the config select (editor-client, prepareConfigNodeSelect)
    await page.waitForSelector('#node-config-input-mode', { state: 'visible', timeout: 5000 });
    assert.ok(await page.locator('#node-config-input-socket').isVisible(), 'agent mode shows the socket path');
    await page.selectOption('#node-config-input-mode', 'account');
    await page.locator('#node-config-input-mode').dispatchEvent('change');
    assert.ok(await page.locator('#node-config-input-jid').isVisible(), 'account mode shows the JID');
    assert.is(await page.locator('#node-config-input-password').getAttribute('type'), 'password');
    await setInput(page, '#node-config-input-jid', 'no-at-sign');
    await until('the bad JID marked invalid', () => hasClass(page, '#node-config-input-jid', 'input-error'), 3000);
    await shot('dialog-xiota-agent');
    await page.click('#node-config-dialog-cancel');
    await page.click('#node-dialog-cancel');
    await page.waitForSelector('#node-dialog-cancel', { state: 'detached', timeout: 5000 });
  });

  t(`${version}: the example flow imports from Import > Examples with every node known`, async () => {
    const examples = JSON.parse(readFileSync(join(PALETTE_DIR, 'examples/greenhouse-fan.json'), 'utf8')) as FlowNode[];
    await page.evaluate(() => (globalThis as unknown as EditorWindow).RED.actions.invoke('core:show-examples-import-dialog'));
    const entry = (text: string) => page.locator('#red-ui-clipboard-dialog-import-tabs-content .red-ui-treeList-label:visible', { hasText: text }).first();
    await entry(MODULE).click({ timeout: 10_000 });
    await entry('greenhouse-fan').click();
    await shot('import-example');
    await page.click('#red-ui-clipboard-dialog-ok');
    // Imported nodes follow the mouse until a click drops them.
    const chart = await page.locator('#red-ui-workspace-chart').boundingBox();
    await page.mouse.move(chart!.x + 300, chart!.y + 300, { steps: 5 });
    await page.mouse.click(chart!.x + 300, chart!.y + 300);
    const nodes = await page.evaluate(() => {
      const RED = (globalThis as unknown as EditorWindow).RED;
      const out: { type: string; known: boolean }[] = [];
      RED.nodes.eachNode((n) => { out.push({ type: n.type, known: !!RED.nodes.getType(n.type) }); });
      RED.nodes.eachConfig((n) => { out.push({ type: n.type, known: !!RED.nodes.getType(n.type) }); });
      return out;
    });
    for (const n of examples.filter((e) => e.type !== 'tab')) {
      assert.ok(nodes.some((x) => x.type === n.type), `imported a ${n.type}`);
    }
    assert.equal(nodes.filter((n) => !n.known), [], 'no unknown (grey) node');
    assert.is(await page.locator('.red-ui-flow-node-unknown').count(), 0, 'no unknown node drawn');
    const tabId = examples.find((e) => e.type === 'tab')!.id;
    await page.evaluate((id) => (globalThis as unknown as EditorWindow).RED.workspaces.show(id), tabId);
    await page.waitForSelector(".red-ui-flow-node-group:has(rect.red-ui-flow-node) >> nth=0");
    await shot('imported');
  });

  t(`${version}: the example, deployed against xiota run, shows live status and switches the fan`, async () => {
    const flow = (JSON.parse(readFileSync(join(PALETTE_DIR, 'examples/greenhouse-fan.json'), 'utf8')) as FlowNode[])
      .map((n) => (n.type === 'xiota-agent' ? { ...n, socket: agent.socket } : n));
    await nr.deploy(flow);
    await until('the fan switched by the example', async () => {
      const r = await agent.rpc<{ values: { field: string; value?: unknown }[] }[]>('read', { thing: 'greenhouse', field: 'fan' });
      return r[0]?.values.some((v) => v.field === 'fan' && v.value === true) ?? false;
    }, 15_000, 100);
    await page.setViewportSize({ width: 1600, height: 860 }); // the whole flow beside the debug sidebar
    await openEditor(page, nr.url);
    await page.waitForSelector('.red-ui-flow-node-status-label', { timeout: 10_000 });
    await until('status of xiota-in and xiota-control drawn', async () => (await page.locator('.red-ui-flow-node-status-label').count()) >= 2, 10_000, 100);
    const labels = await page.locator('.red-ui-flow-node-status-label').allTextContents();
    assert.ok(labels.some((l) => /°C/.test(l)), `xiota-in shows the last temperature: ${JSON.stringify(labels)}`);
    // The debug sidebar beside the flow: the shot the palette's README shows (node-red-nodes/docs/flow.png).
    await page.evaluate(() => (globalThis as unknown as EditorWindow).RED.sidebar.show('debug'));
    await page.waitForSelector('.red-ui-debug-msg', { timeout: 10_000 });
    await page.screenshot({ path: join(artefactDir(), `nr${version}-flow.png`), clip: { x: 0, y: 0, width: 1600, height: 430 } });
  });

  t.run();
}

/** Types into the palette filter (it reacts to keyup only, shared/node-red.md 6). */
async function filterPalette(page: Page, text: string): Promise<void> {
  const input = page.locator('#red-ui-palette-search input');
  if (await input.inputValue() === text && !(await page.locator(".red-ui-palette-node[data-palette-type='inject']").isVisible())) return;
  await input.fill('');
  await input.pressSequentially(text, { delay: 10 });
  await page.waitForSelector(".red-ui-palette-node[data-palette-type='inject']", { state: 'hidden' });
  // The categories collapse with an animation: wait until the node stops moving.
  let last = '';
  await until('the filtered palette to settle', async () => {
    const box = JSON.stringify(await page.locator(".red-ui-palette-node[data-palette-type='xiota-in']").boundingBox());
    const same = box === last;
    last = box;
    return same;
  }, 5000, 100);
}

/** Drags a palette node onto the canvas and opens its dialog (double click). */
async function dropNode(page: Page, type: string, x: number, y: number): Promise<void> {
  const from = await page.locator(`.red-ui-palette-node[data-palette-type='${type}']`).boundingBox();
  const chart = await page.locator('#red-ui-workspace-chart').boundingBox();
  assert.ok(from && chart, `${type} in the palette and a canvas`);
  await page.mouse.move(from!.x + from!.width / 2, from!.y + from!.height / 2);
  await page.mouse.down();
  await page.mouse.move(chart!.x + x, chart!.y + y, { steps: 10 });
  await page.mouse.up();
  await page.locator('.red-ui-flow-node-group').last().locator('rect.red-ui-flow-node').dblclick();
  await page.waitForSelector('#node-dialog-cancel', { state: 'visible', timeout: 5000 });
}

async function setInput(page: Page, selector: string, value: string): Promise<void> {
  const el = page.locator(selector);
  await el.fill(value);
  await el.dispatchEvent('change');
}

async function hasClass(page: Page, selector: string, cls: string): Promise<boolean> {
  return page.locator(selector).evaluate((e, c) => e.classList.contains(c), cls);
}
