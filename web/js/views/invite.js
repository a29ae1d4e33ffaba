/*
 * Invites (spec/rest-invites.md): creating a link to a channel, and the invitation screen
 * that /invite/CODE opens (GET /invites/CODE, then POST /invites/CODE to join).
 */
import { h, toast } from '../dom.js';
import { get, post, qs } from '../api.js';
import { state, on } from '../store.js';
import { navigate } from '../router.js';
import { modal, errorText } from './dialogs.js';

export function parseInviteCode(text) {
  const t = String(text || '').trim();
  const m = /(?:\/invite\/|^)([A-Za-z0-9-]{2,32})\/?$/.exec(t);
  return m ? m[1] : null;
}

export const inviteLink = (code) => `${location.origin}/invite/${code}`;

export async function createInvite(channel) {
  const status = h('p.form-error', { role: 'alert' });
  const input = h('input#invite-link', { readonly: true, value: 'Creating a link…', 'aria-label': 'Invite link' });
  const copy = h(
    'button.primary',
    {
      type: 'button',
      disabled: true,
      onclick: async () => {
        input.select();
        try {
          await navigator.clipboard.writeText(input.value);
          copy.textContent = 'Copied';
        } catch {
          copy.textContent = 'Select and copy';
        }
      },
    },
    'Copy',
  );
  const expiry = h(
    'select#invite-expiry',
    { 'aria-label': 'Expire after' },
    [
      [1800, '30 minutes'],
      [3600, '1 hour'],
      [86400, '1 day'],
      [604800, '7 days'],
      [0, 'Never'],
    ].map(([v, l]) => h('option', { value: v, selected: v === 86400 }, l)),
  );
  const make = async () => {
    copy.disabled = true;
    try {
      const inv = await post(`/channels/${channel.id}/invites`, { max_age: Number(expiry.value), max_uses: 0, unique: false });
      input.value = inviteLink(inv.code);
      copy.disabled = false;
      copy.textContent = 'Copy';
      status.textContent = '';
    } catch (err) {
      input.value = '';
      status.textContent = errorText(err);
    }
  };
  expiry.addEventListener('change', make);
  modal({
    title: `Invite friends to ${state.guilds.get(channel.guild_id)?.name || 'this server'}`,
    body: h(
      'div.invite-create',
      null,
      h('p', null, `Send a server invite link to a friend. They will land in #${channel.name}.`),
      status,
      h('div.copy-row', null, input, copy),
      h('label.inline', { for: 'invite-expiry' }, 'Expire after ', expiry),
    ),
  });
  await make();
}

export async function openInvite(code) {
  const body = h('div.invite-card', { 'aria-busy': 'true' }, h('p', null, 'Looking up the invite…'));
  const m = modal({ title: 'Join a server', body, label: 'Invitation' });
  let inv;
  try {
    inv = await get(`/invites/${encodeURIComponent(code)}${qs({ with_counts: true })}`);
  } catch (err) {
    body.replaceChildren(h('p.form-error', { role: 'alert' }, err.code === 10006 ? 'This invite is invalid or has expired.' : errorText(err)));
    body.removeAttribute('aria-busy');
    return;
  }
  const g = inv.guild || {};
  // Right after a page load the gateway may not have listed the user's servers yet: ask
  // the server rather than offer to join one the user is already in.
  let already = state.guilds.has(g.id);
  if (!already) {
    try {
      already = (await get('/users/@me/guilds')).some((x) => x.id === g.id);
    } catch {
      already = false;
    }
  }
  const join = h('button.primary.block', { type: 'button', autofocus: true }, already ? 'Go to server' : 'Accept Invite');
  body.removeAttribute('aria-busy');
  body.replaceChildren(
    h('p.invited-by', null, inv.inviter ? `${inv.inviter.global_name || inv.inviter.username} invited you to join` : 'You have been invited to join'),
    h('h3.invite-guild', null, g.name || 'a server'),
    inv.approximate_member_count != null
      ? h('p.counts', null, h('span.dot.online', { 'aria-hidden': 'true' }), `${inv.approximate_presence_count || 0} Online `, h('span.dot', { 'aria-hidden': 'true' }), `${inv.approximate_member_count} Members`)
      : null,
    join,
  );
  join.focus();
  join.addEventListener('click', async () => {
    const go = () => {
      m.close();
      navigate(`/channels/${g.id}${inv.channel ? '/' + inv.channel.id : ''}`);
    };
    if (already) return go();
    join.disabled = true;
    try {
      await post(`/invites/${encodeURIComponent(code)}`, {});
      if (state.guilds.has(g.id)) go();
      else {
        const off = on('guild-created', (id) => {
          if (id === g.id) {
            off();
            go();
          }
        });
      }
    } catch (err) {
      join.disabled = false;
      toast(err.code === 40007 ? 'You are banned from this server.' : errorText(err), 'error');
    }
  });
}
