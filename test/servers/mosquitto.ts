// A throwaway Mosquitto 2.0 broker on 127.0.0.1 (DESIGN.md "Real servers here"): its own
// config, a free port, anonymous access, no persistence, log in its directory.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSelfSignedCert } from '../../scripts/certs';
import { freePort, hasBinary, removeOnExit, spawnGuarded, tail, waitForPort, type GuardedChild } from './process';

export interface MosquittoServer {
  port: number;
  /** PID of the running broker, undefined while stopped. */
  readonly pid: number | undefined;
  dir: string;
  logFile: string;
  /** `mqtt://127.0.0.1:PORT` */
  url: string;
  /** SIGTERM and wait for exit, then remove the directory. */
  stop(): Promise<void>;
  /** SIGKILL (a broker crash) and wait; start() brings it back on the same port. */
  kill(): Promise<void>;
  start(): Promise<void>;
}

export function ensureMosquittoInstalled(): void {
  if (hasBinary('mosquitto')) return;
  throw new Error(`mosquitto is not installed${process.env.CI ? ' (CI: this is a failure, not a skip)' : ''}. Install it with: sudo apt-get install mosquitto`);
}

export async function startMosquitto(opts: { extraConfig?: string } = {}): Promise<MosquittoServer> {
  ensureMosquittoInstalled();
  const dir = mkdtempSync(join(tmpdir(), 'xiota-mosquitto-'));
  removeOnExit(dir);
  const port = await freePort();
  const configFile = join(dir, 'mosquitto.conf');
  const logFile = join(dir, 'mosquitto.log');
  // Logging to stderr (captured into logFile by us): as root, mosquitto drops to the
  // `mosquitto` user and could not write a log file in our directory itself.
  writeFileSync(configFile, [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    opts.extraConfig ?? '',
    '',
  ].join('\n'));
  let proc: GuardedChild | undefined;
  const srv: MosquittoServer = {
    port,
    dir,
    logFile,
    url: `mqtt://127.0.0.1:${port}`,
    get pid() {
      return proc?.isRunning() ? proc.pid : undefined;
    },
    async start() {
      if (proc?.isRunning()) return;
      proc = spawnGuarded('mosquitto', ['-c', configFile], logFile, dir);
      try {
        await waitForPort(port, proc, 'mosquitto', () => tail(logFile));
      } catch (e) {
        await proc.terminate('SIGKILL');
        throw e;
      }
    },
    async kill() {
      await proc?.terminate('SIGKILL');
    },
    async stop() {
      await proc?.terminate('SIGTERM', 5000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await srv.start();
  return srv;
}

export interface MosquittoTls {
  broker: MosquittoServer;
  /** The TLS listener on 127.0.0.1 (the plain one stays at broker.port). */
  tlsPort: number;
  /** The broker's self-signed certificate for `localhost`: the client's CA. */
  caFile: string;
  /** Stops the broker and removes the certificate. */
  stop(): Promise<void>;
}

/** A broker with a TLS listener too, on a throwaway self-signed certificate for `localhost`. */
export async function startMosquittoTls(): Promise<MosquittoTls> {
  const certDir = mkdtempSync(join(tmpdir(), 'xiota-mosquitto-cert-'));
  removeOnExit(certDir);
  const cert = await makeSelfSignedCert(certDir, 'localhost');
  // Mosquitto started as root drops to its own user before it reads the certificate: this
  // throwaway key may be world-readable.
  chmodSync(certDir, 0o755);
  chmodSync(cert.certFile, 0o644);
  chmodSync(cert.keyFile, 0o644);
  const tlsPort = await freePort();
  const broker = await startMosquitto({ extraConfig: [`listener ${tlsPort} 127.0.0.1`, `certfile ${cert.certFile}`, `keyfile ${cert.keyFile}`, 'allow_anonymous true'].join('\n') });
  return {
    broker,
    tlsPort,
    caFile: cert.certFile,
    async stop() {
      await broker.stop();
      rmSync(certDir, { recursive: true, force: true });
    },
  };
}
