/*
 * The message box: Enter sends, Shift+Enter starts a new line, Up (in an empty box) edits
 * your last message, Escape cancels a reply. Files come from the picker or are dropped
 * on the channel, and go up as multipart/form-data (payload_json + files[n]) as Discord
 * takes them. Typing sends POST /channels/{id}/typing at most every 8 seconds.
 */
import { icon } from '../icons.js';
import { h, clear, toast, displayName } from '../dom.js';
import { post } from '../api.js';
import { state, addPending, confirmSent, emit } from '../store.js';
import { snowflakeNow } from '../time.js';
import { channelPerms, can, P } from '../perms.js';
import { errorText } from './dialogs.js';
import { pickEmoji } from './lazy.js';
import { autoGrow, formatSize, channelLabel } from './messages.js';

const TYPING_EVERY = 8000;
const MAX_FILES = 10;

export class Composer {
  constructor(view) {
    this.view = view;
    this.channelId = view.channelId;
    this.reply = null;
    this.files = [];
    this.lastTyping = 0;
    const label = `Message ${channelLabel(view.ch)}`;
    const main = !view.thread;
    this.input = h('textarea.composer-input', { id: main ? 'composer-input' : null, rows: 1, placeholder: label, 'aria-label': label, maxlength: 2000 });
    this.fileInput = h('input', { type: 'file', multiple: true, hidden: true, tabindex: -1, 'aria-hidden': 'true' });
    this.uploadBtn = h('button.icon.upload', { type: 'button', 'aria-label': 'Upload a file', title: 'Upload a file', onclick: () => this.fileInput.click() }, icon('upload', 24));
    this.emojiBtn = h('button.icon.emoji-btn', { type: 'button', 'aria-label': 'Insert emoji', title: 'Emoji', onclick: () => this.insertEmoji() }, icon('smile', 24));
    this.replyBar = h('div.reply-bar', { hidden: true });
    this.fileBar = h('ul.file-bar', { hidden: true, 'aria-label': 'Files to upload' });
    this.el = h(
      'form.composer',
      { 'aria-label': 'Send a message', onsubmit: (e) => (e.preventDefault(), this.send()) },
      this.replyBar,
      this.fileBar,
      h('div.composer-row', null, this.uploadBtn, this.fileInput, this.input, this.emojiBtn),
    );
    this.input.addEventListener('keydown', (e) => this.onKey(e));
    this.input.addEventListener('input', () => {
      autoGrow(this.input);
      if (this.input.value) this.typing();
    });
    this.fileInput.addEventListener('change', () => {
      this.addFiles([...this.fileInput.files]);
      this.fileInput.value = '';
      this.focus();
    });
    this.updatePerms();
  }

  destroy() {}

  updatePerms() {
    const perms = channelPerms(this.channelId);
    const may = can(perms, P.SEND_MESSAGES);
    this.input.disabled = !may;
    this.input.placeholder = may ? `Message ${channelLabel(this.view.ch)}` : 'You do not have permission to send messages in this channel.';
    this.uploadBtn.hidden = !may || !can(perms, P.ATTACH_FILES);
    this.emojiBtn.hidden = !may;
  }

  focus() {
    if (this.input.disabled) return false;
    this.input.focus();
    return true;
  }

  onKey(e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.send();
    } else if (e.key === 'ArrowUp' && !this.input.value && !e.shiftKey && !e.altKey) {
      if (this.view.editLast()) e.preventDefault();
    } else if (e.key === 'Escape' && this.reply) {
      e.preventDefault();
      this.setReply(null);
    } else if (e.key === 'Tab' && e.shiftKey && !this.input.value) {
      // Shift+Tab from the box goes to the newest message, as it sits right above.
    }
  }

  typing() {
    const now = Date.now();
    if (now - this.lastTyping < TYPING_EVERY) return;
    this.lastTyping = now;
    post(`/channels/${this.channelId}/typing`).catch(() => {});
  }

  setReply(m) {
    this.reply = m;
    if (!m) {
      this.replyBar.hidden = true;
      clear(this.replyBar);
      this.focus();
      return;
    }
    const name = displayName(state.users.get(m.author.id) || m.author);
    clear(
      this.replyBar,
      h('span', null, 'Replying to ', h('strong', null, name)),
      h('button.icon', { type: 'button', 'aria-label': 'Cancel reply', onclick: () => this.setReply(null) }, icon('close', 16)),
    );
    this.replyBar.hidden = false;
    this.focus();
  }

  addFiles(files) {
    for (const f of files) {
      if (this.files.length >= MAX_FILES) {
        toast(`You can upload at most ${MAX_FILES} files at once.`, 'error');
        break;
      }
      this.files.push(f);
    }
    this.renderFiles();
  }

  renderFiles() {
    this.fileBar.hidden = !this.files.length;
    clear(
      this.fileBar,
      this.files.map((f, i) =>
        h(
          'li.file-chip',
          null,
          h('span.file-icon', { 'aria-hidden': 'true' }, icon('file', 18)),
          h('span.file-name', null, f.name),
          h('small', null, formatSize(f.size)),
          h(
            'button.icon',
            {
              type: 'button',
              'aria-label': `Remove ${f.name}`,
              onclick: () => {
                this.files.splice(i, 1);
                this.renderFiles();
                this.focus();
              },
            },
            icon('close', 16),
          ),
        ),
      ),
    );
  }

  async insertEmoji() {
    const e = await pickEmoji(this.emojiBtn);
    if (!e) return this.focus();
    const { selectionStart: s, selectionEnd: t, value } = this.input;
    this.input.value = value.slice(0, s) + e + value.slice(t);
    this.focus();
    this.input.setSelectionRange(s + e.length, s + e.length);
  }

  async send() {
    const content = this.input.value.trim();
    const files = this.files;
    if (!content && !files.length) return;
    if (content.length > 2000) {
      toast('Your message is too long (2000 characters at most).', 'error');
      return;
    }
    const nonce = snowflakeNow();
    const body = { content, nonce };
    if (this.reply) body.message_reference = { message_id: this.reply.id, fail_if_not_exists: false };
    this.input.value = '';
    autoGrow(this.input);
    this.files = [];
    this.renderFiles();
    this.setReply(null);
    this.lastTyping = 0;
    const pending = {
      id: nonce,
      nonce,
      pending: true,
      channel_id: this.channelId,
      author: state.me,
      content,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      attachments: [],
      type: 0,
      body,
      files,
    };
    addPending(pending);
    await this.deliver(pending);
  }

  async deliver(pending) {
    const { body, files } = pending;
    let payload = body;
    if (files.length) {
      payload = new FormData();
      payload.append('payload_json', JSON.stringify({ ...body, attachments: files.map((f, i) => ({ id: i, filename: f.name })) }));
      files.forEach((f, i) => payload.append(`files[${i}]`, f, f.name));
    }
    try {
      const msg = await post(`/channels/${this.channelId}/messages`, payload);
      confirmSent(pending, msg);
    } catch (err) {
      pending.failed = true;
      pending.pending = false;
      pending.id = 'failed-' + pending.nonce;
      emit('messages', { channelId: this.channelId, kind: 'reset' });
      toast(errorText(err), 'error');
    }
  }

  retry(m) {
    m.failed = false;
    m.pending = true;
    confirmSent(m, null);
    addPending(m);
    this.deliver(m);
  }
}
