// XEP-0050 ad-hoc commands, the responder: a registry of commands, each with the access action
// it needs, run in sessions of one or more form stages. Generic: the device's own commands
// (status, read, set, alerts, access) live in agent/commands/ and are plain `Command` values.
//
// Tolerant of what real clients send (shared/any-client.md 1): a submit with no `action`,
// with `execute`, `next` or `complete` is a submit of the current stage; echoed fixed fields,
// <instructions>, <validate> and unknown vars are ignored (a stage may refuse unknown vars);
// a form that fails validation comes back with the message in <instructions> and in a fixed
// field with its own var (poezio shows no instructions, and merges var-less fixed fields).
import { randomBytes } from 'node:crypto';
import { roleMay, type Action, type Role } from '../access';
import type { Access } from '../access-store';
import type { ModuleContext } from '../module';
import { StanzaError } from '../session/stanza';
import { Element, x } from '../xml/element';
import { NS_DISCO_INFO, NS_DISCO_ITEMS } from './disco';
import { buildForm, NS_DATA, parseForm, readSubmission, type DataForm, type FieldError, type FormValue } from './forms';

export const NS_COMMANDS = 'http://jabber.org/protocol/commands';
/** The var of the fixed field that carries validation errors back to the user. */
export const ERROR_VAR = 'xiota#error';

/** XEP-0050 6: note types; Gajim's library rejects a response with any other. */
export type NoteType = 'info' | 'warn' | 'error';
export interface Note { type: NoteType; text: string }

export interface CommandContext {
  /** The requester's full JID, as the server stamped it. */
  from: string;
  role: Role;
}

/** A form stage: shown with status `executing`, answered by a submitted form. */
export interface Stage {
  /** The form to fill (type 'form'). */
  form: DataForm;
  /** Submitted vars this form did not ask for are an error (default: ignored, as echoes are). */
  strict?: boolean;
  /** More stages follow: the actions offer <next/> instead of <complete/>. */
  more?: boolean;
  /** The typed, validated values; answers the next step or errors to show with the form again. */
  submit(values: Map<string, FormValue>, ctx: CommandContext): Step | Promise<Step>;
}

export type Step =
  | { status: 'completed'; form?: DataForm; note?: Note }
  | { status: 'executing'; stage: Stage }
  /** The submission is refused: the same form again with these messages; nothing changed. */
  | { status: 'invalid'; errors: string[] };

export interface Command {
  /** The disco node (XEP-0050 2.2): short, readable, typed by Profanity users. */
  node: string;
  /** The label clients show. */
  name: string;
  /** What the asker must be allowed (agent/access.ts) to see and run it. */
  action: Action;
  execute(ctx: CommandContext): Step | Promise<Step>;
}

export interface CommandsOptions {
  commands: readonly Command[];
  access: Pick<Access, 'decide' | 'check' | 'roleOf'>;
  /** Our full JID for disco items (XEP-0050 2.2 lists the responder's full JID). */
  selfJid(): string;
  now?: () => number;
  /** Idle time after which a session is gone (default 5 min). */
  sessionTtlMs?: number;
  /** Open sessions at most, all requesters (default 64), and per bare JID (default 4). */
  maxSessions?: number;
  maxSessionsPerJid?: number;
}

interface Session {
  id: string;
  node: string;
  /** The full JID that started it: a session belongs to one requester (XEP-0050 4.3). */
  owner: string;
  /** Stages shown so far; the last is current (prev pops). */
  stages: Stage[];
  expires: number;
  /** A submit is being handled (a driver set may take seconds): a second one waits its turn. */
  busy: boolean;
}

const ACTIONS = new Set(['execute', 'next', 'prev', 'complete', 'cancel']);

function cmdError(condition: string, app: string, text: string): StanzaError {
  return new StanzaError(condition, text, { appElement: x(app, { xmlns: NS_COMMANDS }) });
}

function bare(jid: string): string {
  const i = jid.indexOf('/');
  return (i >= 0 ? jid.slice(0, i) : jid).toLowerCase();
}

/** The <command/> of a response (XEP-0050 6: actions, notes, then the payload). */
export function commandElement(node: string, sessionid: string | undefined, status: 'executing' | 'completed' | 'canceled', parts: { actions?: Element; form?: DataForm; note?: Note } = {}): Element {
  const el = x('command', { xmlns: NS_COMMANDS, node, sessionid, status });
  if (parts.actions) el.append(parts.actions);
  if (parts.note) el.append(x('note', { type: parts.note.type }, parts.note.text));
  if (parts.form) el.append(buildForm(parts.form));
  return el;
}

/** XEP-0050 4.4: the actions of an executing stage; `execute` names the default one. */
export function actionsElement(more: boolean, canGoBack: boolean): Element {
  const main = more ? 'next' : 'complete';
  return x('actions', { execute: main }, canGoBack ? x('prev') : null, x(main));
}

