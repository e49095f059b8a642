// Every failure the agent reports carries a stable code (undici style) so callers and
// operators branch on the code, and a message that says what was wrong and what to do.

export type ErrorCode =
  | 'XIOTA_E_CONFIG'
  | 'XIOTA_E_CONNECT'
  | 'XIOTA_E_DNS'
  | 'XIOTA_E_TIMEOUT'
  | 'XIOTA_E_TLS_CERT'
  | 'XIOTA_E_TLS_PIN'
  | 'XIOTA_E_TLS_REQUIRED'
  | 'XIOTA_E_SASL_AUTH'
  | 'XIOTA_E_SASL_MECH'
  | 'XIOTA_E_SASL_SERVER_SIGNATURE'
  | 'XIOTA_E_STREAM'
  | 'XIOTA_E_XML'
  | 'XIOTA_E_BIND'
  | 'XIOTA_E_STANZA'
  | 'XIOTA_E_DISCONNECTED'
  | 'XIOTA_E_OUTBOX'
  | 'XIOTA_E_DRIVER'
  | 'XIOTA_E_PUBSUB'
  /** Another entity answered our request with an error (detail: jid, condition, text). */
  | 'XIOTA_E_REMOTE'
  /** A caller's argument was wrong (detail: field). */
  | 'XIOTA_E_INVALID';

export class XiotaError extends Error {
  readonly code: ErrorCode;
  /** Extra machine-readable detail (a stream error condition, a config key...). */
  readonly detail: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, detail: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'XiotaError';
    this.code = code;
    this.detail = detail;
  }
}

export function isXiotaError(e: unknown, code?: ErrorCode): e is XiotaError {
  return e instanceof XiotaError && (code === undefined || e.code === code);
}
