/*
 * The REST client: Hearth's Discord v10 API on the same origin (spec/client-api.md).
 * Every call goes through request(), which adds the token, retries once after a 429 and
 * turns error answers into ApiError with Discord's {code, message, errors}.
 */

export const API = '/api/v10';
const TOKEN_KEY = 'hearth.token';

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body ? body.code : 0;
    this.errors = body ? body.errors : undefined;
  }

  /* The first message of a field's form errors ("login", "recipients.0"), if any. */
  field(name) {
    let node = this.errors;
    for (const part of name.split('.')) node = node && node[part];
    return node && node._errors && node._errors[0] ? node._errors[0].message : null;
  }

  /* True when the server has no such route yet (a feature it does not offer). */
  get unsupported() {
    return this.status === 404 && this.code === 0;
  }
}

export const auth = {
  get token() {
    return localStorage.getItem(TOKEN_KEY);
  },
  set token(t) {
    if (t) localStorage.setItem(TOKEN_KEY, t);
    else localStorage.removeItem(TOKEN_KEY);
  },
};

/* Called with the error when a request answers 401 (the token no longer works). */
export let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export async function request(method, path, body, { reason, raw } = {}) {
  const headers = {};
  if (auth.token) headers.Authorization = auth.token;
  if (reason) headers['X-Audit-Log-Reason'] = encodeURIComponent(reason);
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(path.startsWith('/api/') || path.startsWith('/attachments/') ? path : API + path, {
      method,
      headers,
      body: payload,
    });
    if (res.status === 429 && attempt === 0) {
      const info = await res.json().catch(() => ({}));
      await new Promise((r) => setTimeout(r, Math.min(10, info.retry_after || 1) * 1000));
      continue;
    }
    if (raw && res.ok) return res;
    if (res.status === 204) return null;
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!res.ok) {
      const err = new ApiError(res.status, data);
      if (res.status === 401 && auth.token) onUnauthorized(err);
      throw err;
    }
    return data;
  }
}

export const get = (p, o) => request('GET', p, undefined, o);
export const post = (p, b, o) => request('POST', p, b === undefined ? {} : b, o);
export const patch = (p, b, o) => request('PATCH', p, b, o);
export const put = (p, b, o) => request('PUT', p, b, o);
export const del = (p, o) => request('DELETE', p, undefined, o);

export const qs = (params) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v == null || v === '') continue;
    for (const x of Array.isArray(v) ? v : [v]) q.append(k, x);
  }
  const s = q.toString();
  return s ? '?' + s : '';
};

/*
 * Attachments are served with the caller's token (no public CDN), so an <img> cannot load
 * them by URL: fetch them once and hand out object URLs.
 */
const blobs = new Map();
export function attachmentUrl(url) {
  if (!blobs.has(url)) {
    blobs.set(
      url,
      request('GET', new URL(url, location.origin).pathname, undefined, { raw: true })
        .then((r) => r.blob())
        .then((b) => URL.createObjectURL(b))
        .catch((e) => {
          blobs.delete(url);
          throw e;
        }),
    );
  }
  return blobs.get(url);
}
