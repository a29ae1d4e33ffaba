/*
 * Server and channel settings, for those who may: the server's name; roles (name, colour,
 * hoist, permissions); members with kick, ban and time-out; bans; invites; a channel's
 * name, topic and slow mode; its permission overwrites per role and member
 * (spec/rest-members.md, spec/rest-channels.md, spec/rest-invites.md).
 */
import { h, clear, $, $$, toast, displayName, avatar } from '../dom.js';
import { get, patch, post, put, del } from '../api.js';
import { state, on, member } from '../store.js';
import { guildPerms, channelPerms, can, P, EDITABLE, topPosition } from '../perms.js';
import { modal, formDialog, confirmDialog, errorText } from './dialogs.js';
import { openProfile } from './lazy.js';
import { inviteLink } from './invite.js';

const hex = (n) => '#' + Number(n || 0).toString(16).padStart(6, '0');
/* "@name" for a role; the @everyone role's name already has its "@". */
const atRole = (name) => (name.startsWith('@') ? name : '@' + name);

/* A settings dialog with tabs (the ARIA tabs pattern: arrows move between tabs). */
function tabbed(title, tabs) {
  const tablist = h('div.tabs', { role: 'tablist', 'aria-label': title, 'aria-orientation': 'vertical' });
  const area = h('div.tab-panel', { role: 'tabpanel', tabindex: 0 });
  const buttons = tabs.map((t, i) =>
    h('button.tab', { type: 'button', role: 'tab', id: 'tab-' + i, 'aria-selected': 'false', tabindex: -1, onclick: () => select(i) }, t.label),
  );
  const select = (i) => {
    buttons.forEach((b, j) => {
      b.setAttribute('aria-selected', String(i === j));
      b.tabIndex = i === j ? 0 : -1;
    });
    area.setAttribute('aria-labelledby', 'tab-' + i);
    clear(area, h('p', null, 'Loading…'));
    tabs[i].render(area);
  };
  tablist.addEventListener('keydown', (e) => {
    const i = buttons.indexOf(document.activeElement);
    const j = { ArrowDown: i + 1, ArrowUp: i - 1, ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: buttons.length - 1 }[e.key];
    if (j === undefined || i < 0) return;
    e.preventDefault();
    const k = (j + buttons.length) % buttons.length;
    buttons[k].focus();
    select(k);
  });
  tablist.append(...buttons);
  modal({ title, wide: true, body: h('div.settings', null, tablist, area) });
  select(0);
  buttons[0].focus();
}

export function openGuildSettings(guildId) {
  const g = state.guilds.get(guildId);
  const perms = guildPerms(guildId);
  const tabs = [];
  if (can(perms, P.MANAGE_GUILD)) tabs.push({ label: 'Overview', render: (el) => overview(el, g) });
  if (can(perms, P.MANAGE_ROLES)) tabs.push({ label: 'Roles', render: (el) => roles(el, g) });
  if (can(perms, P.KICK_MEMBERS) || can(perms, P.BAN_MEMBERS) || can(perms, P.MODERATE_MEMBERS) || can(perms, P.MANAGE_ROLES)) {
    tabs.push({ label: 'Members', render: (el) => members(el, g) });
  }
  if (can(perms, P.BAN_MEMBERS)) tabs.push({ label: 'Bans', render: (el) => bans(el, g) });
  if (can(perms, P.MANAGE_GUILD)) tabs.push({ label: 'Invites', render: (el) => invites(el, g) });
  if (!tabs.length) return toast('You cannot change anything in this server.', 'error');
  tabbed(`${g.name} — Server Settings`, tabs);
}

function overview(el, g) {
  const name = h('input#g-name', { value: g.name, maxlength: 100, required: true });
  const err = h('p.form-error', { role: 'alert' });
  const form = h(
    'form.form',
    {
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          await patch(`/guilds/${g.id}`, { name: name.value.trim() });
          toast('Server updated.');
        } catch (x) {
          err.textContent = errorText(x);
        }
      },
    },
    h('h3', null, 'Server Overview'),
    err,
    h('div.field', null, h('label', { for: 'g-name' }, 'Server name'), name),
    h('button.primary', { type: 'submit' }, 'Save Changes'),
  );
  clear(el, form);
}

