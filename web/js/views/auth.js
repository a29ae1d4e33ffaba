/* The log-in and registration screens (spec/client-api.md §4, Accounts). */
import { h, clear } from '../dom.js';
import { post, auth } from '../api.js';
import { showApiError } from './dialogs.js';
import { navigate } from '../router.js';

export function renderAuth(root, mode, onToken) {
  const register = mode === 'register';
  const fields = register
    ? [
        { name: 'username', label: 'Username', autocomplete: 'username', hint: '2–32 characters: letters, digits, _ and .' },
        { name: 'global_name', label: 'Display name (optional)', autocomplete: 'nickname' },
        { name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password', hint: 'At least 8 characters.' },
      ]
    : [
        { name: 'login', label: 'Username', autocomplete: 'username' },
        { name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password' },
      ];
  const errorBox = h('p.form-error', { role: 'alert' });
  const form = h(
    'form.auth-form',
    { novalidate: true, 'aria-labelledby': 'auth-title' },
    h('div.brand', { 'aria-hidden': 'true' }, h('img', { src: '/img/hearth.svg', alt: '', width: 56, height: 56 })),
    h('h1#auth-title', null, register ? 'Create an account' : 'Welcome back!'),
    h('p.sub', null, register ? 'Join the conversation on this Hearth server.' : 'We’re so happy to see you again.'),
    errorBox,
    fields.map((f) =>
      h(
        'div.field',
        { dataset: { field: f.name } },
        h('label', { for: 'auth-' + f.name }, f.label),
        h('input', {
          id: 'auth-' + f.name,
          name: f.name,
          type: f.type || 'text',
          autocomplete: f.autocomplete,
          required: f.name !== 'global_name',
          'aria-describedby': 'auth-' + f.name + '-err',
          autocapitalize: 'none',
          spellcheck: 'false',
        }),
        f.hint ? h('small.hint', null, f.hint) : null,
        h('span.field-error', { id: 'auth-' + f.name + '-err' }),
      ),
    ),
    h('button.primary.block', { type: 'submit' }, register ? 'Continue' : 'Log In'),
    h(
      'p.switch',
      null,
      register ? 'Already have an account? ' : 'Need an account? ',
      h('a', { href: register ? '/login' + location.search : '/register' + location.search, dataset: { route: '' } }, register ? 'Log in' : 'Register'),
    ),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    for (const x of form.querySelectorAll('.field-error')) x.textContent = '';
    for (const x of form.querySelectorAll('[aria-invalid]')) x.removeAttribute('aria-invalid');
    errorBox.textContent = '';
    const v = Object.fromEntries(new FormData(form));
    const empty = fields.find((f) => f.name !== 'global_name' && !v[f.name]);
    if (empty) {
      const input = form.elements[empty.name];
      input.setAttribute('aria-invalid', 'true');
      form.querySelector(`#auth-${empty.name}-err`).textContent = 'This field is required.';
      input.focus();
      return;
    }
    if (register && !v.global_name) delete v.global_name;
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const res = await post(register ? '/auth/register' : '/auth/login', v);
      auth.token = res.token;
      onToken(res.token);
    } catch (err) {
      button.disabled = false;
      showApiError(form, errorBox, err, fields);
      for (const f of fields) {
        if (form.querySelector(`#auth-${f.name}-err`).textContent) form.elements[f.name].setAttribute('aria-invalid', 'true');
      }
      const bad = form.querySelector('[aria-invalid]');
      (bad || form.elements[fields[0].name]).focus();
    }
  });
  clear(root, h('main.auth', { 'aria-label': register ? 'Register' : 'Log in' }, form));
  form.elements[fields[0].name].focus();
  document.title = (register ? 'Register' : 'Log in') + ' · Hearth';
}

export function goLogin() {
  const next = location.pathname.startsWith('/invite/') ? '?next=' + encodeURIComponent(location.pathname) : '';
  navigate('/login' + next, { replace: true });
}