/** The stage's form again, with the user's values kept and the errors shown twice over. */
export function formWithErrors(form: DataForm, errors: string[], submitted?: Element): DataForm {
  const given = new Map<string, string[]>();
  if (submitted) {
    try {
      for (const f of parseForm(submitted).fields) if (f.var && f.type !== 'fixed') given.set(f.var, f.values ?? []);
    } catch { /* an unreadable submission keeps the form's own values */ }
  }
  return {
    ...form,
    instructions: errors,
    fields: [
      { var: ERROR_VAR, type: 'fixed', label: 'Error', values: errors },
      ...form.fields.filter((f) => f.var !== ERROR_VAR).map((f) => (f.var && given.has(f.var) ? { ...f, values: given.get(f.var) } : f)),
    ],
  };
}

/** A submitted <x/>; XEP-0050 4.5.1: a type='cancel' form counts as a submit. */
function submittedForm(cmd: Element): Element | undefined {
  const el = cmd.getChild('x', NS_DATA);
  if (el?.attrs.type !== 'cancel') return el;
  return new Element('x', NS_DATA, { ...el.attrs, type: 'submit' }, el.children);
}

export class CommandSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly byNode: Map<string, Command>;
  private readonly now: () => number;
  private readonly ttl: number;

  constructor(private readonly o: CommandsOptions) {
    this.byNode = new Map(o.commands.map((c) => [c.node, c]));
    if (this.byNode.size !== o.commands.length) throw new Error('two ad-hoc commands share a node');
    this.now = o.now ?? Date.now;
    this.ttl = o.sessionTtlMs ?? 5 * 60_000;
  }

  /** Sessions open now (bounded by maxSessions). */
  get openCount(): number {
    return this.sessions.size;
  }

  /** The commands `jid` may run, for disco#items (no decision logged: listing is not acting). */
  visibleTo(jid: string): Command[] {
    const role = this.o.access.roleOf(jid);
    return this.o.commands.filter((c) => roleMay(role, c.action));
  }

  command(node: string): Command | undefined {
    return this.byNode.get(node);
  }

  sweep(): void {
    const t = this.now();
    for (const [id, s] of this.sessions) if (s.expires <= t) this.sessions.delete(id);
  }

  /** Handles one <command/> from `from`; returns the <command/> to answer with, or throws a StanzaError. */
  async handle(from: string, cmd: Element): Promise<Element> {
    const node = cmd.attrs.node;
    if (!node) throw cmdError('bad-request', 'malformed-action', 'the command has no node');
    const command = this.byNode.get(node);
    if (!command) throw new StanzaError('item-not-found', `no command "${node}"; list them with disco#items on node ${NS_COMMANDS}`);
    // XEP-0324: asks the provisioning server where the local policy cannot decide; a partial
    // grant (some nodes or fields) is refused: the commands show every thing.
    const decision = await this.o.access.check(from, command.action);
    if (!decision.allowed || decision.nodes || decision.fields) throw new StanzaError('forbidden', `"${node}" needs the ${command.action} right; ${decision.jid} is a ${decision.role}`);
    const action = cmd.attrs.action ?? 'execute';
    if (!ACTIONS.has(action)) throw cmdError('bad-request', 'malformed-action', `unknown action "${action}"; use execute, next, prev, complete or cancel`);
    const ctx: CommandContext = { from, role: decision.role };
    const sid = cmd.attrs.sessionid;

    if (!sid) {
      if (action === 'cancel') return commandElement(node, undefined, 'canceled');
      return this.respond(command, undefined, await command.execute(ctx), from);
    }
    const s = this.sessions.get(sid);
    if (!s || s.owner !== from || s.node !== node) throw cmdError('bad-request', 'bad-sessionid', `no session "${sid}" of "${node}" for you; execute the command again`);
    if (s.expires <= this.now()) {
      this.sessions.delete(sid);
      throw cmdError('not-allowed', 'session-expired', `session "${sid}" expired after ${Math.round(this.ttl / 1000)} s idle; execute the command again`);
    }
    s.expires = this.now() + this.ttl;
    const stage = s.stages[s.stages.length - 1]!;
    if (action === 'cancel') {
      this.sessions.delete(sid);
      return commandElement(node, sid, 'canceled');
    }
    if (action === 'prev') {
      if (s.stages.length < 2) throw cmdError('bad-request', 'bad-action', 'this is the first stage: there is no previous one');
      s.stages.pop();
      return this.stageElement(s, s.stages[s.stages.length - 1]!);
    }
    // execute, next, complete, or no action: all submit the current stage.
    const sub = submittedForm(cmd);
    if (!sub) return this.stageElement(s, stage, ['Fill in the form and submit it (or cancel).']);
    // Our own error field, echoed back by some clients without its type, is not an unknown var.
    const read = readSubmission(sub, [...stage.form.fields, { var: ERROR_VAR, type: 'fixed' }]);
    const errors = read.errors.map((e: FieldError) => e.message);
    if (stage.strict) {
      const known = stage.form.fields.filter((f) => f.var && f.type !== 'fixed').map((f) => f.var!).join(', ');
      for (const u of read.unknown) errors.push(`"${u}" is not a field of this form; the fields are ${known}`);
    }
    if (errors.length) return this.stageElement(s, stage, errors, sub);
    // A double click must not set twice: one submit of a session at a time.
    if (s.busy) throw new StanzaError('unexpected-request', 'the previous submit of this session is still running; wait for its answer');
    s.busy = true;
    try {
      return this.respond(command, s, await stage.submit(read.values, ctx), from, sub);
    } finally {
      s.busy = false;
    }
  }

  private stageElement(s: Session, stage: Stage, errors?: string[], submitted?: Element): Element {
    const form = errors ? formWithErrors(stage.form, errors, submitted) : stage.form;
    return commandElement(s.node, s.id, 'executing', { actions: actionsElement(stage.more ?? false, s.stages.length > 1), form });
  }

  private respond(command: Command, s: Session | undefined, step: Step, from: string, submitted?: Element): Element {
    if (step.status === 'invalid') {
      if (!s) throw new StanzaError('internal-server-error', `command "${command.node}" refused a submission it never asked for`);
      return this.stageElement(s, s.stages[s.stages.length - 1]!, step.errors, submitted);
    }
    if (step.status === 'completed') {
      if (s) this.sessions.delete(s.id);
      // Gajim's library needs a sessionid on every response but a first-stage completion.
      return commandElement(command.node, s?.id ?? this.newId(command.node), 'completed', { form: step.form, note: step.note });
    }
    const session = s ?? this.openSession(command.node, from);
    session.stages.push(step.stage);
    return this.stageElement(session, step.stage);
  }

  private newId(node: string): string {
    return `${node}:${this.now().toString(36)}-${randomBytes(6).toString('hex')}`;
  }

  private openSession(node: string, owner: string): Session {
    this.sweep();
    const mine = [...this.sessions.values()].filter((x) => bare(x.owner) === bare(owner));
    // An abandoned dialog holds a slot: a requester's oldest session makes room for its new one.
    if (mine.length >= (this.o.maxSessionsPerJid ?? 4)) this.sessions.delete(mine[0]!.id);
    if (this.sessions.size >= (this.o.maxSessions ?? 64)) {
      throw new StanzaError('resource-constraint', `too many open command sessions (${this.sessions.size}); try again in a few minutes`);
    }
    const s: Session = { id: this.newId(node), node, owner, stages: [], expires: this.now() + this.ttl, busy: false };
    this.sessions.set(s.id, s);
    return s;
  }
}

