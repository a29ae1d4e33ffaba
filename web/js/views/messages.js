/*
 * A channel's messages: the list (history loaded as you scroll up, day separators,
 * messages grouped by author, edited markers, replies, mentions, attachments, reactions,
 * threads), the actions on a message, and the composer below it. Used for the channel in
 * view and for a thread in the side panel.
 *
 * Keyboard: the list is one tab stop; Up and Down move between messages; on a message,
 * E edits, R replies, P pins, T starts a thread, + reacts, Delete deletes, Escape goes
 * back to the composer. Tab from a message reaches its actions.
 */
import { icon } from '../icons.js';
import { h, clear, $, $$, avatar, displayName, announce, toast, nextFrame } from '../dom.js';
import { get, patch, del, put, attachmentUrl, post } from '../api.js';
import { state, on, emit, page, addHistory, apply, member, mentionsMe, markRead, findMessage } from '../store.js';
import { dayKey, formatDay, formatStamp, formatTime, formatFull, cmpId } from '../time.js';
import { renderContent, plainText } from '../markdown.js';
import { channelPerms, can, P } from '../perms.js';
import { confirmDialog, errorText, formDialog } from './dialogs.js';
import { Composer } from './composer.js';
import { pickEmoji, openProfile } from './lazy.js';

const PAGE = 50;
const GROUP_MS = 7 * 60 * 1000;

export function roleColor(guildId, userId) {
  const g = guildId && state.guilds.get(guildId);
  const m = g && member(guildId, userId);
  if (!m) return null;
  let best = null;
  for (const rid of m.roles || []) {
    const r = g.roles.get(rid);
    if (r && r.color && (!best || r.position > best.position)) best = r;
  }
  return best ? '#' + best.color.toString(16).padStart(6, '0') : null;
}

export function channelLabel(ch) {
  if (!ch) return 'this channel';
  // A one-to-one DM is "@Name", as on Discord ("Message @Name"); a group DM its names.
  if (ch.type === 1) return '@' + (ch.recipients || []).map((u) => displayName(state.users.get(u.id) || u)).join(', ');
  if (!ch.guild_id) return ch.name || (ch.recipients || []).map((u) => displayName(u)).join(', ');
  return (ch.type === 11 || ch.type === 12 ? '' : '#') + ch.name;
}

const emojiKey = (e) => (e.id ? `${e.name}:${e.id}` : e.name);

export class MessageView {
  constructor(channelId, { thread = false } = {}) {
    this.channelId = channelId;
    this.thread = thread;
    this.ch = state.channels.get(channelId);
    this.guildId = this.ch ? this.ch.guild_id : null;
    this.editing = null;
    this.loadingOlder = false;
    this.loadingNewer = false;
    this.unsubs = [];
    const label = channelLabel(this.ch);
    this.top = h('div.list-top');
    this.list = h('ol.messages', { id: thread ? null : 'messages', 'aria-label': `Messages in ${label}` });
    this.scroller = h('div.scroller', null, this.top, this.list);
    this.jumpBar = h('div.jump-bar', { hidden: true }, h('span', null, 'You’re viewing older messages'), h('button.link', { type: 'button', onclick: () => this.jumpToPresent() }, 'Jump to present'));
    this.typingEl = h('div.typing', { 'aria-hidden': 'true' });
    this.composer = new Composer(this);
    this.el = h('div.msgview', null, this.scroller, this.jumpBar, this.composer.el, this.typingEl);
    this.scroller.addEventListener('scroll', () => this.onScroll(), { passive: true });
    this.list.addEventListener('keydown', (e) => this.onKey(e));
    this.list.addEventListener('focusin', (e) => this.onFocusIn(e));
    this.list.addEventListener('focusout', (e) => this.onFocusOut(e));
    this.unsubs.push(
      on('messages', (ev) => ev.channelId === this.channelId && this.onChange(ev)),
      on('typing', (cid) => cid === this.channelId && this.renderTyping()),
      on('message-created', (m) => this.announceNew(m)),
      on('check-read', () => this.checkRead()),
    );
    this.onVisible = () => this.checkRead();
    document.addEventListener('visibilitychange', this.onVisible);
  }

