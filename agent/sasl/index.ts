// SASL for the XMPP client: pure protocol logic, fed by the session layer (RFC 6120 6).
//   const mech = selectMechanism(offeredNames, creds, { secure, allowPlain, hasClientCert, cb: channelBindingFromTls(sock, cbTypes), keyCache });
//   send <auth mechanism=mech.name> with await mech.initialResponse();
//   on <challenge> send <response> with await mech.challenge(data);  on a throw send <abort/>
//   on <success> call mech.success(data) (throws if the server's signature is wrong: drop the connection)
//   on <failure> throw saslFailureMessage(el)

export * from './types';
export { selectMechanism, SUPPORTED_MECHANISMS } from './select';
export { ScramMechanism, escapeSaslname, type ScramOptions } from './scram';
export { PlainMechanism } from './plain';
export { ExternalMechanism } from './external';
export { deriveScramKeys, ScramKeyCache, type DeriveScramKeys, type ScramKeyCacheOptions } from './scram-keys';
export { channelBindingFromTls, chooseChannelBinding, tlsServerEndPoint, type ChannelBindingChoice } from './channel-binding';
export { saslFailureMessage, saslFailureError, NS_SASL } from './failure';
export { saslprep } from './saslprep';
export { ssdpHash, checkSsdp, type AdvertisedSasl } from './ssdp';
export { HtMechanism, chooseHtMechanism, htBindingData } from './ht';
