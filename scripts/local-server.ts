// What every throwaway local XMPP server of the harness offers (Prosody and ejabberd alike):
// ports, certificate, files and lifecycle. scripts/servers.ts adds the label on top.

export interface LocalServer {
  host: string;
  c2sPort: number;
  /** XEP-0368 direct TLS. */
  directTlsPort: number;
  caFile: string;
  certFile: string;
  keyFile: string;
  spkiSha256: string;
  dir: string;
  configFile: string;
  logFile: string;
  /** PID of the running server process (prosody, or ejabberd's beam.smp), undefined while stopped. */
  readonly pid: number | undefined;
  register(user: string, password: string): Promise<void>;
  /** Clean shutdown (SIGTERM), wait for exit; SIGKILL after a grace period. */
  stop(): Promise<void>;
  /** SIGKILL (a crash), wait for exit. */
  kill(): Promise<void>;
  /** (Re)start on the same ports and data; resolves once the server accepts. */
  start(): Promise<void>;
  /** Stop, then remove the directory. */
  cleanup(): Promise<void>;
}

/** Registers `users` on a started server; on a failure the server is stopped and the error rethrown. */
export async function registerAll(srv: LocalServer, users: { user: string; password: string }[] = []): Promise<void> {
  try {
    for (const u of users) await srv.register(u.user, u.password);
  } catch (e) {
    await srv.stop();
    throw e;
  }
}

/** The scripts' `main`: prints the server's details as JSON, keeps it until Ctrl-C or SIGTERM, then cleans up. */
export function serveUntilSignal(srv: LocalServer, details: Record<string, unknown>, accounts: { user: string; password: string }[]): void {
  console.log(JSON.stringify({
    ...details, host: srv.host, c2sPort: srv.c2sPort, directTlsPort: srv.directTlsPort, caFile: srv.caFile,
    spkiSha256: srv.spkiSha256, dir: srv.dir, logFile: srv.logFile, pid: srv.pid,
    accounts: accounts.map((a) => ({ jid: `${a.user}@${srv.host}`, password: a.password })),
  }, null, 2));
  console.log('Ctrl-C to stop.');
  // The server child is unref'd by design; this keeps us alive until a signal.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const quit = () => { clearInterval(keepAlive); void srv.cleanup().then(() => process.exit(0)); };
  process.once('SIGINT', quit);
  process.once('SIGTERM', quit);
}