  destroy() {
    this.unsubs.forEach((u) => u());
    document.removeEventListener('visibilitychange', this.onVisible);
    this.composer.destroy();
  }

  get page() {
    return page(this.channelId);
  }

  get perms() {
    return channelPerms(this.channelId);
  }

  /* The message actions (pin, delete, react...) depend on the permissions: a role given or
   * taken, a time-out, an overwrite changed redraws the messages, only when they changed. */
  updatePerms() {
    if (this.drawnPerms !== undefined && this.drawnPerms !== this.perms) this.renderAll();
  }

  async init(jumpTo) {
    const p = this.page;
    if (jumpTo) return this.jumpTo(jumpTo);
    if (!p.loaded) {
      this.top.replaceChildren(h('p.loading-line', { role: 'status' }, 'Loading messages…'));
      try {
        const msgs = await get(`/channels/${this.channelId}/messages?limit=${PAGE}`);
        addHistory(this.channelId, msgs, { older: msgs.length === PAGE, newer: false });
      } catch (err) {
        this.top.replaceChildren(h('p.form-error', { role: 'alert' }, errorText(err)));
        return;
      }
    } else {
      this.renderAll();
    }
    this.scrollToBottom();
    this.checkRead();
  }

  /* ---- rendering ---- */

  startsGroup(prev, m) {
    if (!prev || prev.type === 7 || m.type === 7 || m.message_reference) return true;
    if (!prev.author || !m.author || prev.author.id !== m.author.id) return true;
    const a = new Date(prev.timestamp);
    const b = new Date(m.timestamp);
    return b - a > GROUP_MS || dayKey(a) !== dayKey(b);
  }

  renderTop() {
    const p = this.page;
    if (p.hasOlder) {
      this.top.replaceChildren(h('div.skeleton', { 'aria-hidden': 'true' }));
      return;
    }
    const ch = this.ch;
    const title = this.thread ? ch?.name : ch && !ch.guild_id ? channelLabel(ch) : `Welcome to ${channelLabel(ch)}!`;
    this.top.replaceChildren(
      h(
        'div.channel-start',
        null,
        h('div.start-icon', { 'aria-hidden': 'true' }, ch && !ch.guild_id ? '@' : '#'),
        h('h3', null, title),
        h('p', null, ch && !ch.guild_id ? 'This is the beginning of your direct message history.' : `This is the start of ${channelLabel(ch)}.`),
      ),
    );
  }

  renderAll() {
    const p = this.page;
    const focusedId = this.list.contains(document.activeElement) ? document.activeElement.closest('.msg')?.dataset.id : null;
    const items = [];
    let prev = null;
    for (const m of p.list) {
      const d = new Date(m.timestamp);
      if (!prev || dayKey(new Date(prev.timestamp)) !== dayKey(d)) items.push(daySep(d));
      items.push(this.item(m, this.startsGroup(prev, m)));
      prev = m;
    }
    clear(this.list, items);
    this.drawnPerms = this.perms;
    this.renderTop();
    this.jumpBar.hidden = !p.hasNewer;
    this.fixTabStop(focusedId);
    if (focusedId) $(`#${this.idFor(focusedId)}`, this.list)?.focus({ preventScroll: true });
  }

  idFor(id) {
    return (this.thread ? 't-' : 'm-') + id;
  }

  fixTabStop(prefer) {
    const msgs = $$('.msg', this.list);
    if (!msgs.length) return;
    const cur = (prefer && msgs.find((x) => x.dataset.id === prefer)) || msgs.find((x) => x.tabIndex === 0) || msgs[msgs.length - 1];
    for (const x of msgs) x.tabIndex = x === cur ? 0 : -1;
  }

