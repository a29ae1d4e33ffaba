/* The pinned messages of the channel in view (GET /channels/{id}/messages/pins). */
import { h, clear, displayName } from '../dom.js';
import { get } from '../api.js';
import { state } from '../store.js';
import { route, navigate } from '../router.js';
import { renderContent } from '../markdown.js';
import { formatStamp } from '../time.js';
import { panelHeader } from './panel.js';
import { live } from './members.js';
import { errorText } from './dialogs.js';

export function renderPins() {
  const channelId = route.channelId;
  const aside = h('aside.panel.pins', { 'aria-label': 'Pinned messages' });
  const body = h('div.panel-scroll', { 'aria-busy': 'true' }, h('p.empty', null, 'Loading…'));
  aside.append(panelHeader('Pinned Messages'), body);
  const load = async () => {
    try {
      const res = await get(`/channels/${channelId}/messages/pins?limit=50`);
      const items = (res.items || res || []).map((it) => it.message || it);
      body.removeAttribute('aria-busy');
      clear(
        body,
        items.length
          ? h(
              'ul.result-list',
              { role: 'list' },
              items.map((m) => {
                m.author && state.users.set(m.author.id, state.users.get(m.author.id) || m.author);
                return h(
                  'li.result',
                  null,
                  h('p.result-meta', null, h('strong', null, displayName(m.author)), ' ', h('time', { datetime: m.timestamp }, formatStamp(new Date(m.timestamp)))),
                  h('div.content', null, renderContent(m.content, { guildId: state.channels.get(channelId)?.guild_id })),
                  h('button.link.jump', { type: 'button', onclick: () => navigate(`/channels/${route.guildId}/${channelId}/${m.id}`) }, 'Jump'),
                );
              }),
            )
          : h('p.empty', null, 'This channel doesn’t have any pinned messages… yet.'),
      );
    } catch (err) {
      body.removeAttribute('aria-busy');
      clear(body, h('p.form-error', { role: 'alert' }, errorText(err)));
    }
  };
  live(aside, ['pins'], (cid) => cid === channelId && load());
  load();
  return aside;
}
