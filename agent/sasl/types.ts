// The shapes the SASL layer shares with the session layer. SASL here is pure protocol logic:
// the session feeds in what the server sent (already base64-decoded, RFC 6120 6.4.2) and
// sends what a mechanism returns. No sockets, no timers.

import type { Logger } from '../log';
import type { AdvertisedSasl } from './ssdp';

export type ScramHash = 'SHA-1' | 'SHA-256';

/**
 * Salted-password-derived SCRAM keys (RFC 5802 3): ClientKey = HMAC(SaltedPassword, "Client Key"),
 * ServerKey = HMAC(SaltedPassword, "Server Key"). They authenticate like the password, but only
 * for this salt and iteration count, and do not reveal the password itself.
 */
export interface ScramKeys {
  hash: ScramHash;
  /** base64, exactly as the server sent it in s= */
  salt: string;
  iterations: number;
  /** base64 */
  clientKey: string;
  /** base64 */
  serverKey: string;
}

export interface Credentials {
  /** The JID's localpart (authcid). Not needed for EXTERNAL. */
  username: string;
  password?: string;
  /** Keys from the config, used instead of a password when salt and iterations match the server's. */
  scramKeys?: ScramKeys[];
  /** Authorization identity; normally left out (RFC 6120 6.3.8). */
  authzid?: string;
}

/** The TLS channel's binding data, as the session read it from the socket (see channelBindingFromTls). */
export interface ChannelBindingInfo {
  /** tlsSocket.getProtocol(): 'TLSv1.2' | 'TLSv1.3' */
  tlsVersion?: string;
  /** RFC 5929 3: tlsSocket.getFinished() on the client. Defined for TLS <= 1.2 only. */
  tlsUnique?: Buffer;
  /** RFC 9266: exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', empty). Used on TLS 1.3 only. */
  tlsExporter?: Buffer;
  /** RFC 5929 4: hash of the server certificate. */
  tlsServerEndPoint?: Buffer;
  /** XEP-0440 <sasl-channel-binding/> types the server advertised; undefined = feature absent. */
  serverCbTypes?: string[];
}

export type ChannelBindingType = 'tls-exporter' | 'tls-unique' | 'tls-server-end-point';

export interface MechanismContext {
  /** The stream is inside TLS (STARTTLS done or direct TLS). */
  secure: boolean;
  /** Config allow_plain: PLAIN may be used (still only when secure). */
  allowPlain: boolean;
  /** A client certificate was presented in the TLS handshake. */
  hasClientCert: boolean;
  cb: ChannelBindingInfo;
  /** Shared across reconnects so SCRAM keys are derived once (RFC 5802 3 allows caching them). */
  keyCache?: ScramKeyCacheLike;
  /** Config: only these mechanisms, in this order of preference. */
  preferred?: string[];
  /** The mechanism list and XEP-0440 types as advertised, for XEP-0474 downgrade protection. */
  advertised?: AdvertisedSasl;
  /** Refuse servers asking for more PBKDF2 iterations than this (CPU on a small board). Default 1,000,000. */
  maxIterations?: number;
  log?: Logger;
}

export interface SaslMechanism {
  readonly name: string;
  /**
   * Data for <auth/>. null = no initial response; a zero-length Buffer must be sent as "="
   * (RFC 6120 6.4.2).
   */
  initialResponse(): Promise<Buffer | null>;
  /** Answer to a <challenge/>. Throws XiotaError; the session then sends <abort/> (RFC 6120 6.4.4). */
  challenge(data: Buffer): Promise<Buffer>;
  /**
   * <success/> arrived, with its additional data (null when empty). For SCRAM, throws
   * XIOTA_E_SASL_SERVER_SIGNATURE unless the server proved it knows the keys (RFC 5802 5.1 v=);
   * the session must then drop the connection.
   */
  success(additionalData: Buffer | null): void;
}

/** What the mechanisms need from a key cache (ScramKeyCache implements it). */
export interface ScramKeyCacheLike {
  getOrDerive(hash: ScramHash, password: string, salt: Buffer, iterations: number): Promise<ScramKeys>;
}
