// The chat interface: plain-text `chat` messages in, answers out, so every XMPP client can
// read and drive the device (Dino, Monal and Conversations have no ad-hoc commands; see
// shared/any-client.md 2 and 6). Grammar in agent/chat/parse.ts, names and values in
// agent/chat/fields.ts, answers in agent/chat/format.ts; this file decides, runs and replies.
//
// - Every command is decided by deps.access.decide (agent/access.ts) before anything is read;
//   a refusal is a short "not authorized", at most one per JID per 30 s, never a value.
// - No answer waits on a driver, the disk or the server beyond `deadlineMs` (2 s): it says
//   so and gives the last value instead; a slow set is reported when it finishes.
// - Commands are rate-limited per bare JID (a flood is dropped, not queued) and answered in
//   order per sender; bodies over 4 KiB are answered "too long" without being parsed.
import type { Value } from '../../drivers/types';
import { roleMay, bareOf, type Action } from '../access';
import type { Access } from '../access-store';
import type { AlertSwitch } from '../alerts/switch';
import type { ChatDevice } from '../chat/device';
import { parseSetValue, pathOf, resolveTarget, describeField, type Target } from '../chat/fields';
import { formatSpan, formatState, historyText, splitMessage, statusText, thingLines, formatValue } from '../chat/format';
import { RateLimit } from '../chat/limits';
import { COMMANDS, commandInfo, parseCommand, shown, type Command } from '../chat/parse';
import type { ModuleContext } from '../module';
import { Element, x } from '../xml/element';

export const NS_RECEIPTS = 'urn:xmpp:receipts';
export const NS_CARBONS = 'urn:xmpp:carbons:2';
export const NS_FORWARD = 'urn:xmpp:forward:0';

export interface ChatDeps {
  device: ChatDevice;
  access: Pick<Access, 'decide' | 'check' | 'allow' | 'deny' | 'revoke' | 'list'>;
  /** The agent's one alert switch (agent/alerts/switch.ts), shared with the alerts and commands modules. */
  alerts: Pick<AlertSwitch, 'alertsOn' | 'setAlerts'>;
  now?: () => number;
  /** How long an answer may wait on a driver, the disk or the server (default 2000 ms). */
  deadlineMs?: number;
  /** Commands per bare JID: a burst, then a steady rate (default 20, then 5/s). */
  rate?: { burst: number; perSecond: number };
  /** Firmware-bridge boards asking to pair (firmware-bridge/host/tofu.ts), when a driver pairs so. */
  bridge?: import('../../firmware-bridge/host/tofu').PairingChat;
}

export const NOT_AUTHORIZED = 'not authorized';

type Raced<T> = { state: 'ok'; value: T } | { state: 'failed'; error: unknown } | { state: 'late' };

/** Settles with the outcome of `p`, or 'late' after `ms` (p keeps running). */
function race<T>(p: Promise<T>, ms: number): Promise<Raced<T>> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve({ state: 'late' }), ms);
    t.unref?.();
    p.then(
      (value) => { clearTimeout(t); resolve({ state: 'ok', value }); },
      (error: unknown) => { clearTimeout(t); resolve({ state: 'failed', error }); },
    );
  });
}

function errText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').slice(0, 300);
}

