/*
 * Direct messages and group DMs (spec/rest-invites.md §2): opening one from a profile or
 * from a picker of the people you share servers with.
 */
import { h, $$, displayName, avatar } from '../dom.js';
import { post } from '../api.js';
import { state, dmName, apply } from '../store.js';

export { dmName };
import { navigate } from '../router.js';
import { modal, errorText } from './dialogs.js';

export async function openDm(userId) {
  const ch = await post('/users/@me/channels', { recipient_id: userId });
  apply('CHANNEL_CREATE', ch); // before the gateway's copy, so the route finds it
  navigate(`/channels/@me/${ch.id}`);
}

/* People the user can reach: members of the guilds they share, known so far. */
function knownPeople() {
  const seen = new Map();
  for (const map of state.members.values()) {
    for (const m of map.values()) {
      if (m.user && !m.user.bot && state.me && m.user.id !== state.me.id) seen.set(m.user.id, m.user);
    }
  }
  return [...seen.values()].sort((a, b) => displayName(a).localeCompare(displayName(b)));
}

export function newDmDialog() {
  const people = knownPeople();
  const picked = new Set();
  const error = h('p.form-error', { role: 'alert' });
  const filter = h('input#dm-filter', { type: 'search', placeholder: 'Type the username of a friend', 'aria-label': 'Find people', autocomplete: 'off' });
  const list = h('ul.pick-list', { role: 'list', 'aria-label': 'People' });
  const count = h('p.pick-count', { 'aria-live': 'polite' });
  const render = () => {
    const q = filter.value.trim().toLowerCase();
    list.replaceChildren(
      ...people
        .filter((u) => !q || u.username.includes(q) || displayName(u).toLowerCase().includes(q))
        .map((u) =>
          h(
            'li',
            null,
            h(
              'label.pick',
              null,
              h('input', {
                type: 'checkbox',
                checked: picked.has(u.id),
                onchange: (e) => {
                  if (e.target.checked) picked.add(u.id);
                  else picked.delete(u.id);
                  count.textContent = picked.size ? `${picked.size} selected` : '';
                },
              }),
              avatar(u, 28),
              h('span', null, displayName(u), h('small', null, ' ' + u.username)),
            ),
          ),
        ),
    );
    if (!list.childElementCount) list.append(h('li.empty', null, people.length ? 'Nobody matches.' : 'Join a server to find people to talk to.'));
  };
  filter.addEventListener('input', render);
  render();
  modal({
    title: 'Select Friends',
    body: h('div.dm-picker', null, h('p', null, 'You can add up to 9 people to a group.'), error, filter, count, list),
    actions: [
      { label: 'Cancel' },
      {
        label: 'Create DM',
        primary: true,
        onClick: async (close) => {
          const ids = [...picked];
          if (!ids.length) {
            error.textContent = 'Pick at least one person.';
            return;
          }
          try {
            const ch = ids.length === 1 ? await post('/users/@me/channels', { recipient_id: ids[0] }) : await post('/users/@me/channels', { recipients: ids });
            close();
            apply('CHANNEL_CREATE', ch);
            navigate(`/channels/@me/${ch.id}`);
          } catch (err) {
            error.textContent = errorText(err);
          }
        },
      },
    ],
  });
  $$('.pick-list input')[0]?.focus();
}
