/*
 * Modal dialogs (native <dialog>: focus stays inside, Escape closes, the page behind is
 * inert), form dialogs that show the server's field errors beside their fields, confirm
 * prompts, and pop-up menus with arrow-key navigation.
 */
import { icon } from '../icons.js';
import { h, $, $$ } from '../dom.js';
import { ApiError } from '../api.js';

export function modal({ title, body, actions = [], wide = false, onClose, label }) {
  // Focus goes back where it came from; a dialog opened from one that is closing (a
  // choice that leads to a form) goes back to where that one came from.
  const opener = document.activeElement;
  const fallback = opener && opener.closest && opener.closest('dialog') ? opener.closest('dialog')._opener : null;
  const titleId = 'dlg-' + Math.random().toString(36).slice(2);
  const dlg = h('dialog.modal' + (wide ? '.wide' : ''), { 'aria-labelledby': label ? null : titleId, 'aria-label': label });
  const close = () => {
    if (dlg.open) dlg.close();
  };
  const foot = actions.length
    ? h(
        'div.modal-actions',
        null,
        actions.map((a) =>
          h(
            'button' + (a.primary ? '.primary' : a.danger ? '.danger' : '.secondary'),
            { type: a.submit ? 'submit' : 'button', onclick: a.submit ? null : () => (a.onClick ? a.onClick(close) : close()) },
            a.label,
          ),
        ),
      )
    : null;
  dlg.append(
    h('div.modal-head', null, h('h2', { id: titleId }, title), h('button.icon.close', { type: 'button', 'aria-label': 'Close', onclick: close }, icon('close'))),
    h('div.modal-body', null, body),
    foot,
  );
  dlg.addEventListener('close', () => {
    dlg.remove();
    if (onClose) onClose();
    const back = opener && opener.isConnected ? opener : fallback;
    if (back && back.isConnected) back.focus();
  });
  dlg._opener = opener && opener.isConnected && !opener.closest('dialog') ? opener : fallback || opener;
  document.body.append(dlg);
  dlg.showModal();
  const first = $('[autofocus]', dlg) || $('input, select, textarea', dlg);
  if (first) first.focus();
  return { dlg, close };
}

/*
 * A dialog with a form. fields: [{name, label, type ('text', 'select', 'checkbox',
 * 'textarea', 'color', 'radio'), value, options: [[value, label]], hint, required,
 * maxlength}]. onSubmit(values) may throw an ApiError: its field errors are shown by their
 * fields (the names must match the API's), anything else at the top.
 */
export function formDialog({ title, intro, fields, submit = 'Save', onSubmit, danger = false }) {
  const errorBox = h('p.form-error', { role: 'alert' });
  const inputs = {};
  const rows = fields.map((f) => {
    const id = 'f-' + f.name + '-' + Math.random().toString(36).slice(2, 7);
    let input;
    if (f.type === 'select' || f.type === 'radio') {
      if (f.type === 'radio') {
        input = h(
          'div.radio-group',
          { role: 'radiogroup', 'aria-label': f.label },
          f.options.map(([v, l, hint]) =>
            h('label.radio', null, h('input', { type: 'radio', name: id, value: v, checked: String(f.value) === String(v) }), h('span', null, l, hint ? h('small', null, hint) : null)),
          ),
        );
        input.getValue = () => $('input:checked', input)?.value;
      } else {
        input = h('select', { id, name: f.name }, f.options.map(([v, l]) => h('option', { value: v, selected: String(f.value) === String(v) }, l)));
      }
    } else if (f.type === 'textarea') {
      input = h('textarea', { id, name: f.name, maxlength: f.maxlength, rows: 3 }, f.value || '');
    } else {
      input = h('input', {
        id,
        name: f.name,
        type: f.type || 'text',
        value: f.type === 'checkbox' ? null : f.value ?? '',
        checked: f.type === 'checkbox' ? !!f.value : null,
        required: f.required,
        maxlength: f.maxlength,
        placeholder: f.placeholder,
        autocomplete: f.autocomplete || 'off',
      });
    }
    inputs[f.name] = input;
    const err = h('span.field-error', { id: id + '-err' });
    if (input.tagName !== 'DIV') input.setAttribute('aria-describedby', id + '-err');
    const label = f.type === 'radio' ? h('span.label', null, f.label) : h('label', { for: id }, f.label);
    return h('div.field' + (f.type === 'checkbox' ? '.check' : ''), { dataset: { field: f.name } }, label, input, f.hint ? h('small.hint', null, f.hint) : null, err);
  });
  const form = h('form.form', { novalidate: true }, intro ? h('p.intro', null, intro) : null, errorBox, rows);
  const values = () => {
    const v = {};
    for (const f of fields) {
      const el = inputs[f.name];
      v[f.name] = el.getValue ? el.getValue() : f.type === 'checkbox' ? el.checked : el.value.trim();
    }
    return v;
  };
  let busy = false;
  const m = modal({
    title,
    body: form,
    actions: [
      { label: 'Cancel' },
      { label: submit, primary: !danger, danger, onClick: () => form.requestSubmit() },
    ],
  });
  // Enter in any single-line field submits, however many fields the form has.
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && e.target.tagName === 'INPUT' && e.target.type !== 'checkbox' && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (busy) return;
    $$('.field-error', form).forEach((x) => (x.textContent = ''));
    errorBox.textContent = '';
    const v = values();
    const missing = fields.find((f) => f.required && !v[f.name]);
    if (missing) {
      showFieldError(form, missing.name, 'This field is required.');
      inputs[missing.name].focus();
      return;
    }
    busy = true;
    try {
      await onSubmit(v, m.close);
      m.close();
    } catch (err) {
      busy = false;
      showApiError(form, errorBox, err, fields);
    }
  });
  return m;
}

