import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger } from '../../agent/log';

test('secrets are masked at the sink, undefined fields left out', () => {
  const lines: string[] = [];
  const log = createLogger({ json: true, write: (l) => lines.push(l) });
  log.info('login', { password: 'hunter2', passwordFile: '/etc/x', user: 'dev', condition: undefined });
  const o = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.is(o.password, '[redacted]');
  assert.is(o.user, 'dev');
  assert.not.ok('condition' in o);
  assert.not.match(lines[0]!, /hunter2/);
});

test('text format on a TTY-like sink, level filter', () => {
  const lines: string[] = [];
  const log = createLogger({ json: false, level: 'warn', write: (l) => lines.push(l) });
  log.info('hidden');
  log.warn('shown', { token: 'abc' });
  assert.is(lines.length, 1);
  assert.match(lines[0]!, /warn\s+shown token=\[redacted\]/);
});

test.run();
