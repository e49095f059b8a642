// A minimal, honest XMPP server conversation for the hostile-server fixture: stream open,
// STARTTLS when the connection is not yet TLS (RFC 6120 5), SASL PLAIN (RFC 6120 6, RFC
// 4616) and resource binding (RFC 6120 7). After playXmppUntilBound() the script owns the
// wire and can send whatever hostile bytes its test is about. Regexes, not a parser: the
// client under test is ours and well-formed; this is a fixture, not a server.
import { randomBytes } from 'node:crypto';
import type { HostileConn } from './hostile';

export const NS = {
  client: 'jabber:client',
  stream: 'http://etherx.jabber.org/streams',
  tls: 'urn:ietf:params:xml:ns:xmpp-tls',
  sasl: 'urn:ietf:params:xml:ns:xmpp-sasl',
  bind: 'urn:ietf:params:xml:ns:xmpp-bind',
  sm: 'urn:xmpp:sm:3',
} as const;

const STREAM_OPEN = /<stream:stream\b[^>]*>/;

export function streamHeader(domain: string, id = randomBytes(8).toString('hex')): string {
  return `<?xml version='1.0'?><stream:stream xmlns='${NS.client}' xmlns:stream='${NS.stream}' from='${domain}' id='${id}' version='1.0' xml:lang='en'>`;
}

/** Wait for the client's stream header, answer with ours and `<stream:features>` holding `features`. */
export async function acceptStream(conn: HostileConn, domain: string, features: string): Promise<string> {
  const header = await conn.readUntil(STREAM_OPEN);
  await conn.write(`${streamHeader(domain)}<stream:features>${features}</stream:features>`);
  return header;
}

/** RFC 6120 5.4.2: offer mandatory STARTTLS, answer `<proceed/>`, then run the TLS handshake. */
export async function negotiateStartTls(conn: HostileConn, domain: string): Promise<void> {
  await acceptStream(conn, domain, `<starttls xmlns='${NS.tls}'><required/></starttls>`);
  await conn.readUntil(/<starttls\b[^>]*(\/>|>[\s\S]*?<\/starttls>)/);
  await conn.write(`<proceed xmlns='${NS.tls}'/>`);
  await conn.startTls();
}

export interface FakeXmppOptions {
  domain: string;
  /** Offer STARTTLS first when the connection is plain (default true). */
  starttls?: boolean;
  /** Mechanisms listed in the features (default ['PLAIN']); only PLAIN is checked. */
  mechanisms?: string[];
  /** Decide on PLAIN credentials (default: accept any). */
  checkCredentials?: (user: string, password: string) => boolean;
  /** Extra children for the post-auth features (e.g. `<sm xmlns='urn:xmpp:sm:3'/>`). */
  extraFeatures?: string;
}

export interface BoundSession {
  user: string;
  password: string;
  resource: string;
  jid: string;
}

const attr = (tag: string, name: string): string | undefined =>
  new RegExp(`\\s${name}=(?:'([^']*)'|"([^"]*)")`).exec(tag)?.slice(1).find((v) => v !== undefined);

/** Play the server from the first byte to a bound resource; returns who logged in. */
export async function playXmppUntilBound(conn: HostileConn, opts: FakeXmppOptions): Promise<BoundSession> {
  const { user, password } = await playXmppUntilAuthenticated(conn, opts);
  const { domain } = opts;
  // RFC 6120 6.4.6: the client restarts the stream after success.
  await acceptStream(conn, domain, `<bind xmlns='${NS.bind}'/>${opts.extraFeatures ?? ''}`);
  const iq = await conn.readUntil(/<iq\b[^>]*(\/>|>[\s\S]*?<\/iq>)/);
  const id = attr(iq, 'id') ?? '';
  const resource = /<resource>([^<]*)<\/resource>/.exec(iq)?.[1] || `fake-${randomBytes(3).toString('hex')}`;
  const jid = `${user}@${domain}/${resource}`;
  await conn.write(`<iq type='result' id='${id}'><bind xmlns='${NS.bind}'><jid>${jid}</jid></bind></iq>`);
  return { user, password, resource, jid };
}

/** playXmppUntilBound offering XEP-0198, then enables it (resumable, with this id). */
export async function playXmppUntilSmEnabled(conn: HostileConn, opts: FakeXmppOptions, smId = 'sm-1'): Promise<BoundSession> {
  const bound = await playXmppUntilBound(conn, { ...opts, extraFeatures: `<sm xmlns='${NS.sm}'/>${opts.extraFeatures ?? ''}` });
  await conn.readUntil(/<enable\b[^>]*\/>/);
  await conn.write(`<enabled xmlns='${NS.sm}' id='${smId}' resume='true'/>`);
  return bound;
}

/** Play the server from the first byte to SASL success (the client restarts its stream next). */
export async function playXmppUntilAuthenticated(conn: HostileConn, opts: FakeXmppOptions): Promise<{ user: string; password: string }> {
  const { domain } = opts;
  if (!conn.tls && (opts.starttls ?? true)) await negotiateStartTls(conn, domain);
  const mechs = (opts.mechanisms ?? ['PLAIN']).map((m) => `<mechanism>${m}</mechanism>`).join('');
  await acceptStream(conn, domain, `<mechanisms xmlns='${NS.sasl}'>${mechs}</mechanisms>`);

  let user = '';
  let password = '';
  for (let attempt = 1; ; attempt++) {
    const auth = await conn.readUntil(/<auth\b[^>]*(\/>|>[\s\S]*?<\/auth>)/);
    const mechanism = attr(auth, 'mechanism');
    const payload = /<auth\b[^>]*>([\s\S]*?)<\/auth>/.exec(auth)?.[1]?.trim() ?? '';
    if (mechanism === 'PLAIN') {
      // RFC 4616 2: [authzid] NUL authcid NUL passwd
      const parts = Buffer.from(payload, 'base64').toString('utf8').split('\0');
      if (parts.length === 3) [, user, password] = parts;
      if (parts.length === 3 && (opts.checkCredentials?.(user, password) ?? true)) break;
    }
    await conn.write(`<failure xmlns='${NS.sasl}'><not-authorized/></failure>`);
    if (attempt >= 3) throw new Error(`fake XMPP: authentication failed (${mechanism ?? 'no mechanism'})`);
  }
  await conn.write(`<success xmlns='${NS.sasl}'/>`);
  return { user, password };
}