  onChange(ev) {
    const p = this.page;
    if (ev.kind === 'reset') {
      const anchor = this.scroller.scrollHeight - this.scroller.scrollTop;
      const bottom = this.atBottom();
      this.renderAll();
      if (this.restoreAnchor) this.scroller.scrollTop = this.scroller.scrollHeight - anchor;
      else if (bottom) this.scrollToBottom();
      return;
    }
    if (ev.kind === 'add') {
      const i = p.list.indexOf(ev.msg);
      const bottom = this.atBottom() || (ev.msg.author && state.me && ev.msg.author.id === state.me.id);
      if (i === p.list.length - 1) {
        const prev = p.list[i - 1];
        const d = new Date(ev.msg.timestamp);
        if (!prev || dayKey(new Date(prev.timestamp)) !== dayKey(d)) this.list.append(daySep(d));
        const onlyOne = $$('.msg', this.list).length === 0;
        const lastWasStop = this.list.querySelector('.msg:last-of-type')?.tabIndex === 0;
        const el = this.item(ev.msg, this.startsGroup(prev, ev.msg));
        el.tabIndex = onlyOne || lastWasStop ? 0 : -1;
        if (lastWasStop && !this.list.contains(document.activeElement)) this.list.querySelector('.msg:last-of-type').tabIndex = -1;
        this.list.append(el);
      } else {
        this.renderAll();
      }
      if (bottom) this.scrollToBottom();
      this.checkRead();
      return;
    }
    if (ev.kind === 'update') {
      const old = $(`#${this.idFor(ev.msg.id)}`, this.list);
      if (!old || this.editing === ev.msg.id) return;
      const el = this.item(ev.msg, old.classList.contains('group-start'));
      el.tabIndex = old.tabIndex;
      const hadFocus = old.contains(document.activeElement);
      old.replaceWith(el);
      if (hadFocus) el.focus({ preventScroll: true });
      return;
    }
    if (ev.kind === 'delete') {
      const old = $(`#${this.idFor(ev.msg.id)}`, this.list);
      if (!old) return;
      const bottom = this.atBottom();
      const top = this.scroller.scrollTop;
      const hadFocus = old.contains(document.activeElement);
      this.renderAll();
      if (bottom) this.scrollToBottom();
      else this.scroller.scrollTop = top;
      if (hadFocus) this.composer.focus();
    }
  }