/** Installs the responder: the feature, the command list per asker, and the commands themselves. */
export function install(m: ModuleContext, o: CommandsOptions): CommandSessions {
  const sessions = new CommandSessions(o);
  m.addFeature(NS_COMMANDS);
  m.hook(`iq/set/${NS_COMMANDS}`, async (iq) => {
    const cmd = iq.getChild('command', NS_COMMANDS);
    if (!cmd) return undefined;
    const from = iq.attrs.from ?? '';
    const reply = await sessions.handle(from, cmd);
    m.log.debug('ad-hoc command', { from, node: cmd.attrs.node, action: cmd.attrs.action, status: reply.attrs.status });
    return reply;
  });
  // XEP-0050 2.2: the command list is the disco#items of the commands node, per asker. The disco
  // module answers every other node (it returns nothing here, so this hook runs first).
  m.hook(`iq/get/${NS_DISCO_ITEMS}`, (iq) => {
    const node = iq.getChild('query', NS_DISCO_ITEMS)?.attrs.node;
    if (node !== NS_COMMANDS) return undefined;
    const self = iq.attrs.to?.includes('/') ? iq.attrs.to : o.selfJid();
    return x('query', { xmlns: NS_DISCO_ITEMS, node: NS_COMMANDS },
      ...sessions.visibleTo(iq.attrs.from ?? '').map((c) => x('item', { jid: self, node: c.node, name: c.name })));
  }, 10);
  // XEP-0050 2.3: info on the command list node and on each command node.
  m.hook(`iq/get/${NS_DISCO_INFO}`, (iq) => {
    const node = iq.getChild('query', NS_DISCO_INFO)?.attrs.node;
    if (node === NS_COMMANDS) {
      return x('query', { xmlns: NS_DISCO_INFO, node }, x('identity', { category: 'automation', type: 'command-list', name: 'Commands' }), x('feature', { var: NS_COMMANDS }));
    }
    const command = node ? sessions.command(node) : undefined;
    if (!command) return undefined;
    if (!roleMay(o.access.roleOf(iq.attrs.from ?? ''), command.action)) throw new StanzaError('forbidden', `"${node}" is not available to you`);
    return x('query', { xmlns: NS_DISCO_INFO, node },
      x('identity', { category: 'automation', type: 'command-node', name: command.name }),
      x('feature', { var: NS_COMMANDS }), x('feature', { var: NS_DATA }));
  }, 10);
  m.every(60_000, () => sessions.sweep());
  return sessions;
}
