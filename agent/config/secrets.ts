// Where the account's secret comes from. The config names a place (a file, a variable), not
// the secret itself where possible; this module reads it at the last moment. No message made
// here ever contains the secret, only the key and the place it was looked for.
import { readFileSync, statSync } from 'node:fs';
import { XiotaError } from '../errors';
import type { Config, ConfigIssue, ScramKeys } from './types';

export type CredentialSource = 'password_file' | 'password_env' | 'password' | 'scram_keys' | 'client_cert' | 'XIOTA_PASSWORD';

export interface ResolvedCredentials {
  /** The password, when one is configured. */
  password?: string;
  /** Derived keys (RFC 5802 3), usable when the server's salt and iterations match. */
  scramKeys?: ScramKeys[];
  /** Where the secret came from (never the secret). */
  source: CredentialSource;
  warnings: ConfigIssue[];
}

/**
 * `${VAR}` expansion, so a systemd unit can say
 * `password_file: ${CREDENTIALS_DIRECTORY}/password` next to `LoadCredential=password:...`.
 */
export function expandEnv(s: string, env: NodeJS.ProcessEnv, key: string): string {
  // `${VAR:-fallback}` as in the shell: the starter uses it so one config works both under
  // systemd (credentials directory) and when run by hand (/etc/xiota).
  return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, fallback: string | undefined) => {
    const v = env[name];
    if (v === undefined || v === '') {
      if (fallback !== undefined) return fallback;
      const hint = name === 'CREDENTIALS_DIRECTORY' ? ' (systemd sets it for units with LoadCredential=; outside systemd give the file path itself)' : '';
      throw new XiotaError('XIOTA_E_CONFIG', `${key}: \${${name}} is not set in the environment${hint}`, { key, variable: name });
    }
    return v;
  });
}

function readPasswordFile(template: string, env: NodeJS.ProcessEnv, warnings: ConfigIssue[]): string {
  const key = 'account.password_file';
  const path = expandEnv(template, env, key);
  let text: string;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new XiotaError('XIOTA_E_CONFIG', `${key}: ${path} is not a regular file`, { key, path });
    // Group- or world-readable secrets are readable by other local users and processes.
    if ((st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      warnings.push({ path: key, message: `${path} is readable by group or others (mode ${mode}); run chmod 600 ${path}` });
    }
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof XiotaError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? `${path} does not exist; write the password into it (chmod 600), or use password_env`
      : code === 'EACCES' ? `${path} is not readable by this user; check its owner and mode`
      : `cannot read ${path} (${code ?? 'error'})`;
    throw new XiotaError('XIOTA_E_CONFIG', `${key}: ${what}`, { key, path, errno: code });
  }
  // Editors and `echo` add one trailing newline; anything else is part of the password.
  const password = text.replace(/\r?\n$/, '');
  if (password === '') throw new XiotaError('XIOTA_E_CONFIG', `${key}: ${path} is empty; write the password into it`, { key, path });
  return password;
}

function readEnv(name: string, env: NodeJS.ProcessEnv, key: string): string {
  const v = env[name];
  if (v === undefined || v === '') {
    throw new XiotaError('XIOTA_E_CONFIG', `${key}: the environment variable ${name} is not set; export it or use password_file`, { key, variable: name });
  }
  return v;
}

/**
 * The account's secret: password_file, then password_env, then an inline password, then
 * scram_keys alone, then a client certificate (SASL EXTERNAL), then XIOTA_PASSWORD.
 * Throws XIOTA_E_CONFIG naming the key and what to do when nothing gives one.
 */
export function resolvePassword(config: Config, env: NodeJS.ProcessEnv = process.env): ResolvedCredentials {
  const a = config.account;
  const warnings: ConfigIssue[] = [];
  const withKeys = (r: Omit<ResolvedCredentials, 'warnings' | 'scramKeys'>): ResolvedCredentials =>
    a.scramKeys ? { ...r, scramKeys: a.scramKeys, warnings } : { ...r, warnings };
  if (a.passwordFile !== undefined) return withKeys({ password: readPasswordFile(a.passwordFile, env, warnings), source: 'password_file' });
  if (a.passwordEnv !== undefined) return withKeys({ password: readEnv(a.passwordEnv, env, 'account.password_env'), source: 'password_env' });
  if (a.password !== undefined) return withKeys({ password: a.password, source: 'password' });
  if (a.scramKeys) return { scramKeys: a.scramKeys, source: 'scram_keys', warnings };
  if (config.tls.clientCert !== undefined) return { source: 'client_cert', warnings };
  const fromEnv = env.XIOTA_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== '') return { password: fromEnv, source: 'XIOTA_PASSWORD', warnings };
  throw new XiotaError(
    'XIOTA_E_CONFIG',
    'account: no password configured; set account.password_file (a file holding only the password, mode 600), account.password_env, or the XIOTA_PASSWORD environment variable',
    { key: 'account.password_file' },
  );
}
