/*
 * Hearth's web client: the entry point. Shows the log-in or registration screen until
 * there is a token, then starts the app (views/app.js). No build step: these ES modules
 * are served as they are by hearthd (spec/web-client.md).
 */
import { h, clear } from './dom.js';
import { auth, setUnauthorizedHandler } from './api.js';
import { on } from './store.js';
import { route, navigate } from './router.js';
import { renderAuth, goLogin } from './views/auth.js';
import { startApp, stopApp, isRunning } from './views/app.js';

const root = document.getElementById('app');

function afterLogin() {
  const next = new URLSearchParams(location.search).get('next');
  navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/channels/@me', { replace: true });
}

/* Logging out forgets the token and starts the page afresh: no state of the account
 * survives in memory. */
export function logout() {
  stopApp();
  auth.token = null;
  localStorage.removeItem('hearth.status');
  location.replace('/login');
}

setUnauthorizedHandler(() => logout());

function show(r) {
  if (r.name === 'login' || r.name === 'register') {
    if (auth.token) return afterLogin();
    if (isRunning()) stopApp();
    renderAuth(root, r.name, afterLogin);
    return;
  }
  if (!auth.token) return goLogin();
  if (!isRunning()) {
    clear(root, h('div.loading', { role: 'status' }, h('img', { src: '/img/hearth.svg', alt: '', width: 64, height: 64 }), h('p', null, 'Connecting…')));
    startApp(root, auth.token, { logout });
  }
}

on('route', show);
on('logout', logout);
show(route);
