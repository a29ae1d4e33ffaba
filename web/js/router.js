/*
 * Client-side routes (hearthd serves index.html for each of them, spec/web-client.md):
 *   /login, /register, /invite/CODE, /channels/@me[/DM_ID], /channels/GUILD_ID[/CHANNEL_ID]
 */
import { emit } from './store.js';

export function parse(path = location.pathname) {
  const seg = path.split('?')[0].split('/').filter(Boolean);
  if (seg[0] === 'register') return { name: 'register' };
  if (seg[0] === 'login') return { name: 'login' };
  if (seg[0] === 'invite' && seg[1]) return { name: 'invite', code: decodeURIComponent(seg[1]) };
  if (seg[0] === 'channels') {
    return { name: 'channels', guildId: seg[1] || '@me', channelId: seg[2] || null, messageId: seg[3] || null };
  }
  return { name: 'channels', guildId: '@me', channelId: null };
}

export let route = parse();

export function navigate(path, { replace = false } = {}) {
  if (path !== location.pathname + location.search) {
    if (replace) history.replaceState(null, '', path);
    else history.pushState(null, '', path);
  }
  route = parse(path);
  emit('route', route);
}

addEventListener('popstate', () => {
  route = parse();
  emit('route', route);
});

/* Links marked data-route navigate inside the app instead of loading a page. */
document.addEventListener('click', (e) => {
  const a = e.target.closest && e.target.closest('a[data-route]');
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  navigate(a.getAttribute('href'));
});
