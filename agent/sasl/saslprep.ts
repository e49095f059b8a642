// SASLprep (RFC 4013), reduced to what passwords on small devices need. SCRAM hashes the
// normalized password (RFC 5802 2.2), so the client must normalize the same way the server
// did when the password was set, or a password with e.g. a no-break space never matches.
//
// Implemented: the mapping step (RFC 4013 2.1: non-ASCII spaces of RFC 3454 C.1.2 to U+0020,
// "commonly mapped to nothing" of B.1 removed), NFKC normalization (2.2), and refusal of
// ASCII control characters (C.2.1).
// Not implemented (limitation): the other prohibited tables (C.2.2-C.9), the bidi rule (2.5
// / RFC 3454 6) and the unassigned-code-point check (RFC 3454 7). A password using those is
// passed through NFKC unchanged; the server may then refuse it, which shows up as
// not-authorized. ASCII passwords are unaffected by all of this.

import { XiotaError } from '../errors';

// RFC 3454 C.1.2 Non-ASCII space characters.
const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]/g;
// RFC 3454 B.1 Commonly mapped to nothing (U+200B is listed in both tables; B.1 wins, as in libidn).
const MAPPED_TO_NOTHING = /[\u00AD\u034F\u1806\u180B-\u180D\u200B-\u200D\u2060\uFE00-\uFE0F\uFEFF]/g;
// RFC 3454 C.2.1 ASCII control characters.
// eslint-disable-next-line no-control-regex
const ASCII_CONTROL = /[\u0000-\u001F\u007F]/;

export function saslprep(s: string): string {
  const mapped = s.replace(MAPPED_TO_NOTHING, '').replace(NON_ASCII_SPACE, ' ').normalize('NFKC');
  if (ASCII_CONTROL.test(mapped)) {
    throw new XiotaError('XIOTA_E_CONFIG',
      'the password contains a control character, which SASLprep (RFC 4013 2.3) prohibits; set a password without control characters',
      { key: 'password' });
  }
  return mapped;
}
