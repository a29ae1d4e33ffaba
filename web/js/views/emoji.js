/*
 * The emoji picker: Unicode emoji by group with a search box. Its list (emoji-data.js,
 * ~24 KB) is loaded the first time the picker opens, not with the page. Resolves with the
 * chosen emoji, or null when closed.
 */
import { h, $, $$ } from '../dom.js';

let data = null;
const RECENT_KEY = 'hearth.recent-emoji';

async function load() {
  if (!data) {
    const { EMOJI } = await import('../emoji-data.js');
    data = EMOJI.map(([group, list]) => [
      group,
      list.split('|').map((s) => {
        const i = s.search(/[ -~]/);
        return [s.slice(0, i), s.slice(i)];
      }),
    ]);
  }
  return data;
}

export function pickEmoji(anchor) {
  return new Promise((resolve) => {
    load().then((groups) => {
      document.querySelector('.emoji-picker')?.remove();
      let done = false;
      const finish = (value) => {
        if (done) return;
        done = true;
        picker.remove();
        document.removeEventListener('mousedown', outside, true);
        if (value) {
          const recent = [value, ...recentList().filter((x) => x !== value)].slice(0, 16);
          localStorage.setItem(RECENT_KEY, JSON.stringify(recent));
        }
        if (anchor && anchor.isConnected && !value) anchor.focus();
        resolve(value);
      };
      const outside = (e) => !picker.contains(e.target) && finish(null);
      const search = h('input.emoji-search', { type: 'search', placeholder: 'Find the perfect emoji', 'aria-label': 'Search emoji', autocomplete: 'off' });
      const grid = h('div.emoji-grid', { role: 'listbox', 'aria-label': 'Emoji' });
      const status = h('p.sr-only', { 'aria-live': 'polite' });
      const cell = ([e, name]) => h('button.emoji-cell', { type: 'button', role: 'option', 'aria-label': name, title: `:${name.replace(/ /g, '_')}:`, tabindex: -1, onclick: () => finish(e) }, e);
      const render = () => {
        const q = search.value.trim().toLowerCase();
        const parts = [];
        if (!q) {
          const recent = recentList();
          if (recent.length) {
            const named = recent.map((e) => [e, nameOf(groups, e)]);
            parts.push(h('h4', null, 'Frequently used'), h('div.emoji-row', null, named.map(cell)));
          }
          for (const [group, list] of groups) parts.push(h('h4', null, group), h('div.emoji-row', null, list.map(cell)));
        } else {
          const hits = groups.flatMap(([, list]) => list.filter(([, n]) => n.includes(q))).slice(0, 160);
          parts.push(h('div.emoji-row', null, hits.map(cell)));
          status.textContent = hits.length ? `${hits.length} emoji found` : 'No emoji found';
        }
        grid.replaceChildren(...parts);
        const first = $('.emoji-cell', grid);
        if (first) first.tabIndex = 0;
      };
      const picker = h('div.emoji-picker', { role: 'dialog', 'aria-label': 'Emoji picker' }, search, status, grid);
      search.addEventListener('input', render);
      search.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') {
          e.preventDefault();
          const first = $('.emoji-cell', grid);
          if (first) finish(first.textContent);
        } else if (e.key === 'ArrowDown') {
          e.preventDefault();
          $('.emoji-cell', grid)?.focus();
        }
      });
      picker.addEventListener('keydown', (e) => {
        if (e.key === 'Escape') {
          e.preventDefault();
          e.stopPropagation();
          finish(null);
          return;
        }
        if (!e.target.classList.contains('emoji-cell')) return;
        const cells = $$('.emoji-cell', grid);
        const i = cells.indexOf(e.target);
        const perRow = Math.max(1, Math.round(grid.clientWidth / (e.target.offsetWidth || 40)));
        const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: perRow, ArrowUp: -perRow }[e.key];
        if (!step) return;
        e.preventDefault();
        const j = i + step;
        if (j < 0) search.focus();
        else if (j < cells.length) {
          cells.forEach((c) => (c.tabIndex = -1));
          cells[j].tabIndex = 0;
          cells[j].focus();
        }
      });
      render();
      document.body.append(picker);
      const r = anchor.getBoundingClientRect();
      const w = picker.offsetWidth;
      const ht = picker.offsetHeight;
      picker.style.left = Math.max(8, Math.min(r.right - w, innerWidth - w - 8)) + 'px';
      picker.style.top = (r.top - ht - 8 > 8 ? r.top - ht - 8 : Math.min(r.bottom + 8, innerHeight - ht - 8)) + 'px';
      setTimeout(() => document.addEventListener('mousedown', outside, true));
      search.focus();
    });
  });
}

function recentList() {
  try {
    return JSON.parse(localStorage.getItem(RECENT_KEY)) || [];
  } catch {
    return [];
  }
}

function nameOf(groups, e) {
  for (const [, list] of groups) for (const [x, n] of list) if (x === e) return n;
  return e;
}
