// The palette in a real headless Node-RED, 4.1 on Node 20 and 5.0 on Node 22, installed from
// its packed tarball into the userDir as the Palette Manager would, against a real `xiota run`
// and Prosody: the nodes load with no warning, a flow deployed through the admin API carries a
// reading to a recorder and switches the simulated fan, and 20 redeploys in a row leave exactly
// one connection on the agent's API socket and one XMPP stream on Prosody (issue 10).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startXiotaDaemon, type XiotaDaemon } from '../servers/xiota-daemon';
import { greenhouseFlow } from './_flows';
import { NODE_RED_VERSIONS, PALETTE_DIR, packPalette, sleep, startEach, until, type NodeRed, type NodeRedVersion } from './_nodered';

const TYPES = ['xiota-agent', 'xiota-in', 'xiota-read', 'xiota-control', 'xiota-thing', 'xiota-control-in'];
const MODULE = '@xiota/node-red-xiota';
/** What a bare Node-RED with our settings logs at [warn] (no palette involved). */
const BENIGN = [/Projects disabled/, /Encrypted credentials not found/];

let agent: XiotaDaemon;
let starting: Map<NodeRedVersion, Promise<NodeRed>> | undefined;
const t0 = Date.now();

for (const version of NODE_RED_VERSIONS) {
  const t = suite(`node-red ${version}`);
  let nr: NodeRed;

  t.before(async () => {
    try {
      if (!starting) {
        const tgz = packPalette();
        starting = startEach(NODE_RED_VERSIONS, (v) => ({ version: v, palette: tgz }));
        agent = await startXiotaDaemon({ pollS: 0.2 });
      }
      nr = await starting.get(version)!;
      console.log(`node-red ${nr.nodeRedVersion}: palette installed and admin API up (file at ${Date.now() - t0} ms)`);
    } catch (e) {
      console.error(`node-red ${version} setup failed:`, e); // uvu does not print a failed hook's error
      throw e;
    }
  });
  let tCase = 0;
  t.before.each(() => { tCase = Date.now(); });
  t.after.each(() => { console.log(`  [${version}] case took ${Date.now() - tCase} ms`); });
  t.after(async () => {
    const ms = await nr?.stop();
    console.log(`node-red ${version}: stopped in ${ms} ms; file so far ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if (version === NODE_RED_VERSIONS[NODE_RED_VERSIONS.length - 1]) await agent?.stop();
  });

  t(`${version}: the palette loads from its tarball with no warning (GET /nodes and the log)`, async () => {
    const pkg = JSON.parse(readFileSync(join(PALETTE_DIR, 'package.json'), 'utf8')) as { version: string };
    assert.match(nr.nodeRedVersion, version === '4' ? /^4\.1\./ : /^5\.0\./);
    const sets = (await nr.nodes()).filter((s) => s.module === MODULE);
    assert.equal(sets.flatMap((s) => s.types).sort(), [...TYPES].sort(), 'every node type registered');
    for (const s of sets) {
      assert.is(s.err, undefined, `${s.id}: ${s.err}`);
      assert.ok(s.enabled, `${s.id} enabled`);
      assert.is(s.version, pkg.version, `${s.id} is the packed version`);
    }
    const log = nr.log();
    const warnings = nr.warnings().filter((l) => !BENIGN.some((re) => re.test(l)));
    assert.equal(warnings, [], `no [warn]/[error] at load:\n${log}`);
    assert.not.match(log, /Missing node modules|Waiting for missing types|version_mismatch/);
    assert.not.match(log, /Warning:|DeprecationWarning|ExperimentalWarning/, 'no Node process warning (Node 20 and 22)');
  });

  t(`${version}: a deployed flow carries greenhouse readings to a recorder and switches the fan`, async () => {
    await nr.deploy(greenhouseFlow(agent.socket));
    const temps = await nr.waitRecorded('two temperature readings out of xiota-in', (r) => r.length >= 2, 'temp');
    assert.is(temps[0]!.topic, 'temperature');
    assert.type(temps[0]!.payload, 'number');
    assert.ok((temps[0]!.payload as number) >= 15 && (temps[0]!.payload as number) <= 25, `in the ramp's range: ${temps[0]!.payload}`);
    for (const [value, inject] of [[true, 'fan-on'], [false, 'fan-off']] as const) {
      await nr.inject(inject);
      await until(`the simulated fan ${value ? 'on' : 'off'} (read through the API)`, async () => {
        const r = await agent.rpc<{ thing: string; values: { field: string; value?: unknown }[] }[]>('read', { thing: 'greenhouse', field: 'fan' });
        return r[0]?.values.some((v) => v.field === 'fan' && v.value === value) ?? false;
      }, 10_000, 50, () => nr.log());
      await nr.waitRecorded(`xiota-in on the fan sees ${value}`, (r) => r.some((x) => x.payload === value), 'fan');
    }
    assert.equal(nr.warnings().filter((l) => !BENIGN.some((re) => re.test(l))), [], nr.log());
  });

  t(`${version}: 20 redeploys (full and modified-nodes) leave one API connection and one XMPP stream`, async () => {
    let maxConns = 0;
    const tDeploy = Date.now();
    for (let g = 1; g <= 20; g++) {
      await nr.deploy(greenhouseFlow(agent.socket, g), g % 2 ? 'full' : 'nodes');
      maxConns = Math.max(maxConns, agent.apiConnections());
    }
    const deployMs = Date.now() - tDeploy;
    const before = nr.recorded('temp').length;
    await nr.waitRecorded('a reading after the last redeploy', (r) => r.length > before, 'temp');
    // Connections closed by replaced config nodes go within the close budget (2.5 s).
    await until('exactly one API connection', () => agent.apiConnections() === 1, 5_000, 50, () => `connections: ${agent.apiConnections()}`);
    assert.is(agent.c2sStreams(), 1, 'one XMPP stream to Prosody');
    // The daemon's own count: Node-RED's connection and the one this status request came on.
    const status = await agent.rpc<{ api?: { clients?: number }; session: { state: string } }>('agent.status');
    assert.is(status.api?.clients, 2, `agent.status api.clients: ${JSON.stringify(status.api)}`);
    assert.is(status.session.state, 'online');
    await sleep(300);
    assert.is(agent.apiConnections(), 1, 'still one');
    console.log(`node-red ${version}: 20 redeploys in ${deployMs} ms, at most ${maxConns} API connections right after a deploy, 1 at the end; ${agent.c2sStreams()} c2s stream`);
  });

  t.run();
}
