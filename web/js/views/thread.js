/* A thread in the side panel: its messages and its own composer. */
import { h, toast } from '../dom.js';
import { get } from '../api.js';
import { state, apply } from '../store.js';
import { MessageView } from './messages.js';
import { panelHeader } from './panel.js';
import { errorText } from './dialogs.js';

let view = null;

export function closeThread() {
  if (view) view.destroy();
  view = null;
}

export function renderThread(threadId) {
  closeThread();
  const th = state.channels.get(threadId);
  const aside = h('aside.panel.thread-panel', { 'aria-label': `Thread ${th ? th.name : ''}` });
  if (!th) {
    aside.append(panelHeader('Thread'), h('p.empty', null, 'Loading the thread…'));
    get(`/channels/${threadId}`)
      .then((ch) => {
        apply('THREAD_CREATE', ch);
        import('../store.js').then(({ emit }) => emit('panel', { thread: threadId }));
      })
      .catch((err) => toast(errorText(err), 'error'));
    return aside;
  }
  view = new MessageView(threadId, { thread: true });
  aside.append(panelHeader(th.name), view.el);
  view.composer.input.dataset.autofocus = '';
  queueMicrotask(() => view && view.init());
  return aside;
}