function roleEditor(g, role, done) {
  const perms = BigInt(role ? role.permissions : g.roles.get(g.id)?.permissions || 0);
  formDialog({
    title: role ? `Edit role — ${role.name}` : 'Create role',
    fields: [
      { name: 'name', label: 'Role name', value: role ? role.name : 'new role', required: true, maxlength: 100 },
      { name: 'color', label: 'Role colour', type: 'color', value: role ? hex(role.color) : '#99aab5' },
      { name: 'hoist', label: 'Display role members separately from online members', type: 'checkbox', value: role ? role.hoist : false },
      { name: 'mentionable', label: 'Allow anyone to @mention this role', type: 'checkbox', value: role ? role.mentionable : false },
      ...EDITABLE.map(([key, label]) => ({ name: 'p_' + key, label, type: 'checkbox', value: (perms & P[key]) === P[key] })),
    ],
    submit: role ? 'Save Changes' : 'Create Role',
    onSubmit: async (v) => {
      let bits = role ? BigInt(role.permissions) : 0n;
      for (const [key] of EDITABLE) bits = v['p_' + key] ? bits | P[key] : bits & ~P[key];
      const body = { name: v.name, color: parseInt(v.color.slice(1), 16), hoist: v.hoist, mentionable: v.mentionable, permissions: bits.toString() };
      if (role && role.id === g.id) {
        delete body.name;
        delete body.color;
        delete body.hoist;
      }
      if (role) await patch(`/guilds/${g.id}/roles/${role.id}`, body);
      else await post(`/guilds/${g.id}/roles`, body);
      toast(role ? 'Role saved.' : 'Role created.');
      done();
    },
  });
}

function roles(el, g) {
  const mine = topPosition(g.id, state.me.id);
  const render = () => {
    const list = [...g.roles.values()].sort((a, b) => b.position - a.position);
    clear(
      el,
      h('h3', null, 'Roles'),
      h('p', null, 'Use roles to group your members and give them permissions. Members use the colour of their highest role.'),
      h('button.primary', { type: 'button', onclick: () => roleEditor(g, null, render) }, 'Create Role'),
      h(
        'ul.settings-list',
        { role: 'list' },
        list.map((r) =>
          h(
            'li',
            null,
            h('span.role-dot', { 'aria-hidden': 'true', style: null }),
            h('span.grow', null, r.name, r.managed ? h('small', null, ' (managed)') : null),
            r.position < mine || mine === Infinity ? h('button.secondary', { type: 'button', 'aria-label': `Edit ${r.name}`, onclick: () => roleEditor(g, r, render) }, 'Edit') : null,
            r.id !== g.id && !r.managed && (r.position < mine || mine === Infinity)
              ? h(
                  'button.danger',
                  {
                    type: 'button',
                    'aria-label': `Delete ${r.name}`,
                    onclick: async () => {
                      if (!(await confirmDialog({ title: 'Delete role', text: `Delete the role ${r.name}? Members lose it.`, confirm: 'Delete' }))) return;
                      try {
                        await del(`/guilds/${g.id}/roles/${r.id}`);
                        g.roles.delete(r.id);
                        render();
                      } catch (x) {
                        toast(errorText(x), 'error');
                      }
                    },
                  },
                  'Delete',
                )
              : null,
          ),
        ),
      ),
    );
    $$('.role-dot', el).forEach((d, i) => (d.style.background = list[i].color ? hex(list[i].color) : '#99aab5'));
  };
  render();
  const off = on('roles', (gid) => (el.isConnected ? gid === g.id && render() : off()));
}

