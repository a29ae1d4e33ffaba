/* Small DOM helpers shared by every view. User text only ever enters the page through
 * text nodes (h() children, textContent), never through innerHTML. */

/* h('button.primary#id', {onclick, 'aria-label': ...}, child, ...) */
export function h(tag, attrs, ...children) {
  const m = /^([a-z0-9-]+)((?:[.#][\w-]+)*)$/i.exec(tag);
  const el = document.createElement(m ? m[1] : tag);
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'text') el.textContent = v;
      else if (k in el && typeof v !== 'string') el[k] = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

/* Announces text to screen readers through the page's polite live region. */
let liveTimer = 0;
export function announce(text, assertive = false) {
  const region = document.getElementById(assertive ? 'alert' : 'live');
  if (!region) return;
  const line = h('p', null, text);
  region.append(line);
  while (region.childElementCount > 5) region.firstElementChild.remove();
  clearTimeout(liveTimer);
  liveTimer = setTimeout(() => region.replaceChildren(), 15000);
}

/* A short message at the bottom of the screen (also announced). */
export function toast(text, kind = 'info') {
  let box = document.getElementById('toasts');
  if (!box) document.body.append((box = h('div#toasts.toasts')));
  const t = h('div.toast.' + kind, null, text);
  box.append(t);
  announce(text, kind === 'error');
  setTimeout(() => t.remove(), 5000);
}

/*
 * Roving focus: one tab stop for a list of items; arrow keys, Home and End move among
 * them. The items are found with `selector` inside `container` at key time.
 */
export function roving(container, selector, { horizontal = false, onMove } = {}) {
  container.addEventListener('keydown', (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const items = $$(selector, container).filter((x) => x.offsetParent !== null);
    const i = items.indexOf(document.activeElement);
    if (i < 0) return;
    const prev = horizontal ? 'ArrowLeft' : 'ArrowUp';
    const next = horizontal ? 'ArrowRight' : 'ArrowDown';
    let j = -1;
    if (e.key === prev) j = Math.max(0, i - 1);
    else if (e.key === next) j = Math.min(items.length - 1, i + 1);
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = items.length - 1;
    if (j < 0) return;
    e.preventDefault();
    focusItem(items, j);
    if (onMove) onMove(items[j]);
  });
  container.addEventListener('focusin', (e) => {
    const items = $$(selector, container);
    if (!items.includes(e.target)) return;
    for (const x of items) x.tabIndex = x === e.target ? 0 : -1;
  });
}

export function focusItem(items, j) {
  items.forEach((x, k) => (x.tabIndex = k === j ? 0 : -1));
  items[j].focus();
}

/* Makes sure exactly one item of a roving list is a tab stop (the current one if any). */
export function fixTabStop(container, selector, current) {
  const items = $$(selector, container);
  if (!items.length) return;
  const cur = (current && items.find((x) => x === current)) || items.find((x) => x.tabIndex === 0) || items[0];
  for (const x of items) x.tabIndex = x === cur ? 0 : -1;
}

export function initials(name) {
  const words = String(name).trim().split(/\s+/).slice(0, 3);
  return words.map((w) => [...w][0] || '').join('') || '?';
}

/* A stable colour for a user's avatar. */
export function avatarColor(id) {
  const palette = ['#5865f2', '#3ba55c', '#faa61a', '#ed4245', '#eb459e', '#2f8fa4', '#9b59b6'];
  let n = 0;
  for (const c of String(id)) n = (n * 31 + c.charCodeAt(0)) >>> 0;
  return palette[n % palette.length];
}

export function avatar(user, size = 40) {
  const name = user ? user.global_name || user.username : '?';
  const el = h('span.avatar', { 'aria-hidden': 'true' }, initials(name).slice(0, 2).toUpperCase());
  el.style.background = avatarColor(user ? user.id : 0);
  el.style.width = el.style.height = size + 'px';
  el.style.fontSize = Math.round(size * 0.4) + 'px';
  return el;
}

export function displayName(user, member) {
  if (member && member.nick) return member.nick;
  if (!user) return 'Unknown user';
  return user.global_name || user.username;
}

/* Resolves when the browser has laid out the current DOM. */
export const nextFrame = () => new Promise((r) => requestAnimationFrame(() => r()));