export function install(m: ModuleContext, deps: ChatDeps): void {
  const now = deps.now ?? Date.now;
  const deadline = deps.deadlineMs ?? 2000;
  const commands = new RateLimit({ burst: deps.rate?.burst ?? 20, perSecond: deps.rate?.perSecond ?? 5, now });
  const refusals = new RateLimit({ burst: 1, perSecond: 1 / 30, now });
  const slowDown = new RateLimit({ burst: 1, perSecond: 1 / 60, now });
  /** Per sender (full JID): the tail of its answer chain, so answers keep the order of questions. */
  const chains = new Map<string, Promise<void>>();
  let closed = false;
  let nextId = 1;
  const idPrefix = `chat-${Math.random().toString(36).slice(2, 7)}-`;

  // XEP-0184 6: a receipt-capable entity advertises the feature.
  m.addFeature(NS_RECEIPTS);
  m.onUnload(() => { closed = true; chains.clear(); });

  const reply = (to: string, type: string, body: string, thread?: Element): void => {
    if (closed) return;
    for (const part of splitMessage(body)) {
      m.send(x('message', { to, type, id: `${idPrefix}${(nextId++).toString(36)}` }, x('body', null, part), thread ? x('thread', { ...thread.attrs }, thread.text()) : null));
    }
  };

  const decide = (jid: string, action: Action): boolean => deps.access.decide(jid, action).allowed;

  /** `asked`: the provisioning server was asked already (its answers are cached). */
  const onMessage = (msg: Element, asked = false): true | undefined => {
    const type = msg.attrs.type ?? 'normal';
    // RFC 6121 5.2.2: only chat and normal messages are conversations; error, groupchat and
    // headline are never answered (an answer to an error could loop).
    if (type !== 'chat' && type !== 'normal') return undefined;
    const from = msg.attrs.from;
    if (!from || !from.includes('@')) return undefined;
    // Our own account (a carbon, another resource of ours): never a command, never a loop.
    if (bareOf(from) === bareOf(m.jid)) return undefined;
    // XEP-0280 carbons and forwarded copies are someone else's conversation.
    if (msg.getChild('received', NS_CARBONS) || msg.getChild('sent', NS_CARBONS) || msg.getChild('forwarded', NS_FORWARD)) return undefined;
    const body = msg.getChild('body')?.text();
    if (body === undefined) return undefined; // chat states, receipts, markers
    const sender = bareOf(from);

    const d = deps.access.decide(from, 'read');
    if (d.delegate && !asked) {
      // XEP-0324: canRead (and canControl for a set) once; the decisions below read the cache.
      const parsed = parseCommand(body);
      const control = parsed.ok && commandInfo(parsed.command.name).action === 'control';
      void deps.access.check(from, 'read')
        .then((g) => (g.allowed && control ? deps.access.check(from, 'control') : g))
        .then(() => onMessage(msg, true), (e: Error) => m.log.error('provisioning question failed', { jid: sender, error: e }));
      return true;
    }
    if (!d.allowed) {
      if (refusals.take(sender)) reply(from, type, NOT_AUTHORIZED);
      return true;
    }
    if (!commands.take(sender)) {
      if (slowDown.take(sender)) reply(from, type, 'too many messages: I answer again in a few seconds');
      return true;
    }
    // XEP-0184 5.1: acknowledge a message that asked for it (only to those who may read:
    // a receipt tells its sender we are online, XEP-0184 Security Considerations).
    const id = msg.attrs.id;
    if (id && msg.getChild('request', NS_RECEIPTS)) m.send(x('message', { to: from, id: `${idPrefix}${(nextId++).toString(36)}` }, x('received', { xmlns: NS_RECEIPTS, id })));

    const thread = msg.getChild('thread');
    const prev = chains.get(from) ?? Promise.resolve();
    const next = prev.then(async () => {
      if (closed) return;
      let answer: string;
      try {
        answer = await run(from, body, (late) => reply(from, type, late, thread));
      } catch (e) {
        m.log.error('chat command failed', { jid: sender, error: e as Error });
        answer = `that failed: ${errText(e)}`;
      }
      if (answer) reply(from, type, answer, thread);
    });
    chains.set(from, next);
    void next.finally(() => { if (chains.get(from) === next) chains.delete(from); });
    return true;
  };
  m.hook('message', (msg) => onMessage(msg));

  /** Runs one command for `jid` and returns the answer; `later` sends a message after the answer. */
  async function run(jid: string, body: string, later: (text: string) => void): Promise<string> {
    const parsed = parseCommand(body);
    if (!parsed.ok) return parsed.unknown !== undefined ? `${parsed.error}. ${shortHelp(jid)}` : parsed.error;
    const cmd = parsed.command;
    const action = commandInfo(cmd.name).action;
    if (!decide(jid, action)) return refusals.take(bareOf(jid)) ? NOT_AUTHORIZED : '';
    m.log.debug('chat command', { jid: bareOf(jid), command: cmd.name });
    return execute(jid, cmd, later);
  }

  /** The commands this JID may run (one decision for the role, the same rule as decide). */
  function allowedCommands(jid: string) {
    const role = deps.access.decide(jid, 'read').role;
    return COMMANDS.filter((c) => roleMay(role, c.action));
  }

  function shortHelp(jid: string): string {
    return `You can type: ${allowedCommands(jid).map((c) => c.name).join(', ')} (\`help\` explains them)`;
  }

  function help(jid: string, topic?: string): string {
    const mine = allowedCommands(jid);
    if (topic) {
      const c = COMMANDS.find((k) => k.name === topic || k.words.includes(topic));
      if (!c) return `no command \`${shown(topic)}\`. ${shortHelp(jid)}`;
      if (!mine.includes(c)) return NOT_AUTHORIZED;
      return `${c.usage}: ${c.summary}${c.name === 'set' ? writableExamples() : ''}`;
    }
    const things = deps.device.things();
    return [
      'Commands (first word is enough, `!` in front is fine):',
      ...mine.map((c) => `${c.usage}: ${c.summary}`),
      things.length ? `Things: ${things.map((t) => t.id).join(', ')}` : 'No things yet.',
    ].join('\n');
  }

  function writableExamples(): string {
    const w = deps.device.things().flatMap((t) => t.fields.filter((f) => f.writable).map((f) => `${pathOf(t, f)} (${describeField(f)})`));
    return w.length ? `\nWritable: ${w.slice(0, 8).join('; ')}` : '\nThis device has no writable fields.';
  }

  async function execute(jid: string, cmd: Command, later: (text: string) => void): Promise<string> {
    switch (cmd.name) {
      case 'help': return help(jid, cmd.topic);
      case 'ping': return 'pong';
      case 'status': return statusText(deps.device.things(), deps.device.latest(), now());
      case 'read': return read(cmd.target);
      case 'set': return set(jid, cmd.target, cmd.value, later);
      case 'history': return history(cmd.target, cmd.count, cmd.durationMs);
      case 'alerts': {
        // Owners (the only ones who may) get alerts unless they said `alerts off`.
        const on = deps.alerts.alertsOn(jid, true);
        if (cmd.on === undefined) return `alerts are ${on ? 'on' : 'off'} for you (type \`alerts ${on ? 'off' : 'on'}\` to change)`;
        const r = await race(deps.alerts.setAlerts(jid, cmd.on), deadline);
        if (r.state === 'late') return `alerts ${cmd.on ? 'on' : 'off'}: saving is slow, it will apply when the disk answers`;
        if (r.state === 'failed') return `could not save that: ${errText(r.error)}`;
        return `alerts are now ${cmd.on ? 'on' : 'off'} for you`;
      }
      case 'allow':
      case 'deny':
      case 'revoke': return admin(jid, cmd);
      case 'who': return who();
      case 'bridge': {
        const b = deps.bridge;
        if (!b) return 'no bridge driver here pairs by trust on first use (options: pairing: tofu)';
        return cmd.verb === 'pending' ? b.pending() : cmd.verb === 'approve' ? b.approve(cmd.board!) : b.deny(cmd.board!);
      }
    }
  }

  async function read(target?: string): Promise<string> {
    const things = deps.device.things();
    let hit: Target | undefined;
    if (target !== undefined) {
      const r = resolveTarget(things, target);
      if (typeof r === 'string') return r;
      hit = r;
    }
    const fresh = await race(deps.device.readFresh(hit?.thing.id ?? ''), deadline);
    const state = deps.device.latest();
    const late = fresh.state !== 'late' ? '' : `the sensor did not answer within ${formatSpan(deadline)}; last value`;
    if (!hit) {
      const text = statusText(things, state, now());
      return fresh.state !== 'late' ? text : `the sensors did not answer within ${formatSpan(deadline)}; last values:\n${text}`;
    }
    if (hit.field) {
      const st = state(hit.thing.id, hit.field.name);
      const line = formatState(st, hit.field, now());
      return late ? `${pathOf(hit.thing, hit.field)}: ${late}: ${line}` : `${pathOf(hit.thing, hit.field)}: ${line}`;
    }
    const lines = thingLines(hit.thing, state, now()).join('\n');
    return late ? `${late}s:\n${lines}` : lines;
  }

  async function set(jid: string, target: string, text: string, later: (text: string) => void): Promise<string> {
    const hit = resolveTarget(deps.device.things(), target, true);
    if (typeof hit === 'string') return hit;
    const f = hit.field!;
    const path = pathOf(hit.thing, f);
    const v = parseSetValue(hit.thing, f, text);
    if (!v.ok) return v.error;
    const before = deps.device.latest()(hit.thing.id, f.name);
    const t0 = now();
    m.log.info('chat set', { jid: bareOf(jid), thing: hit.thing.id, field: f.name });
    const p = deps.device.set(hit.thing.id, f.name, v.value, jid);
    const r = await race(p, deadline);
    if (r.state === 'late') {
      p.then(
        () => later(`${path} is now ${formatValue(v.value, f)} (the device took ${formatSpan(now() - t0)})`),
        (e: unknown) => later(`could not set ${path}: ${errText(e)}`),
      );
      return `${path}: the device has not confirmed within ${formatSpan(deadline)}; I will tell you when it does`;
    }
    if (r.state === 'failed') return `could not set ${path}: ${errText(r.error)}`;
    // Echo what the device reports now when it answers quickly, else what it accepted.
    await race(deps.device.readFresh(hit.thing.id), Math.max(0, deadline - (now() - t0)));
    const after = deps.device.latest()(hit.thing.id, f.name);
    const shownValue = after && after.timestamp >= t0 && after.value !== undefined ? after.value : v.value;
    const was = before?.value !== undefined && before.value !== shownValue ? ` (was ${formatValue(before.value, f)})` : '';
    return `${path} is now ${formatValue(shownValue as Value, f)}${was}`;
  }

  async function history(target: string, count?: number, durationMs?: number): Promise<string> {
    const hit = resolveTarget(deps.device.things(), target, true);
    if (typeof hit === 'string') return hit;
    const f = hit.field!;
    const window = durationMs !== undefined ? { sinceMs: now() - durationMs } : { count: count ?? 10 };
    const r = await race(deps.device.history(hit.thing.id, f.name, window), deadline);
    if (r.state === 'late') return `the history did not arrive within ${formatSpan(deadline)}; try again, or ask for fewer (\`history ${pathOf(hit.thing, f)} 5\`)`;
    if (r.state === 'failed') return `could not get the history of ${pathOf(hit.thing, f)}: ${errText(r.error)}`;
    const words = durationMs !== undefined ? `in the last ${formatSpan(durationMs)}` : `(newest first)`;
    return historyText(pathOf(hit.thing, f), f, r.value, now(), words);
  }

  async function admin(jid: string, cmd: Extract<Command, { name: 'allow' | 'deny' | 'revoke' }>): Promise<string> {
    const by = bareOf(jid);
    const p = cmd.name === 'allow' ? deps.access.allow(cmd.jid, cmd.role, by)
      : cmd.name === 'deny' ? deps.access.deny(cmd.jid, by) : deps.access.revoke(cmd.jid, by);
    const r = await race(p, deadline);
    if (r.state === 'late') return `${cmd.name} ${cmd.jid}: saving is slow; it applies when the disk answers`;
    if (r.state === 'failed') return `could not ${cmd.name} ${cmd.jid}: ${errText(r.error)}`;
    const role = deps.access.decide(cmd.jid, 'read').role;
    if (cmd.name === 'allow') return `${cmd.jid} is now a ${cmd.role}${role !== cmd.role ? ` (their role: ${role})` : ''}`;
    if (cmd.name === 'deny') return `${cmd.jid} is refused${role !== 'stranger' ? ` (still ${role}: owners are set in the config file)` : ''}`;
    return `${cmd.jid}: what they were given is taken back (now: ${role})`;
  }

  function who(): string {
    const entries = deps.access.list();
    if (!entries.length) return 'nobody is on the access list';
    const groups: [string, string[]][] = [['owners', []], ['owners of single things', []], ['controllers', []], ['readers', []], ['refused', []], ['waiting for an answer', []]];
    const at = (name: string) => groups.find((g) => g[0] === name)![1];
    for (const e of entries) {
      const tag = e.source === 'allowed' ? ' (allowed by chat)' : '';
      if (e.source === 'thing-claim') at('owners of single things').push(`${e.jid} (${(e.things ?? []).join(', ')})`);
      else if (e.source === 'denied') at('refused').push(e.jid);
      else if (e.source === 'pending') at('waiting for an answer').push(`${e.jid} (type \`allow ${e.jid}\` or \`deny ${e.jid}\`)`);
      else at(e.role === 'owner' ? 'owners' : e.role === 'controller' ? 'controllers' : 'readers').push(e.jid + tag);
    }
    return groups.filter((g) => g[1].length).map(([name, list]) => `${name}: ${list.join(', ')}`).join('\n');
  }
}
