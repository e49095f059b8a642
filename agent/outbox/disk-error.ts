// Turns a failed file operation into an XiotaError that names the file, the errno and what an
// operator can do about it. SD cards fail in recognisable ways: full (ENOSPC), worn out
// (EIO), or remounted read-only by the kernel after errors (EROFS).
import { XiotaError, isXiotaError } from '../errors';

const HINTS: Record<string, string> = {
  ENOSPC: 'the filesystem is full: free space on it or lower outbox.maxBytes',
  EDQUOT: 'the disk quota is used up: raise it or lower outbox.maxBytes',
  EIO: 'the storage device reported an I/O error: check the SD card or disk (dmesg), it may be failing',
  EROFS: 'the filesystem is read-only (the kernel remounts a failing SD card read-only): check dmesg, fsck it',
  EACCES: 'permission denied: give the xiota user write access to the outbox directory',
  EPERM: 'operation not permitted: give the xiota user write access to the outbox directory',
  ENOENT: 'the outbox directory or file disappeared: check that nothing else deletes it',
  EMFILE: 'too many open files: raise the open-file limit (LimitNOFILE in the systemd unit)',
};

export function errnoOf(e: unknown): string {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'EUNKNOWN';
}

export function diskError(e: unknown, path: string, op: 'open' | 'write' | 'read', memoryMaxBytes: number): XiotaError {
  if (isXiotaError(e)) return e;
  const errno = errnoOf(e);
  const hint = HINTS[errno] ?? 'check the disk and the outbox directory';
  const held = op === 'write'
    ? ` Readings are held in memory meanwhile (up to ${memoryMaxBytes} bytes, oldest dropped first) and still published; writing to disk resumes by itself when it works again.`
    : '';
  return new XiotaError(
    'XIOTA_E_OUTBOX',
    `outbox cannot ${op} ${path}: ${errno}: ${hint}.${held}`,
    { path, errno, op, heldInMemory: op === 'write' },
    { cause: e },
  );
}