function showFieldError(form, name, text) {
  const box = $(`[data-field="${name}"] .field-error`, form);
  if (box) box.textContent = text;
  const input = $(`[data-field="${name}"] input, [data-field="${name}"] select, [data-field="${name}"] textarea`, form);
  if (input) input.setAttribute('aria-invalid', 'true');
}

export function showApiError(form, errorBox, err, fields = []) {
  if (err instanceof ApiError) {
    let shown = false;
    for (const f of fields) {
      const text = err.field(f.name);
      if (text) {
        showFieldError(form, f.name, text);
        shown = true;
      }
    }
    errorBox.textContent = shown ? '' : errorText(err);
  } else {
    errorBox.textContent = err.userMessage || 'Could not reach the server. Check your connection and try again.';
  }
}

export function errorText(err) {
  if (!(err instanceof ApiError)) return 'Could not reach the server.';
  if (err.unsupported) return 'This server does not offer that yet.';
  if (err.code === 50013) return 'You do not have permission to do that.';
  if (err.code === 50001) return 'You do not have access to that.';
  return err.message || 'Something went wrong.';
}

export function confirmDialog({ title, text, confirm = 'Confirm', danger = true }) {
  return new Promise((resolve) => {
    let done = false;
    modal({
      title,
      body: h('p', null, text),
      actions: [
        { label: 'Cancel', onClick: (close) => close() },
        {
          label: confirm,
          danger,
          primary: !danger,
          onClick: (close) => {
            done = true;
            close();
          },
        },
      ],
      onClose: () => resolve(done),
    });
  });
}

/*
 * A pop-up menu anchored to a button. items: [{label, onSelect, danger, checked, hint}]
 * or null for a separator. Arrow keys move, Enter chooses, Escape or a click outside
 * closes and gives focus back to the button.
 */
export function popupMenu(anchor, items, { label = 'Menu', align = 'left' } = {}) {
  closeMenus();
  const menu = h('div.menu', { role: 'menu', 'aria-label': label });
  for (const it of items) {
    if (!it) {
      menu.append(h('div.menu-sep', { role: 'separator' }));
      continue;
    }
    const role = it.checked === undefined ? 'menuitem' : 'menuitemradio';
    menu.append(
      h(
        'button.menu-item' + (it.danger ? '.danger' : ''),
        {
          type: 'button',
          role,
          'aria-checked': it.checked === undefined ? null : String(!!it.checked),
          tabindex: -1,
          onclick: () => {
            close();
            it.onSelect();
          },
        },
        it.icon ? h('span.menu-icon', { 'aria-hidden': 'true' }, it.icon) : null,
        h('span', null, it.label),
        it.hint ? h('small', null, it.hint) : null,
      ),
    );
  }
  const close = (refocus = true) => {
    menu.remove();
    document.removeEventListener('mousedown', outside, true);
    anchor.setAttribute('aria-expanded', 'false');
    if (refocus && anchor.isConnected) anchor.focus();
  };
  const outside = (e) => {
    if (!menu.contains(e.target) && e.target !== anchor) close(false);
  };
  menu.addEventListener('keydown', (e) => {
    const list = $$('.menu-item', menu);
    const i = list.indexOf(document.activeElement);
    if (e.key === 'ArrowDown') list[(i + 1) % list.length].focus();
    else if (e.key === 'ArrowUp') list[(i - 1 + list.length) % list.length].focus();
    else if (e.key === 'Home') list[0].focus();
    else if (e.key === 'End') list[list.length - 1].focus();
    else if (e.key === 'Escape' || e.key === 'Tab') close();
    else return;
    e.preventDefault();
    e.stopPropagation();
  });
  menu.closeMenu = close;
  document.body.append(menu);
  const r = anchor.getBoundingClientRect();
  const mw = menu.offsetWidth;
  const mh = menu.offsetHeight;
  let left = align === 'right' ? r.right - mw : r.left;
  let top = r.bottom + 4;
  if (top + mh > innerHeight - 8) top = Math.max(8, r.top - mh - 4);
  left = Math.max(8, Math.min(left, innerWidth - mw - 8));
  menu.style.left = left + 'px';
  menu.style.top = top + 'px';
  anchor.setAttribute('aria-expanded', 'true');
  setTimeout(() => document.addEventListener('mousedown', outside, true));
  const first = $('.menu-item', menu);
  if (first) first.focus();
  return menu;
}

export function closeMenus() {
  for (const m of $$('.menu')) m.closeMenu ? m.closeMenu(false) : m.remove();
}
