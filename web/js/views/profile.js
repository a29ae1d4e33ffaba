/*
 * A member's profile card (from the member list or a message's author): name, status,
 * custom status and roles; a button to message them; role changes, kick, ban and time-out
 * for those who may (spec/rest-members.md).
 */
import { h, avatar, displayName, toast } from '../dom.js';
import { patch, put, del } from '../api.js';
import { state, member, presenceOf } from '../store.js';
import { guildPerms, can, P, mayModerate, topPosition } from '../perms.js';
import { modal, formDialog, errorText } from './dialogs.js';
import { openDm } from './dms.js';
import { STATUS } from './userpanel.js';

export function openProfile(anchor, userId, guildId) {
  const user = state.users.get(userId) || { id: userId, username: 'unknown' };
  const m = guildId && member(guildId, userId);
  const g = guildId && state.guilds.get(guildId);
  const pres = presenceOf(userId);
  const custom = (pres.activities || []).find((a) => a.type === 4);
  const me = state.me && state.me.id === userId;
  const perms = guildId ? guildPerms(guildId) : 0n;
  const roles = g && m ? (m.roles || []).map((r) => g.roles.get(r)).filter(Boolean).sort((a, b) => b.position - a.position) : [];
  const actions = [];
  if (!me && !user.bot) {
    actions.push(h('button.primary', { type: 'button', onclick: () => (close(), openDm(userId).catch((e) => toast(errorText(e), 'error'))) }, `Message @${user.username}`));
  }
  if (g && can(perms, P.MANAGE_ROLES) && m) actions.push(h('button.secondary', { type: 'button', onclick: () => (close(), editRoles(guildId, userId)) }, 'Manage roles'));
  if (g && mayModerate(guildId, userId, P.MODERATE_MEMBERS)) {
    const timedOut = m && m.communication_disabled_until && Date.parse(m.communication_disabled_until) > Date.now();
    actions.push(h('button.secondary', { type: 'button', onclick: () => (close(), timedOut ? removeTimeout(guildId, user) : timeoutMember(guildId, user)) }, timedOut ? 'Remove time-out' : 'Time out'));
  }
  if (g && mayModerate(guildId, userId, P.KICK_MEMBERS)) actions.push(h('button.danger', { type: 'button', onclick: () => (close(), kickMember(guildId, user)) }, 'Kick'));
  if (g && mayModerate(guildId, userId, P.BAN_MEMBERS)) actions.push(h('button.danger', { type: 'button', onclick: () => (close(), banMember(guildId, user)) }, 'Ban'));
  const { close } = modal({
    title: displayName(user, m),
    label: `Profile of ${displayName(user, m)}`,
    body: h(
      'div.profile',
      null,
      h('div.profile-top', null, h('span.avatar-wrap', null, avatar(user, 72), h('span.status-dot.big.' + pres.status, { 'aria-hidden': 'true' }))),
      h('p.profile-user', null, user.username, user.bot ? h('span.tag', null, 'BOT') : null),
      h('p.profile-status', null, STATUS[pres.status] || 'Offline', custom && custom.state ? ` — ${custom.state}` : ''),
      m && m.communication_disabled_until && Date.parse(m.communication_disabled_until) > Date.now() ? h('p.timeout-note', null, `Timed out until ${new Date(m.communication_disabled_until).toLocaleString()}`) : null,
      roles.length
        ? h(
            'section',
            { 'aria-label': 'Roles' },
            h('h3', null, 'Roles'),
            h(
              'ul.role-chips',
              { role: 'list' },
              roles.map((r) => h('li.role-chip', null, h('span.role-dot', { 'aria-hidden': 'true', style: null, dataset: { color: r.color } }), r.name)),
            ),
          )
        : null,
      actions.length ? h('div.profile-actions', null, actions) : null,
    ),
  });
  for (const dot of document.querySelectorAll('.role-dot[data-color]')) dot.style.background = dot.dataset.color !== '0' ? '#' + Number(dot.dataset.color).toString(16).padStart(6, '0') : '#99aab5';
}