  item(m, groupStart) {
    const me = state.me;
    const author = m.author || { id: '0', username: 'unknown' };
    const mem = this.guildId && member(this.guildId, author.id);
    const name = displayName(state.users.get(author.id) || author, mem);
    const when = new Date(m.timestamp);
    const mine = me && author.id === me.id;
    const cls = ['msg'];
    if (groupStart) cls.push('group-start');
    if (mentionsMe(m)) cls.push('mentioned');
    if (m.pending) cls.push('pending');
    if (m.failed) cls.push('failed');
    const li = h('li', { class: cls.join(' '), id: this.idFor(m.id), dataset: { id: m.id }, tabindex: -1, 'aria-labelledby': null });

    if (m.type === 7 || m.type === 6 || m.type === 18 || m.type === 1 || m.type === 2) {
      li.classList.add('system');
      const verb = { 7: 'joined the server.', 6: 'pinned a message to this channel.', 18: `started a thread: ${m.content}`, 1: 'added someone to the group.', 2: 'left the group.' }[m.type];
      li.append(h('span.sys-icon', { 'aria-hidden': 'true' }, icon(m.type === 7 ? 'join' : m.type === 6 ? 'pin' : 'thread', 18)), h('div.body', null, h('span.author', null, name), ' ', verb, ' ', h('time', { datetime: m.timestamp, title: formatFull(when) }, formatStamp(when))));
      return li;
    }

    if (m.message_reference && m.type === 19) {
      const ref = m.referenced_message;
      li.append(
        h(
          'div.reply-ref',
          null,
          ref
            ? h(
                'button.link',
                { type: 'button', tabindex: -1, onclick: () => this.jumpTo(ref.id), 'aria-label': `Replying to ${displayName(ref.author)}: ${plainText(ref.content).slice(0, 80)}. Jump to it` },
                h('span.reply-author', null, '@' + displayName(state.users.get(ref.author.id) || ref.author)),
                ' ',
                h('span.reply-text', null, plainText(ref.content).slice(0, 120) || 'Click to see attachment'),
              )
            : h('em', null, 'Original message was deleted'),
        ),
      );
    }
    const body = h('div.body');
    if (groupStart) {
      const a = avatar(author, 40);
      a.classList.add('msg-avatar');
      li.append(a);
      const nameBtn = h('button.author', { type: 'button', tabindex: -1, onclick: (e) => openProfile(e.currentTarget, author.id, this.guildId) }, name);
      const color = roleColor(this.guildId, author.id);
      if (color) nameBtn.style.color = color;
      body.append(
        h('h3.msg-head', null, nameBtn, author.bot ? h('span.tag', null, 'BOT') : null, h('time', { datetime: m.timestamp, title: formatFull(when) }, formatStamp(when))),
      );
    } else {
      li.append(h('time.hover-time', { datetime: m.timestamp, title: formatFull(when), 'aria-hidden': 'true' }, formatTime(when)));
      body.append(h('span.sr-only', null, `${name}, ${formatStamp(when)}: `));
    }
    const content = h('div.content', null, renderContent(m.content, { guildId: this.guildId }));
    if (m.edited_timestamp) {
      content.append(' ', h('span.edited', { title: 'Edited ' + formatFull(new Date(m.edited_timestamp)) }, '(edited)'));
    }
    if (m.content) body.append(content);
    if (m.attachments && m.attachments.length) body.append(this.attachments(m));
    if (m.reactions && m.reactions.length) body.append(this.reactions(m));
    const thread = state.channels.get(m.id) || m.thread;
    if (thread && (thread.type === 11 || thread.type === 12)) {
      body.append(
        h(
          'button.thread-link',
          { type: 'button', tabindex: -1, onclick: () => emit('panel', { thread: thread.id }) },
          icon('thread', 16),
          ' ',
          h('strong', null, thread.name),
          thread.message_count != null ? ` · ${thread.message_count} message${thread.message_count === 1 ? '' : 's'}` : '',
          ' · Open thread',
        ),
      );
    }
    if (m.failed) body.append(h('p.form-error', null, 'This message could not be sent. ', h('button.link', { type: 'button', tabindex: -1, onclick: () => this.composer.retry(m) }, 'Retry')));
    li.append(body);
    // The actions come first inside the message so that Tab from a message reaches them.
    if (!m.pending && !m.failed) li.prepend(this.actions(m, mine));
    return li;
  }

  attachments(m) {
    const box = h('div.attachments');
    for (const a of m.attachments) {
      const isImage = (a.content_type || '').startsWith('image/') || /\.(png|jpe?g|gif|webp)$/i.test(a.filename);
      if (isImage) {
        const img = h('img.attachment-img', { alt: a.description || a.filename, width: a.width || null, height: a.height || null, loading: 'lazy' });
        if (a.width && a.height) {
          const scale = Math.min(1, 400 / a.width, 300 / a.height);
          img.width = Math.round(a.width * scale);
          img.height = Math.round(a.height * scale);
        }
        attachmentUrl(a.url).then(
          (u) => (img.src = u),
          () => img.replaceWith(h('span.form-error', null, `Could not load ${a.filename}`)),
        );
        box.append(h('a.attachment-link', { href: a.url, tabindex: -1, onclick: (e) => (e.preventDefault(), openImage(img, a)), 'aria-label': `Image ${a.filename}, open` }, img));
      } else {
        box.append(
          h(
            'div.file',
            null,
            h('span.file-icon', null, icon('file', 28)),
            h(
              'span',
              null,
              h('button.link', { type: 'button', tabindex: -1, onclick: () => download(a) }, a.filename),
              h('small', null, ' ' + formatSize(a.size)),
            ),
          ),
        );
      }
    }
    return box;
  }

