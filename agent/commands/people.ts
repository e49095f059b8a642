// Ad-hoc commands about people (XEP-0050): `alerts` (on/off for the asker) and, for owners,
// `access` (list, allow, deny, revoke). The decisions stay in the access store
// (agent/access-store.ts); these commands only translate forms to its calls.
import { bareOf } from '../access';
import type { Access, GrantRole } from '../access-store';
import type { AlertSwitch } from '../alerts/switch';
import type { Command, Step } from '../xep/commands';
import type { FormField } from '../xep/forms';

/** `alerts` (owners, the default recipients): the asker's own on/off, kept in the alert switch. */
export function alertsCommand(alerts: Pick<AlertSwitch, 'alertsOn' | 'setAlerts'>): Command {
  return {
    node: 'alerts', name: 'Alerts on or off', action: 'alerts',
    execute(ctx): Step {
      const on = alerts.alertsOn(ctx.from, true);
      return {
        status: 'executing',
        stage: {
          form: {
            type: 'form', title: 'Alerts', instructions: [`Alerts are ${on ? 'on' : 'off'} for ${bareOf(ctx.from)}.`],
            fields: [{ var: 'alerts', type: 'boolean', label: 'Send me alerts', required: true, values: [on ? '1' : '0'] }],
          },
          async submit(values, c): Promise<Step> {
            const want = values.get('alerts') === true;
            await alerts.setAlerts(c.from, want);
            return { status: 'completed', note: { type: 'info', text: `Alerts are ${want ? 'on' : 'off'} for ${bareOf(c.from)}.` } };
          },
        },
      };
    },
  };
}

const OPS = ['list', 'allow', 'deny', 'revoke'] as const;
type Op = (typeof OPS)[number];

const ACCESS_FIELDS: FormField[] = [
  {
    var: 'op', type: 'list-single', label: 'What to do', required: true, values: ['list'],
    options: [
      { label: 'List who may do what', value: 'list' }, { label: 'Allow someone', value: 'allow' },
      { label: 'Deny someone', value: 'deny' }, { label: 'Revoke what someone was given', value: 'revoke' },
    ],
  },
  { var: 'jid', type: 'jid-single', label: 'Who (for allow, deny, revoke)', desc: 'a bare JID such as bob@example.org' },
  {
    var: 'role', type: 'list-single', label: 'Role (for allow)', values: ['reader'],
    options: [{ label: 'Reader: read values', value: 'reader' }, { label: 'Controller: read and set', value: 'controller' }],
  },
];

/** `access` (owners): one stage; `list` answers a table, the others one note. */
export function accessCommand(access: Pick<Access, 'list' | 'allow' | 'deny' | 'revoke' | 'roleOf'>): Command {
  return {
    node: 'access', name: 'Access: list, allow, deny, revoke', action: 'admin',
    execute(): Step {
      return {
        status: 'executing',
        stage: {
          form: { type: 'form', title: 'Access', instructions: ['Choose what to do; allow, deny and revoke need a JID.'], fields: ACCESS_FIELDS },
          async submit(values, ctx): Promise<Step> {
            const op = values.get('op') as Op;
            if (op === 'list') {
              // A thing owner has no role on the gateway: the role column names their things.
              const rows = access.list().map((r) => (r.source === 'thing-claim' ? { ...r, role: `owner of ${(r.things ?? []).join(', ')}` } : r));
              return {
                status: 'completed',
                form: {
                  type: 'result', title: 'Access',
                  fields: rows.map((r, i) => ({ var: `entry.${i}`, type: 'text-single', label: r.jid, values: [`${r.role} (${r.source})`] })),
                  reported: [{ var: 'jid', label: 'JID' }, { var: 'role', label: 'Role' }, { var: 'source', label: 'From' }],
                  items: rows.map((r) => [{ var: 'jid', values: [r.jid] }, { var: 'role', values: [r.role] }, { var: 'source', values: [r.source] }]),
                },
              };
            }
            const jid = values.get('jid');
            if (typeof jid !== 'string' || !jid) return { status: 'invalid', errors: [`"Who" (jid) is needed to ${op}: give a JID such as bob@example.org`] };
            const bare = bareOf(jid);
            if (access.roleOf(bare) === 'owner') return { status: 'invalid', errors: [`${bare} is an owner; owners change only in the config file (access.owners)`] };
            const role = (values.get('role') ?? 'reader') as GrantRole;
            try {
              if (op === 'allow') await access.allow(bare, role, bareOf(ctx.from));
              else if (op === 'deny') await access.deny(bare, bareOf(ctx.from));
              else await access.revoke(bare, bareOf(ctx.from));
            } catch (e) {
              return { status: 'invalid', errors: [(e as Error).message] };
            }
            const text = op === 'allow' ? `${bare} is now a ${role}.` : op === 'deny' ? `${bare} is denied.` : `${bare}: access revoked, now a ${access.roleOf(bare)}.`;
            return { status: 'completed', note: { type: 'info', text } };
          },
        },
      };
    },
  };
}
