// Runs every compiled test file (dist/test/**/*.test.js) in its own process, so one file's
// crash or hang cannot take the others down, and sums uvu's totals. A file that exits
// non-zero without uvu's summary counts as one failure. Ends with `N passed, N failed`.
//   node dist/test/run.js [filter...]   only files whose path contains a filter
// Server matrix: a `*.matrix.test.js` file runs once per server in XIOTA_SERVERS (comma
// separated, default all of SERVER_KINDS) with XIOTA_SERVER set; its lines name the server.
// Cases that do not apply to a server (test/servers/matrix.ts) are counted as n/a, not passed.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseServerLabel, SERVER_KINDS, type ServerLabel } from '../scripts/servers';
import { NA_MARKER } from './servers/matrix';

const root = join(__dirname);
const filters = process.argv.slice(2);
const PER_FILE_TIMEOUT_MS = Number(process.env.XIOTA_TEST_TIMEOUT_MS ?? 300_000);

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

interface Result { file: string; server?: ServerLabel; passed: number; failed: number; na: string[]; ms: number; output: string }

/** XIOTA_SERVERS: which servers the matrix files run against (default: all). */
function matrixServers(): ServerLabel[] {
  const raw = process.env.XIOTA_SERVERS?.trim();
  if (!raw) return [...SERVER_KINDS];
  return raw.split(/[\s,]+/).filter(Boolean).map((s) => parseServerLabel(s, 'XIOTA_SERVERS'));
}

function runFile(file: string, server?: ServerLabel): Promise<Result> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' };
    if (server) env.XIOTA_SERVER = server;
    const child = spawn(process.execPath, ['--enable-source-maps', file], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      output += `\n[run] ${relative(root, file)} timed out after ${PER_FILE_TIMEOUT_MS} ms, killed\n`;
      child.kill('SIGKILL');
    }, PER_FILE_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      const total = Number(/Total:\s+(\d+)/.exec(output)?.[1] ?? NaN);
      const passed = Number(/Passed:\s+(\d+)/.exec(output)?.[1] ?? 0);
      let failed = Number.isNaN(total) ? 0 : total - passed - Number(/Skipped:\s+(\d+)/.exec(output)?.[1] ?? 0);
      if (code !== 0 && failed === 0) failed = 1;
      if (Number.isNaN(total) && code === 0) failed += 1; // ran nothing: a defect
      // n/a cases pass in uvu's eyes; here they are neither passed nor failed.
      const na = [...output.matchAll(NA_MARKER)].map((m) => m[2]);
      resolve({ file, server, passed: Math.max(0, passed - na.length), failed, na, ms: Date.now() - t0, output });
    });
  });
}

async function main(): Promise<void> {
  let files = walk(root, []).sort();
  if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));
  const servers = matrixServers();
  const jobs: { file: string; server?: ServerLabel }[] = [];
  for (const f of files) {
    if (f.endsWith('.matrix.test.js')) for (const server of servers) jobs.push({ file: f, server });
    else jobs.push({ file: f });
  }
  let passed = 0;
  let failed = 0;
  let na = 0;
  const perServerMs = new Map<ServerLabel, number>();
  const report = (r: Result): void => {
    passed += r.passed;
    failed += r.failed;
    na += r.na.length;
    if (r.server) perServerMs.set(r.server, (perServerMs.get(r.server) ?? 0) + r.ms);
    const name = relative(root, r.file) + (r.server ? ` [${r.server}]` : '');
    const naCol = r.na.length ? ` ${String(r.na.length).padStart(3)} n/a` : '';
    console.log(`${r.failed ? 'FAIL' : 'ok  '} ${name.padEnd(64)} ${String(r.passed).padStart(4)} passed ${String(r.failed).padStart(3)} failed${naCol}  ${(r.ms / 1000).toFixed(1)}s`);
    for (const why of r.na) console.log(`       n/a: ${why}`);
    if (r.failed || process.env.XIOTA_TEST_VERBOSE) console.log(r.output.replace(/^/gm, '    '));
  };
  // XIOTA_TEST_JOBS=N runs up to N files at once; a file whose source says `xiota-test: exclusive`
  // (timing or CPU sensitive: fault injection, emulation, latency) runs with nothing beside it.
  const width = Math.max(1, Number(process.env.XIOTA_TEST_JOBS ?? 1) || 1);
  const exclusive = (file: string): boolean => width > 1 && readFileSync(file, 'utf8').includes('xiota-test: exclusive');
  const queue = [...jobs];
  const running = new Set<Promise<void>>();
  let exclusiveRunning = false;
  while (queue.length || running.size) {
    const next = queue[0];
    const wantsAlone = next !== undefined && exclusive(next.file);
    const canStart = next !== undefined && !exclusiveRunning && running.size < width && (!wantsAlone || running.size === 0);
    if (canStart) {
      queue.shift();
      if (wantsAlone) exclusiveRunning = true;
      const p: Promise<void> = runFile(next.file, next.server).then((r) => {
        report(r);
        if (wantsAlone) exclusiveRunning = false;
        running.delete(p);
      });
      running.add(p);
      continue;
    }
    await Promise.race(running);
  }
  if (perServerMs.size) {
    console.log(`matrix time by server: ${[...perServerMs].map(([s, ms]) => `${s} ${(ms / 1000).toFixed(1)}s`).join(', ')}`);
  }
  if (na) console.log(`${na} n/a (cases that do not apply to a server; reasons above)`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

void main();
