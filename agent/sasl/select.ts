// Picks the SASL mechanism from the server's <mechanisms/> (RFC 6120 6.4.1) and builds it.
//
// Order: EXTERNAL first when a client certificate is configured (the operator chose it),
// then SCRAM-SHA-256-PLUS > SCRAM-SHA-1-PLUS > SCRAM-SHA-256 > SCRAM-SHA-1 > PLAIN.
// PLAIN only inside TLS and only when allow_plain is set (RFC 6120 13.8). When nothing fits,
// the error names every offered mechanism and why it was not used.

import { XiotaError } from '../errors';
import { chooseChannelBinding, type ChannelBindingChoice } from './channel-binding';
import { ExternalMechanism } from './external';
import { PlainMechanism } from './plain';
import { ScramMechanism } from './scram';
import type { Credentials, MechanismContext, SaslMechanism, ScramHash } from './types';

export const SUPPORTED_MECHANISMS = ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'EXTERNAL', 'PLAIN'] as const;

const SCRAM_RE = /^SCRAM-(SHA-1|SHA-256)(-PLUS)?$/;

export function selectMechanism(offered: string[], creds: Credentials, ctx: MechanismContext): SaslMechanism {
  const offer = offered.map((m) => m.trim().toUpperCase()).filter((m) => m.length > 0);
  const serverOffersPlus = offer.some((m) => /^SCRAM-.*-PLUS$/.test(m));
  const cb = chooseChannelBinding(ctx.secure, serverOffersPlus, ctx.cb);
  if (cb.abort) {
    throw new XiotaError('XIOTA_E_SASL_MECH', `refusing to authenticate: ${cb.abort}; check the network path to the server`,
      { offered: offer, serverCbTypes: ctx.cb.serverCbTypes });
  }

  let order: string[];
  if (ctx.preferred && ctx.preferred.length > 0) {
    order = ctx.preferred.map((m) => m.trim().toUpperCase());
  } else {
    order = [...SUPPORTED_MECHANISMS].filter((m) => m !== 'EXTERNAL');
    if (ctx.hasClientCert) order.unshift('EXTERNAL');
    else order.splice(order.indexOf('PLAIN'), 0, 'EXTERNAL');
  }

  const reasons: Record<string, string> = {};
  for (const name of order) {
    if (!offer.includes(name)) continue;
    const built = build(name, creds, ctx, cb);
    if (typeof built !== 'string') return built;
    reasons[name] = built;
  }
  for (const name of offer) {
    if (reasons[name] !== undefined) continue;
    reasons[name] = (SUPPORTED_MECHANISMS as readonly string[]).includes(name) ? 'excluded by the configured mechanism list' : 'not supported by xiota';
  }

  const why = offer.length === 0
    ? 'the server offers no SASL mechanisms'
    : offer.length === 1
      ? `the server offers only ${offer[0]}, and ${reasons[offer[0]!]}`
      : `the server offers ${offer.join(', ')}; ` + offer.map((m) => `${m}: ${reasons[m]}`).join('; ');
  throw new XiotaError('XIOTA_E_SASL_MECH', `no usable SASL mechanism: ${why}`, { offered: offer, reasons });
}

/** The mechanism, or why it cannot be used here. */
function build(name: string, creds: Credentials, ctx: MechanismContext, cb: ChannelBindingChoice): SaslMechanism | string {
  const scram = SCRAM_RE.exec(name);
  if (scram) {
    const hash = scram[1] as ScramHash;
    const plus = scram[2] !== undefined;
    const configKeys = creds.scramKeys?.filter((k) => k.hash === hash);
    if (creds.password === undefined && !configKeys?.length) return `no password and no ${hash} keys configured`;
    if (plus && !ctx.secure) return 'the connection is not encrypted, so there is no channel to bind';
    if (plus && cb.flag !== 'p') return 'no channel binding type usable on this connection';
    // Not binding while the server offers -PLUS: flag 'n' (never 'y', RFC 5802 6).
    const choice: ChannelBindingChoice = plus ? cb : cb.flag === 'p' ? { flag: 'n' } : cb;
    return new ScramMechanism({
      hash, plus, username: creds.username, password: creds.password, configKeys, authzid: creds.authzid,
      cb: choice, keyCache: ctx.keyCache, maxIterations: ctx.maxIterations, log: ctx.log, advertised: ctx.advertised,
    });
  }
  if (name === 'EXTERNAL') {
    if (!ctx.hasClientCert) return 'no client certificate configured';
    if (!ctx.secure) return 'the connection is not encrypted, so no certificate was presented';
    return new ExternalMechanism(creds.authzid);
  }
  if (name === 'PLAIN') {
    if (!ctx.secure) return 'the connection is not encrypted (PLAIN would send the password in the clear)';
    if (!ctx.allowPlain) return 'PLAIN is offered but allow_plain is false; set allow_plain: true to use it over TLS, or enable SCRAM on the server';
    if (creds.password === undefined) return 'PLAIN needs the password, and only SCRAM keys are configured';
    return new PlainMechanism(creds.username, creds.password, creds.authzid);
  }
  return 'not supported by xiota';
}