async function members(el, g) {
  let list = [];
  try {
    list = await get(`/guilds/${g.id}/members?limit=1000`);
  } catch (x) {
    list = [...(state.members.get(g.id) || new Map()).values()];
    if (!x.unsupported) toast(errorText(x), 'error');
  }
  const filter = h('input', { type: 'search', placeholder: 'Search members', 'aria-label': 'Search members' });
  const ul = h('ul.settings-list', { role: 'list' });
  const render = () => {
    const q = filter.value.trim().toLowerCase();
    clear(
      ul,
      list
        .filter((m) => !q || m.user.username.includes(q) || displayName(m.user, m).toLowerCase().includes(q))
        .map((m) =>
          h(
            'li',
            null,
            avatar(m.user, 28),
            h('span.grow', null, displayName(m.user, m), h('small', null, ' ' + m.user.username)),
            h('button.secondary', { type: 'button', onclick: (e) => openProfile(e.currentTarget, m.user.id, g.id) }, 'Manage'),
          ),
        ),
    );
  };
  filter.addEventListener('input', render);
  clear(el, h('h3', null, `Server Members — ${list.length}`), filter, ul);
  render();
}

async function bans(el, g) {
  const render = async () => {
    let list;
    try {
      list = await get(`/guilds/${g.id}/bans`);
    } catch (x) {
      clear(el, h('h3', null, 'Bans'), h('p.form-error', { role: 'alert' }, errorText(x)));
      return;
    }
    clear(
      el,
      h('h3', null, `Bans — ${list.length}`),
      list.length
        ? h(
            'ul.settings-list',
            { role: 'list' },
            list.map((b) =>
              h(
                'li',
                null,
                avatar(b.user, 28),
                h('span.grow', null, displayName(b.user), b.reason ? h('small', null, ' — ' + b.reason) : null),
                h(
                  'button.secondary',
                  {
                    type: 'button',
                    'aria-label': `Revoke ban of ${displayName(b.user)}`,
                    onclick: async () => {
                      try {
                        await del(`/guilds/${g.id}/bans/${b.user.id}`);
                        render();
                      } catch (x) {
                        toast(errorText(x), 'error');
                      }
                    },
                  },
                  'Revoke Ban',
                ),
              ),
            ),
          )
        : h('p', null, 'No bans. Nice.'),
    );
  };
  render();
}

async function invites(el, g) {
  const render = async () => {
    let list;
    try {
      list = await get(`/guilds/${g.id}/invites`);
    } catch (x) {
      clear(el, h('h3', null, 'Invites'), h('p.form-error', { role: 'alert' }, errorText(x)));
      return;
    }
    clear(
      el,
      h('h3', null, 'Invites'),
      list.length
        ? h(
            'ul.settings-list',
            { role: 'list' },
            list.map((inv) =>
              h(
                'li',
                null,
                h('span.grow', null, h('code', null, inviteLink(inv.code)), h('small', null, ` #${inv.channel?.name || ''} · ${inv.uses} use${inv.uses === 1 ? '' : 's'}${inv.expires_at ? ' · expires ' + new Date(inv.expires_at).toLocaleString() : ''}`)),
                h(
                  'button.danger',
                  {
                    type: 'button',
                    'aria-label': `Revoke invite ${inv.code}`,
                    onclick: async () => {
                      try {
                        await del(`/invites/${inv.code}`);
                        render();
                      } catch (x) {
                        toast(errorText(x), 'error');
                      }
                    },
                  },
                  'Revoke',
                ),
              ),
            ),
          )
        : h('p', null, 'No invites yet. Create one from a channel.'),
    );
  };
  render();
}

/* ---- channel settings ---- */

