#!/usr/bin/env -S node --lite-mode --no-expose-wasm --expose-gc
// The `xiota` command: init, check, read, run. Exit codes: 0 fine, 1 the check or run
// failed, 2 the command line or config is wrong.
// The shebang runs V8 in lite mode (no optimizing compiler, lazily allocated feedback, so no
// JIT code): the agent's peak RSS drops by about 13 MiB (bench/rss.ts) for a daemon that
// does a few readings a second and never needs optimized code. --lite-mode implies jitless,
// which disables WebAssembly; --no-expose-wasm says so up front instead of a warning on every
// start. --expose-gc lets `run` collect the config parser's garbage once before the agent
// loads (see run()). `env -S` is GNU coreutils >= 8.30 (Debian 10 and later). To run
// without it: node /path/to/dist/agent/cli/main.js run ...
import { writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { XiotaError } from '../errors';
import { createLogger, type Logger } from '../log';
import { accessAdvice, loadConfig, releaseConfigParser, formatIssues, parseArgs, resolvePassword, starterConfig, USAGE, type Config, type ParsedArgs } from '../config';
import { packageVersion } from '../xep/basic';

/**
 * The agent's own modules (session, TLS, outbox, drivers) are required only once the config
 * has been read: the YAML parser is then already released, and the heap space its garbage
 * takes is reused by what loads next instead of adding to the daemon's peak RSS.
 */
function stack() {
  return {
    ...(require('../agent') as typeof import('../agent')),
    ...(require('../session/client') as typeof import('../session/client')),
    ...(require('../../drivers/host') as typeof import('../../drivers/host')),
    ...(require('./drivers') as typeof import('./drivers')),
  };
}

interface Io { out: (s: string) => void; err: (s: string) => void; env: NodeJS.ProcessEnv }

function loggerFor(config: Config | undefined, args: ParsedArgs, io: Io, defaultLevel?: 'warn'): Logger {
  const level = (args.flags.logLevel ?? defaultLevel ?? config?.log.level ?? 'info') as 'debug' | 'info' | 'warn' | 'error';
  const format = args.flags.json ? 'json' : config?.log.format ?? 'auto';
  return createLogger({ level, json: format === 'auto' ? undefined : format === 'json', write: (l) => io.err(l) });
}

function load(args: ParsedArgs, io: Io): Config {
  const r = loadConfig(args.configPath, { env: io.env, overrides: args.flags, checkFiles: true });
  const file = args.configPath ?? '(flags)';
  if (r.warnings.length) io.err(formatIssues(file, r.warnings, 'warning'));
  if (!r.config) {
    io.err(formatIssues(file, r.errors, 'error'));
    throw new XiotaError('XIOTA_E_CONFIG', `${r.errors.length} problem(s) in the configuration; fix them and run \`xiota check\` again`, { reported: true });
  }
  return r.config;
}

async function check(args: ParsedArgs, io: Io): Promise<number> {
  const config = load(args, io);
  const { buildDrivers, DriverHost, XmppClient, clientOptionsFromConfig } = stack();
  // The report below is the output; the session's routine info lines (its closing "offline")
  // would only clutter it, so they show with --log-level only.
  const log = loggerFor(config, args, io, 'warn');
  // Access: not an error (the agent runs), but with no owner nobody would see anything.
  const advice = accessAdvice(config.access);
  for (const a of advice) io.out(`access   WARN ${a}`);
  if (!advice.length) io.out(`access   ${config.access.owners.length} owner(s), ${config.access.controllers.length} controller(s), ${config.access.readers.length} reader(s); strangers: ${config.access.strangers}`);
  // Drivers: start each once and sample (a broken driver is reported, the login still checked).
  let driversOk = true;
  // The local API: where `xiota run` will listen (agent/api/PROTOCOL.md, Transport); a missing
  // api.group would stop `xiota run` at start, so it fails here too.
  if (config.api.enabled) {
    const { daemonSocketPath, gidOf } = require('../api/paths') as typeof import('../api/paths');
    const g = config.api.group;
    if (g !== undefined && gidOf(g) === undefined) {
      driversOk = false;
      io.out(`api      FAIL api.group "${g}" is not a group on this system: create it (groupadd ${g}) or change api.group`);
    } else io.out(`api      ${daemonSocketPath(config, io.env)} (mode ${config.api.mode.toString(8)}${g !== undefined ? `, group ${g}` : ''})`);
  }
  if (config.drivers.length) {
    const { drivers, errors } = buildDrivers(config);
    for (const e of errors) {
      driversOk = false;
      io.out(`driver   FAIL ${e}`);
    }
    const faults: string[] = [];
    const host = new DriverHost({ drivers, onFault: (f) => faults.push(`${f.driver}${f.thing ? '/' + f.thing : ''}: ${f.message}`) });
    await host.start();
    const readings = await host.readOnce();
    await host.stop();
    io.out(`drivers  ${drivers.length} started, ${readings.length} readings, ${faults.length} faults`);
    for (const f of faults) io.out(`driver   fault ${f}`);
  }
  const creds = resolvePassword(config, io.env);
  const client = new XmppClient(clientOptionsFromConfig(config, creds, log));
  const t0 = process.hrtime.bigint();
  try {
    const info = await client.connectOnce();
    const loginMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const rtt = await client.ping();
    io.out(`server   ${info.endpoint}`);
    io.out(`jid      ${info.jid}`);
    io.out(`tls      ${info.tls.version} ${info.tls.cipher} (certificate verified by ${info.tls.authorizedBy})`);
    io.out(`sasl     ${info.mechanism}`);
    io.out(`sm       ${info.sm}`);
    io.out(`login    ${loginMs.toFixed(0)} ms`);
    io.out(`ping     ${rtt.toFixed(1)} ms`);
  } finally {
    await client.stop();
  }
  return driversOk ? 0 : 1;
}

async function read(args: ParsedArgs, io: Io): Promise<number> {
  const config = load(args, io);
  // A daemon running on this config owns the drivers (a serial port is its): ask it instead.
  const { daemonRead } = require('./api') as typeof import('./api');
  const fromDaemon = await daemonRead(io, { config: args.configPath });
  if (fromDaemon) {
    const { formatReadings } = require('./table') as typeof import('./table');
    io.out(args.flags.json ? JSON.stringify(fromDaemon.readings, null, 2) : formatReadings(fromDaemon.readings, fromDaemon.things));
    return 0;
  }
  const { buildDrivers, DriverHost } = stack();
  const { drivers, errors } = buildDrivers(config);
  for (const e of errors) io.err(`error: ${e}`);
  const faults: string[] = [];
  const host = new DriverHost({ drivers, onFault: (f) => faults.push(`${f.driver}: ${f.message}`) });
  await host.start();
  const readings = await host.readOnce();
  await host.stop();
  // Loaded here: `run` never needs the table code.
  const { formatReadings } = require('./table') as typeof import('./table');
  io.out(args.flags.json ? JSON.stringify(readings, null, 2) : formatReadings(readings, host.things()));
  for (const f of faults) io.err(`fault: ${f}`);
  return errors.length ? 1 : 0;
}

async function run(args: ParsedArgs, io: Io): Promise<number> {
  const config = load(args, io);
  // The daemon never reads YAML again: drop the parser and, when the shebang's --expose-gc
  // is on, collect it now so the agent's modules reuse that heap (peak RSS -1 MiB,
  // bench/rss.ts) instead of growing it.
  releaseConfigParser();
  (globalThis as { gc?: () => void }).gc?.();
  const { buildDrivers, Agent } = stack();
  const log = loggerFor(config, args, io);
  const creds = resolvePassword(config, io.env);
  const { drivers, errors } = buildDrivers(config);
  for (const e of errors) log.error('driver not started', { error: e });
  const agent = new Agent({ config, credentials: creds, drivers, log });
  // Once more before going online: the garbage of loading the agent's modules is collected
  // before the TLS handshake allocates (peak RSS -0.3 MiB, bench/rss.ts).
  (globalThis as { gc?: () => void }).gc?.();
  agent.client.on('state', (state, detail) => log.info(`session ${state}`, detail));
  agent.client.on('error', (err) => log.warn('session error', { code: err.code, error: err.message }));
  await agent.start();
  log.info('xiota running', { jid: config.account.jid, drivers: drivers.length, things: agent.drivers.things().length });
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log.info(`${sig}: stopping`);
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await agent.stop();
  log.info('stopped', { pending: agent.outbox?.pending ?? 0 });
  return 0;
}

export async function main(argv: string[], io: Io = { out: (s) => process.stdout.write(s + '\n'), err: (s) => process.stderr.write(s + '\n'), env: process.env }): Promise<number> {
  // `xiota bridge ...` (firmware-bridge/host/cli.ts) has its own arguments; loaded only here.
  if (argv[0] === 'bridge') return (require('../../firmware-bridge/host/cli') as typeof import('../../firmware-bridge/host/cli')).bridgeMain(argv.slice(1), io);
  // `status`, `set`, `read --follow`: clients of the running daemon's local API (agent/cli/api.ts).
  if (argv[0] === 'status' || argv[0] === 'set' || (argv[0] === 'read' && argv.some((a) => a === '--follow' || a === '-f' || a.startsWith('--socket')))) {
    return (require('./api') as typeof import('./api')).apiMain(argv, io);
  }
  if (argv[0] === 'claim') return (require('./claim') as typeof import('./claim')).claimMain(argv.slice(1), io);
  if (argv[0] === 'logout') return (require('./logout') as typeof import('./logout')).logoutMain(argv.slice(1), io);
  let args: ParsedArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    io.err(`xiota: ${(e as Error).message}`);
    return 2;
  }
  try {
    switch (args.command) {
      case 'help':
        io.out(USAGE);
        return 0;
      case 'version':
        io.out(packageVersion());
        return 0;
      case 'init': {
        const path = args.configPath!;
        try {
          // 'wx': created here or refused, never overwritten (no window between a check and the write).
          writeFileSync(path, starterConfig(), { mode: 0o640, flag: 'wx' });
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'EEXIST') io.err(`xiota: ${path} already exists; not overwriting it (remove it or give another path: xiota init OTHER.yaml)`);
          else if (code === 'ENOENT') io.err(`xiota: cannot write ${path}: its directory does not exist (create it first: mkdir -p ${dirname(path)})`);
          else io.err(`xiota: cannot write ${path}: ${(e as Error).message}`);
          return 2;
        }
        io.out(`wrote ${path}; edit account.jid and the password file, then run: xiota check --config ${path}`);
        return 0;
      }
      case 'check':
        return await check(args, io);
      case 'read':
        return await read(args, io);
      case 'run':
        return await run(args, io);
    }
  } catch (e) {
    const err = e as XiotaError;
    if (err.code === 'XIOTA_E_CONFIG') {
      io.err(`xiota: ${err.message}`);
      return 2;
    }
    io.err(`xiota: ${err.code ? err.code + ': ' : ''}${err.message}`);
    return 1;
  }
  return 2;
}

if (require.main === module) {
  // `xiota read | head`, `xiota bridge pair X | less` quit early: stop quietly rather than
  // crash with an EPIPE stack trace (not for the daemon, whose stdout is its log).
  if (process.argv[2] !== 'run') {
    process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0); else throw e; });
  }
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`xiota: unexpected failure: ${(e as Error).stack ?? e}\n`);
      process.exitCode = 1;
    },
  );
}
