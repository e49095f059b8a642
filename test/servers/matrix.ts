// Server matrix helpers for `*.matrix.test.ts` files: test/run.ts runs each such file once per
// server in XIOTA_SERVERS with XIOTA_SERVER set. A case that cannot apply to a server is
// registered through notOn()/onlyOn(): on the servers it does not apply to it prints
// `[n/a on LABEL: reason]`, which the runner counts in its own "n/a" column, never as a pass.
import type { Test, Callback } from 'uvu';
import { serverUnderTest, splitLabel, type ServerLabel, type ServerKind } from '../../scripts/servers';

/** A server label ('ejabberd-23.01') or a whole kind ('ejabberd': every version). */
export type ServerMatch = ServerLabel | ServerKind;

/** The marker test/run.ts counts; one line per n/a case. */
export const NA_MARKER = /\[n\/a on ([a-z0-9.-]+): ([^\n]*)\]$/gm;

export function matches(label: ServerLabel, which: ServerMatch | readonly ServerMatch[]): boolean {
  const list: readonly ServerMatch[] = Array.isArray(which) ? which : [which as ServerMatch];
  return list.includes(label) || list.includes(splitLabel(label).kind);
}

function notApplicable<T>(test: Test<T>, label: ServerLabel, name: string, reason: string): void {
  if (!reason.trim()) throw new Error(`n/a case "${name}": say why it does not apply to ${label}`);
  test(`${name} [n/a on ${label}]`, () => {
    console.log(`[n/a on ${label}: ${reason}]`);
  });
}

/** Registers `fn` as test `name`, except on `servers`, where the case is n/a for `reason`. */
export function notOn<T>(test: Test<T>, servers: ServerMatch | readonly ServerMatch[], name: string, reason: string, fn: Callback<T>): void {
  const label = serverUnderTest();
  if (matches(label, servers)) notApplicable(test, label, name, reason);
  else test(name, fn);
}

/** Registers `fn` as test `name` only on `servers`; elsewhere the case is n/a for `reason`. */
export function onlyOn<T>(test: Test<T>, servers: ServerMatch | readonly ServerMatch[], name: string, reason: string, fn: Callback<T>): void {
  const label = serverUnderTest();
  if (matches(label, servers)) test(name, fn);
  else notApplicable(test, label, name, reason);
}

/**
 * The servers a slow case runs on in CI: `servers`, or every server when XIOTA_FULL_MATRIX=1
 * (a nightly, or a check before a release). Use with onlyOn() and say why in its reason.
 */
export function withinBudget(servers: readonly ServerMatch[]): readonly ServerMatch[] {
  return process.env.XIOTA_FULL_MATRIX === '1' ? ['prosody', 'ejabberd'] : servers;
}