export function openChannelSettings(channelId) {
  const ch = state.channels.get(channelId);
  const perms = channelPerms(channelId);
  const tabs = [];
  if (can(perms, P.MANAGE_CHANNELS)) tabs.push({ label: 'Overview', render: (el) => channelOverview(el, ch) });
  if (can(perms, P.MANAGE_ROLES)) tabs.push({ label: 'Permissions', render: (el) => overwrites(el, ch) });
  if (can(perms, P.MANAGE_CHANNELS)) {
    tabs.push({
      label: 'Delete Channel',
      render: (el) =>
        clear(
          el,
          h('h3', null, 'Delete Channel'),
          h('p', null, `Deleting #${ch.name} cannot be undone.`),
          h(
            'button.danger',
            {
              type: 'button',
              onclick: async () => {
                if (!(await confirmDialog({ title: 'Delete Channel', text: `Are you sure you want to delete #${ch.name}?`, confirm: 'Delete Channel' }))) return;
                try {
                  await del(`/channels/${ch.id}`);
                  document.querySelector('dialog[open]')?.close();
                } catch (x) {
                  toast(errorText(x), 'error');
                }
              },
            },
            'Delete Channel',
          ),
        ),
    });
  }
  tabbed(`#${ch.name} — Channel Settings`, tabs);
}

function channelOverview(el, ch) {
  const err = h('p.form-error', { role: 'alert' });
  const name = h('input#c-name', { value: ch.name, maxlength: 100 });
  const topic = h('textarea#c-topic', { maxlength: 1024, rows: 3 }, ch.topic || '');
  const slow = h(
    'select#c-slow',
    null,
    [0, 5, 10, 30, 60, 300, 900, 3600, 21600].map((s) => h('option', { value: s, selected: (ch.rate_limit_per_user || 0) === s }, s === 0 ? 'Off' : s < 60 ? `${s}s` : s < 3600 ? `${s / 60}m` : `${s / 3600}h`)),
  );
  const nsfw = h('input#c-nsfw', { type: 'checkbox', checked: !!ch.nsfw });
  clear(
    el,
    h(
      'form.form',
      {
        onsubmit: async (e) => {
          e.preventDefault();
          err.textContent = '';
          try {
            await patch(`/channels/${ch.id}`, { name: name.value.trim(), topic: topic.value, rate_limit_per_user: Number(slow.value), nsfw: nsfw.checked });
            toast('Channel saved.');
          } catch (x) {
            err.textContent = x.field && (x.field('name') || x.field('topic')) ? x.field('name') || x.field('topic') : errorText(x);
          }
        },
      },
      h('h3', null, 'Overview'),
      err,
      h('div.field', null, h('label', { for: 'c-name' }, 'Channel name'), name),
      ch.type === 0 ? h('div.field', null, h('label', { for: 'c-topic' }, 'Channel topic'), topic) : null,
      ch.type === 0 ? h('div.field', null, h('label', { for: 'c-slow' }, 'Slowmode'), slow) : null,
      h('div.field.check', null, h('label', { for: 'c-nsfw' }, 'Age-restricted channel'), nsfw),
      h('button.primary', { type: 'submit' }, 'Save Changes'),
    ),
  );
}

