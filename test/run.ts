// Runs every compiled test file (dist/test/**/*.test.js) in its own process, so one file's
// crash or hang cannot take the others down, and sums uvu's totals. A file that exits
// non-zero without uvu's summary counts as one failure. Ends with `N passed, N failed`.
//   node dist/test/run.js [filter...]   only files whose path contains a filter
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

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

interface Result { file: string; passed: number; failed: number; ms: number; output: string }

function runFile(file: string): Promise<Result> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
    });
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
      resolve({ file, passed, failed, ms: Date.now() - t0, output });
    });
  });
}

async function main(): Promise<void> {
  let files = walk(root, []).sort();
  if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));
  let passed = 0;
  let failed = 0;
  for (const f of files) {
    const r = await runFile(f);
    passed += r.passed;
    failed += r.failed;
    const name = relative(root, f);
    console.log(`${r.failed ? 'FAIL' : 'ok  '} ${name.padEnd(48)} ${String(r.passed).padStart(4)} passed ${String(r.failed).padStart(3)} failed  ${(r.ms / 1000).toFixed(1)}s`);
    if (r.failed || process.env.XIOTA_TEST_VERBOSE) console.log(r.output.replace(/^/gm, '    '));
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

void main();