  reactions(m) {
    const box = h('div.reactions', { role: 'group', 'aria-label': 'Reactions' });
    for (const r of m.reactions) {
      const label = `${r.emoji.name}, ${r.count} reaction${r.count === 1 ? '' : 's'}${r.me ? ', including yours' : ''}`;
      box.append(
        h(
          'button.reaction' + (r.me ? '.me' : ''),
          { type: 'button', tabindex: -1, 'aria-pressed': String(!!r.me), 'aria-label': label, onclick: () => this.toggleReaction(m, r.emoji, !r.me) },
          h('span.r-emoji', null, r.emoji.id ? ':' + r.emoji.name + ':' : r.emoji.name),
          h('span.r-count', null, String(r.count)),
        ),
      );
    }
    if (can(this.perms, P.ADD_REACTIONS)) {
      box.append(h('button.reaction.add', { type: 'button', tabindex: -1, 'aria-label': 'Add reaction', onclick: (e) => this.react(m, e.currentTarget) }, icon('smile', 16)));
    }
    return box;
  }

  actions(m, mine) {
    const perms = this.perms;
    const bar = h('div.msg-actions', { role: 'toolbar', 'aria-label': 'Message actions' });
    const btn = (label, glyph, fn, extra = '') => bar.append(h('button.icon' + extra, { type: 'button', tabindex: -1, 'aria-label': label, title: label, onclick: (e) => fn(e.currentTarget) }, glyph));
    if (can(perms, P.ADD_REACTIONS)) btn('Add Reaction', icon('smile', 18), (b) => this.react(m, b));
    if (can(perms, P.SEND_MESSAGES)) btn('Reply', icon('reply', 18), () => this.composer.setReply(m));
    if (!this.thread && this.ch && this.ch.guild_id && can(perms, P.CREATE_PUBLIC_THREADS) && !state.channels.has(m.id)) btn('Create Thread', icon('thread', 18), () => this.createThread(m));
    if (mine) btn('Edit', icon('edit', 18), () => this.startEdit(m));
    if (can(perms, P.MANAGE_MESSAGES) || (this.ch && !this.ch.guild_id)) btn(m.pinned ? 'Unpin Message' : 'Pin Message', icon('pin', 18), () => this.togglePin(m));
    if (mine || can(perms, P.MANAGE_MESSAGES)) btn('Delete Message', icon('trash', 18), (b) => this.remove(m, b), '.danger');
    return bar;
  }

  /* ---- actions ---- */

  msgFrom(el) {
    const li = el && el.closest('.msg');
    return li ? findMessage(this.channelId, li.dataset.id) : null;
  }

  async react(m, anchor) {
    const emoji = await pickEmoji(anchor);
    if (emoji) this.toggleReaction(m, { name: emoji, id: null }, true);
  }

  async toggleReaction(m, emoji, add) {
    const path = `/channels/${this.channelId}/messages/${m.id}/reactions/${encodeURIComponent(emojiKey(emoji))}/@me`;
    try {
      if (add) await put(path);
      else await del(path);
    } catch (err) {
      toast(errorText(err), 'error');
    }
  }

  async togglePin(m) {
    // Decided before the request: the server's MESSAGE_UPDATE (pinned changed) may arrive
    // on the gateway before the answer, so flipping m.pinned afterwards would undo it.
    const pin = !m.pinned;
    try {
      if (pin) await put(`/channels/${this.channelId}/messages/pins/${m.id}`);
      else await del(`/channels/${this.channelId}/messages/pins/${m.id}`);
      toast(pin ? 'Message pinned.' : 'Message unpinned.');
      apply('MESSAGE_UPDATE', { id: m.id, channel_id: this.channelId, pinned: pin });
    } catch (err) {
      toast(errorText(err), 'error');
    }
  }