/* One overwrite: a tri-state (deny / inherit / allow) per permission. */
function overwriteEditor(el, ch, ow, back) {
  const g = state.guilds.get(ch.guild_id);
  const target = ow.type === 0 ? g.roles.get(ow.id)?.name || 'role' : displayName(state.users.get(ow.id), member(g.id, ow.id));
  let allow = BigInt(ow.allow || 0);
  let deny = BigInt(ow.deny || 0);
  const rows = EDITABLE.filter(([k]) => k !== 'ADMINISTRATOR' && k !== 'MANAGE_GUILD' && k !== 'KICK_MEMBERS' && k !== 'BAN_MEMBERS' && k !== 'MODERATE_MEMBERS' && k !== 'VIEW_AUDIT_LOG' && k !== 'MANAGE_NICKNAMES').map(([key, label]) => {
    const bit = P[key];
    const cur = allow & bit ? 'allow' : deny & bit ? 'deny' : 'inherit';
    const name = 'ow-' + key;
    return h(
      'fieldset.tri',
      null,
      h('legend', null, label),
      ['deny', 'inherit', 'allow'].map((v) =>
        h(
          'label.tri-opt.' + v,
          null,
          h('input', {
            type: 'radio',
            name,
            value: v,
            checked: cur === v,
            onchange: () => {
              allow &= ~bit;
              deny &= ~bit;
              if (v === 'allow') allow |= bit;
              if (v === 'deny') deny |= bit;
            },
          }),
          h('span', null, v === 'deny' ? '✕ Deny' : v === 'allow' ? '✓ Allow' : '/ Inherit'),
        ),
      ),
    );
  });
  const err = h('p.form-error', { role: 'alert' });
  clear(
    el,
    h('button.link', { type: 'button', onclick: back }, '← Back'),
    h('h3', null, `Permissions for ${ow.type === 0 ? atRole(target) : target} in #${ch.name}`),
    err,
    h('div.tri-list', null, rows),
    h(
      'div.row',
      null,
      h(
        'button.primary',
        {
          type: 'button',
          onclick: async () => {
            try {
              await put(`/channels/${ch.id}/permissions/${ow.id}`, { type: ow.type, allow: allow.toString(), deny: deny.toString() });
              toast('Permissions saved.');
              back();
            } catch (x) {
              err.textContent = errorText(x);
            }
          },
        },
        'Save Changes',
      ),
      ow.allow !== undefined && ow.id !== ch.guild_id
        ? h(
            'button.danger',
            {
              type: 'button',
              onclick: async () => {
                try {
                  await del(`/channels/${ch.id}/permissions/${ow.id}`);
                  back();
                } catch (x) {
                  err.textContent = errorText(x);
                }
              },
            },
            'Remove overwrite',
          )
        : null,
    ),
  );
  $('input:checked', el)?.focus();
}

function overwrites(el, ch) {
  const g = state.guilds.get(ch.guild_id);
  // The list is drawn from the channel as the client knows it: redrawn when its
  // CHANNEL_UPDATE arrives (after a save it may come later than the answer), unless an
  // overwrite is being edited.
  let listing = false;
  const off = on('channels', (gid) => (el.isConnected ? gid === g.id && listing && render() : off()));
  const edit = (...args) => {
    listing = false;
    overwriteEditor(...args);
  };
  const render = () => {
    listing = true;
    const fresh = state.channels.get(ch.id) || ch;
    const ows = fresh.permission_overwrites || [];
    const everyone = ows.find((o) => o.id === g.id) || { id: g.id, type: 0 };
    const list = [everyone, ...ows.filter((o) => o.id !== g.id)];
    const addable = [
      ...[...g.roles.values()].filter((r) => r.id !== g.id && !ows.some((o) => o.id === r.id)).map((r) => [`0:${r.id}`, '@' + r.name]),
      ...[...(state.members.get(g.id) || new Map()).values()].filter((m) => !ows.some((o) => o.id === m.user.id)).map((m) => [`1:${m.user.id}`, displayName(m.user, m)]),
    ];
    const pick = h('select#ow-add', { 'aria-label': 'Add a role or member' }, h('option', { value: '' }, 'Add a role or member…'), addable.map(([v, l]) => h('option', { value: v }, l)));
    pick.addEventListener('change', () => {
      if (!pick.value) return;
      const [type, id] = pick.value.split(':');
      edit(el, fresh, { id, type: Number(type) }, render);
    });
    clear(
      el,
      h('h3', null, 'Permission overwrites'),
      h('p', null, 'Choose who can do what in this channel. Overwrites are applied on top of server roles.'),
      pick,
      h(
        'ul.settings-list',
        { role: 'list' },
        list.map((o) => {
          const name = o.type === 0 ? atRole(g.roles.get(o.id)?.name || 'deleted role') : displayName(state.users.get(o.id), member(g.id, o.id));
          return h('li', null, h('span.grow', null, name), h('button.secondary', { type: 'button', 'aria-label': `Edit permissions of ${name}`, onclick: () => edit(el, fresh, o, render) }, 'Edit'));
        }),
      ),
    );
  };
  render();
}
