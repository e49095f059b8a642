// Turns a SASL <failure/> (RFC 6120 6.5) into an XiotaError an operator can act on.

import { XiotaError } from '../errors';
import type { Element } from '../xml/element';

export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';

// RFC 6120 6.5.1-6.5.11, with what to do about each.
const ADVICE: Record<string, string> = {
  'aborted': 'the exchange was aborted; it is retried on the next connection',
  'account-disabled': 'the account is disabled on the server; ask the server admin to enable it',
  'credentials-expired': 'the password has expired; set a new one on the server and in the config',
  'encryption-required': 'the server requires encryption for this mechanism; use TLS',
  'incorrect-encoding': 'the server could not decode our data (a client bug); report it',
  'invalid-authzid': 'the authorization identity is not allowed; remove authzid from the config',
  'invalid-mechanism': 'the server does not support the chosen mechanism; restrict the mechanism list in the config',
  'malformed-request': 'the server rejected the request as malformed (channel binding not accepted, or a client bug); report it',
  'mechanism-too-weak': 'the server requires a stronger mechanism; allow SCRAM or EXTERNAL',
  'not-authorized': 'check the JID and password (or the SCRAM keys / client certificate) in the config',
  'temporary-auth-failure': 'a temporary problem on the server; it is retried later',
};

/** Conditions after which retrying with the same credentials can succeed. */
const TRANSIENT = new Set(['aborted', 'temporary-auth-failure']);

/**
 * XIOTA_E_SASL_AUTH with detail { condition, text?, transient }. An unknown or missing
 * condition is reported as 'not-authorized' (RFC 6120 6.5: a client treats unknown
 * conditions as generic failures), keeping the raw name in detail.rawCondition.
 */
export function saslFailureMessage(failureEl: Element, mechanism?: string): XiotaError {
  let raw: string | undefined;
  for (const c of failureEl.elements) {
    if (c.name !== 'text') { raw = c.name; break; }
  }
  const condition = raw !== undefined && ADVICE[raw] !== undefined ? raw : 'not-authorized';
  const text = failureEl.getChildText('text')?.trim() || undefined;
  const msg = `${mechanism ? mechanism + ' ' : ''}authentication failed (${raw ?? 'no condition'}${text ? `: ${text}` : ''}): ${ADVICE[condition]}`;
  return new XiotaError('XIOTA_E_SASL_AUTH', msg, {
    condition, text, mechanism, transient: TRANSIENT.has(condition), ...(raw !== condition ? { rawCondition: raw } : {}),
  });
}

/** Same as saslFailureMessage (the name the session layer uses). */
export const saslFailureError = saslFailureMessage;
