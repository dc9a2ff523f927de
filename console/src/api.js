// Calls to the admin REST API with the signed-in key. The key lives in
// sessionStorage only (gone when the tab closes) and travels as a Bearer
// header; it is never put in a URL or a cookie.
const STORAGE_KEY = 'llmd.adminKey';

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code || null;
  }

  // "403 Forbidden: ..." for people; status 0 means llmd could not be reached.
  describe() {
    const names = { 400: 'Bad request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not found', 409: 'Conflict',
      422: 'Unprocessable', 429: 'Too many requests', 503: 'Unavailable', 507: 'No room' };
    if (this.status === 0) return this.message;
    return `${this.status} ${names[this.status] || 'Error'}: ${this.message}`;
  }
}

export const session = {
  key: () => sessionStorage.getItem(STORAGE_KEY),
  save: (key) => sessionStorage.setItem(STORAGE_KEY, key),
  clear: () => sessionStorage.removeItem(STORAGE_KEY),
};

// Sends `body` as JSON when given. Resolves to the parsed JSON answer (or the
// text, for accept: 'text/csv'); rejects with an ApiError for any non-2xx.
export async function api(method, path, body, { key = session.key(), accept = 'application/json' } = {}) {
  const headers = { authorization: `Bearer ${key || ''}`, accept };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store', credentials: 'omit', redirect: 'error',
    });
  } catch (e) {
    throw new ApiError(0, `llmd cannot be reached (${e.message})`);
  }
  const text = await res.text();
  if (!res.ok) {
    let message = text || res.statusText;
    let code = null;
    try {
      const j = JSON.parse(text);
      if (j && j.error) ({ message, code } = j.error);
    } catch { /* not JSON: keep the text */ }
    throw new ApiError(res.status, message, code);
  }
  if (accept !== 'application/json') return text;
  return text ? JSON.parse(text) : null;
}

// Path segment for a model id: ids may hold '/', sent as %2F.
export const seg = (s) => encodeURIComponent(s);