function editRoles(guildId, userId) {
  const g = state.guilds.get(guildId);
  const m = member(guildId, userId);
  const mine = topPosition(guildId, state.me.id);
  const roles = [...g.roles.values()].filter((r) => r.id !== guildId && !r.managed).sort((a, b) => b.position - a.position);
  formDialog({
    title: `Roles of ${displayName(state.users.get(userId), m)}`,
    intro: roles.length ? 'Tick the roles this member should have. You can only give roles below your own.' : 'This server has no roles yet. Create some in Server Settings.',
    fields: roles.map((r) => ({ name: 'r' + r.id, label: r.name, type: 'checkbox', value: m.roles.includes(r.id), hint: r.position >= mine ? 'Above your highest role' : null })),
    submit: 'Save',
    onSubmit: async (v) => {
      const next = roles.filter((r) => v['r' + r.id]).map((r) => r.id);
      const keep = m.roles.filter((id) => !roles.some((r) => r.id === id));
      await patch(`/guilds/${guildId}/members/${userId}`, { roles: [...keep, ...next] });
      toast('Roles updated.');
    },
  });
}

function kickMember(guildId, user) {
  formDialog({
    title: `Kick ${displayName(user)} from the server`,
    intro: `${displayName(user)} will be able to rejoin with a new invite.`,
    fields: [{ name: 'reason', label: 'Reason for kick (optional)', type: 'textarea', maxlength: 512 }],
    submit: 'Kick',
    danger: true,
    onSubmit: async (v) => {
      await del(`/guilds/${guildId}/members/${user.id}`, { reason: v.reason || undefined });
      toast(`${displayName(user)} was kicked.`);
    },
  });
}

function banMember(guildId, user) {
  formDialog({
    title: `Ban ${displayName(user)}`,
    fields: [
      {
        name: 'delete_message_seconds',
        label: 'Delete message history',
        type: 'select',
        value: 0,
        options: [
          [0, 'Don’t delete any'],
          [3600, 'Previous hour'],
          [86400, 'Previous 24 hours'],
          [604800, 'Previous 7 days'],
        ],
      },
      { name: 'reason', label: 'Reason for ban (optional)', type: 'textarea', maxlength: 512 },
    ],
    submit: 'Ban',
    danger: true,
    onSubmit: async (v) => {
      await put(`/guilds/${guildId}/bans/${user.id}`, { delete_message_seconds: Number(v.delete_message_seconds) }, { reason: v.reason || undefined });
      toast(`${displayName(user)} was banned.`);
    },
  });
}

function timeoutMember(guildId, user) {
  formDialog({
    title: `Time out ${displayName(user)}`,
    intro: 'Members who are timed out can read but cannot send messages, react or join voice.',
    fields: [
      {
        name: 'duration',
        label: 'Duration',
        type: 'radio',
        value: 600,
        options: [
          [60, '60 seconds'],
          [300, '5 minutes'],
          [600, '10 minutes'],
          [3600, '1 hour'],
          [86400, '1 day'],
          [604800, '1 week'],
        ],
      },
      { name: 'reason', label: 'Reason (optional)', type: 'textarea', maxlength: 512 },
    ],
    submit: 'Time out',
    danger: true,
    onSubmit: async (v) => {
      const until = new Date(Date.now() + Number(v.duration) * 1000).toISOString();
      await patch(`/guilds/${guildId}/members/${user.id}`, { communication_disabled_until: until }, { reason: v.reason || undefined });
      toast(`${displayName(user)} was timed out.`);
    },
  });
}

async function removeTimeout(guildId, user) {
  try {
    await patch(`/guilds/${guildId}/members/${user.id}`, { communication_disabled_until: null });
    toast(`${displayName(user)}’s time-out was removed.`);
  } catch (err) {
    toast(errorText(err), 'error');
  }
}