  createThread(m) {
    formDialog({
      title: 'Create Thread',
      fields: [{ name: 'name', label: 'Thread name', value: plainText(m.content).slice(0, 40) || 'New thread', required: true, maxlength: 100 }],
      submit: 'Create Thread',
      onSubmit: async (v) => {
        const th = await post(`/channels/${this.channelId}/messages/${m.id}/threads`, { name: v.name, auto_archive_duration: 1440 });
        apply('THREAD_CREATE', th);
        apply('MESSAGE_UPDATE', { id: m.id, channel_id: this.channelId });
        emit('panel', { thread: th.id });
      },
    });
  }

  async remove(m, anchor, skipConfirm = false) {
    if (!skipConfirm) {
      const ok = await confirmDialog({ title: 'Delete Message', text: 'Are you sure you want to delete this message?', confirm: 'Delete' });
      if (!ok) {
        if (anchor && anchor.isConnected) anchor.focus();
        return;
      }
    }
    try {
      await del(`/channels/${this.channelId}/messages/${m.id}`);
      apply('MESSAGE_DELETE', { id: m.id, channel_id: this.channelId });
      announce('Message deleted.');
    } catch (err) {
      toast(errorText(err), 'error');
    }
  }

  /* Edits the newest message of the user's in this channel (Up arrow in the composer). */
  editLast() {
    const me = state.me;
    const list = this.page.list;
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i].author && me && list[i].author.id === me.id && !list[i].pending && list[i].type !== 7) {
        this.startEdit(list[i]);
        return true;
      }
    }
    return false;
  }

  startEdit(m) {
    const li = $(`#${this.idFor(m.id)}`, this.list);
    if (!li) return;
    if (this.editing) this.stopEdit();
    this.editing = m.id;
    const body = $('.body', li);
    const input = h('textarea.edit-input', { 'aria-label': 'Edit message', rows: 1 }, m.content);
    const save = async () => {
      const text = input.value.trim();
      if (!text) {
        this.stopEdit();
        this.remove(m, null);
        return;
      }
      if (text === m.content) {
        this.stopEdit();
        this.composer.focus();
        return;
      }
      input.disabled = true;
      try {
        const upd = await patch(`/channels/${this.channelId}/messages/${m.id}`, { content: text });
        this.stopEdit();
        apply('MESSAGE_UPDATE', upd);
        this.composer.focus();
      } catch (err) {
        input.disabled = false;
        toast(errorText(err), 'error');
      }
    };
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        save();
      } else if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        this.stopEdit();
        this.composer.focus();
      }
      e.stopPropagation();
    });
    input.addEventListener('input', () => autoGrow(input));
    const form = h(
      'div.edit-box',
      null,
      input,
      h('p.edit-hint', null, 'escape to ', h('button.link', { type: 'button', onclick: () => (this.stopEdit(), this.composer.focus()) }, 'cancel'), ' • enter to ', h('button.link', { type: 'button', onclick: save }, 'save')),
    );
    const content = $('.content', body);
    if (content) content.replaceWith(form);
    else body.append(form);
    li.classList.add('editing');
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
    autoGrow(input);
    li.scrollIntoView({ block: 'nearest' });
  }

  stopEdit() {
    const id = this.editing;
    this.editing = null;
    const m = id && findMessage(this.channelId, id);
    const li = id && $(`#${this.idFor(id)}`, this.list);
    if (m && li) {
      const el = this.item(m, li.classList.contains('group-start'));
      el.tabIndex = li.tabIndex;
      li.replaceWith(el);
    }
  }

  /* ---- keyboard ---- */

  onFocusIn(e) {
    const li = e.target.closest('.msg');
    if (!li) return;
    for (const x of $$('.msg', this.list)) if (x !== li && x.tabIndex === 0) x.tabIndex = -1;
    li.tabIndex = 0;
    for (const el of $$('button, a', li)) el.tabIndex = 0;
    li.classList.add('focused');
  }

  onFocusOut(e) {
    const li = e.target.closest('.msg');
    if (!li || li.contains(e.relatedTarget)) return;
    for (const el of $$('button, a', li)) el.tabIndex = -1;
    li.classList.remove('focused');
  }

  onKey(e) {
    if (e.target.closest('.edit-box')) return;
    const li = e.target.closest('.msg');
    if (!li || e.ctrlKey || e.metaKey || e.altKey) return;
    const onItem = e.target === li;
    const msgs = $$('.msg', this.list);
    const i = msgs.indexOf(li);
    const m = findMessage(this.channelId, li.dataset.id);
    let handled = true;
    if (e.key === 'ArrowUp' && onItem) {
      if (i > 0) msgs[i - 1].focus();
      else this.loadOlder(true);
    } else if (e.key === 'ArrowDown' && onItem) {
      if (i < msgs.length - 1) msgs[i + 1].focus();
      else if (this.page.hasNewer) this.loadNewer();
    } else if (e.key === 'Home' && onItem) msgs[0].focus();
    else if (e.key === 'End' && onItem) msgs[msgs.length - 1].focus();
    else if (e.key === 'Escape') this.composer.focus();
    else if (!onItem || !m || m.pending) handled = false;
    else if (e.key === 'e' && m.author && state.me && m.author.id === state.me.id) this.startEdit(m);
    else if (e.key === 'r' && can(this.perms, P.SEND_MESSAGES)) this.composer.setReply(m);
    else if (e.key === 'p' && (can(this.perms, P.MANAGE_MESSAGES) || !this.guildId)) this.togglePin(m);
    else if (e.key === 't' && !this.thread && this.guildId) this.createThread(m);
    else if ((e.key === '+' || e.key === '=') && can(this.perms, P.ADD_REACTIONS)) this.react(m, $('.msg-actions button', li) || li);
    else if ((e.key === 'Delete' || e.key === 'Backspace') && ((m.author && state.me && m.author.id === state.me.id) || can(this.perms, P.MANAGE_MESSAGES))) this.remove(m, li, e.shiftKey);
    else handled = false;
    if (handled) e.preventDefault();
  }

  /* ---- scrolling and paging ---- */

  atBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 40;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  onScroll() {
    if (this.scroller.scrollTop < 400) this.loadOlder();
    if (this.page.hasNewer && this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < 400) this.loadNewer();
    this.checkRead();
  }

  async loadOlder(focusAfter = false) {
    const p = this.page;
    if (this.loadingOlder || !p.hasOlder || !p.loaded) return;
    this.loadingOlder = true;
    const oldest = p.list.find((m) => !m.pending);
    const firstId = oldest && oldest.id;
    try {
      const msgs = await get(`/channels/${this.channelId}/messages?limit=${PAGE}${oldest ? '&before=' + oldest.id : ''}`);
      this.restoreAnchor = true;
      addHistory(this.channelId, msgs, { older: msgs.length === PAGE });
    } catch (err) {
      toast(errorText(err), 'error');
    } finally {
      this.restoreAnchor = false;
      this.loadingOlder = false;
    }
    if (focusAfter && firstId) {
      const msgs = $$('.msg', this.list);
      const i = msgs.findIndex((x) => x.dataset.id === firstId);
      if (i > 0) msgs[i - 1].focus();
    }
  }

  async loadNewer() {
    const p = this.page;
    if (this.loadingNewer || !p.hasNewer) return;
    this.loadingNewer = true;
    const newest = p.list[p.list.length - 1];
    try {
      const msgs = await get(`/channels/${this.channelId}/messages?limit=${PAGE}&after=${newest ? newest.id : 0}`);
      addHistory(this.channelId, msgs, { newer: msgs.length === PAGE });
    } catch (err) {
      toast(errorText(err), 'error');
    } finally {
      this.loadingNewer = false;
    }
  }

  async jumpToPresent() {
    const msgs = await get(`/channels/${this.channelId}/messages?limit=${PAGE}`);
    addHistory(this.channelId, msgs, { reset: true, older: msgs.length === PAGE, newer: false });
    this.scrollToBottom();
    this.composer.focus();
  }

  /* Shows message id in context: loaded around it when it is not in the page yet. */
  async jumpTo(id) {
    const p = this.page;
    if (!p.list.some((m) => m.id === id)) {
      try {
        const msgs = await get(`/channels/${this.channelId}/messages?limit=${PAGE}&around=${id}`);
        const older = msgs.filter((m) => cmpId(m.id, id) < 0).length;
        const newer = msgs.filter((m) => cmpId(m.id, id) > 0).length;
        const hasX = msgs.some((m) => m.id === id);
        addHistory(this.channelId, msgs, { reset: true, older: older >= PAGE / 2, newer: newer >= PAGE - older - (hasX ? 1 : 0) });
      } catch (err) {
        toast(errorText(err), 'error');
        return;
      }
    } else if (!p.loaded) {
      p.loaded = true;
    }
    this.renderAll();
    await nextFrame();
    const el = $(`#${this.idFor(id)}`, this.list);
    if (!el) {
      toast('That message is no longer there.', 'error');
      return;
    }
    el.scrollIntoView({ block: 'center' });
    el.classList.remove('flash');
    void el.offsetWidth;
    el.classList.add('flash');
    el.focus({ preventScroll: true });
  }

  /* ---- read state, typing and announcements ---- */

  checkRead() {
    if (document.visibilityState !== 'visible' || !this.el.isConnected) return;
    if (this.page.hasNewer || !this.atBottom()) return;
    markRead(this.channelId);
  }

  isWatching() {
    return this.el.isConnected && document.visibilityState === 'visible' && !this.page.hasNewer && this.atBottom();
  }

  renderTyping() {
    const map = state.typing.get(this.channelId);
    const now = Date.now();
    const names = map ? [...map.entries()].filter(([, t]) => t > now).map(([id]) => displayName(state.users.get(id), this.guildId && member(this.guildId, id))) : [];
    let text = '';
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length === 3) text = `${names[0]}, ${names[1]} and ${names[2]} are typing…`;
    else if (names.length > 3) text = 'Several people are typing…';
    clear(this.typingEl, text ? [h('span.dots', { 'aria-hidden': 'true' }, h('i'), h('i'), h('i')), h('span', null, text)] : []);
    this.typingEl.classList.toggle('on', !!text);
  }

  announceNew(m) {
    if (m.channel_id !== this.channelId || !m.author || (state.me && m.author.id === state.me.id)) return;
    if (!this.el.isConnected) return;
    const name = displayName(state.users.get(m.author.id) || m.author, this.guildId && member(this.guildId, m.author.id));
    announce(`${name}: ${plainText(m.content) || 'sent an attachment'}`);
  }
}

function daySep(d) {
  return h('li.day-sep', null, h('span', null, formatDay(d)));
}

export function autoGrow(ta) {
  ta.style.height = 'auto';
  ta.style.height = Math.min(ta.scrollHeight, 300) + 'px';
}

export function formatSize(n) {
  if (n == null) return '';
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

async function download(a) {
  try {
    const url = await attachmentUrl(a.url);
    const link = h('a', { href: url, download: a.filename });
    document.body.append(link);
    link.click();
    link.remove();
  } catch (err) {
    toast(errorText(err), 'error');
  }
}

function openImage(img, a) {
  if (!img.src) return;
  import('./dialogs.js').then(({ modal }) =>
    modal({ title: a.filename, wide: true, body: h('img.full-image', { src: img.src, alt: a.description || a.filename }) }),
  );
}
