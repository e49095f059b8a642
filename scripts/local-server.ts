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
