// The gateway's API as the console calls it. The session lives in an HttpOnly cookie the
// gateway sets (POST /api/auth/session): no script on the page can read it. Every request sends
// `X-Flint-Session: cookie`, the header without which the gateway ignores the cookie (another
// site's page can't add it without a CORS preflight, which the gateway never grants with
// credentials).

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/// The message of an error answer in any of the gateway's envelopes.
export function errorMessage(data, status) {
  if (data && typeof data === 'object') {
    const d = data.detail;
    if (typeof d === 'string') return d;
    if (d && typeof d.error === 'string') return d.error;
    if (Array.isArray(d) && d[0]?.msg) return d[0].msg;
    const e = data.error;
    if (e && typeof e.message === 'string') return e.message;
    if (typeof e === 'string') return e;
  }
  return `HTTP ${status}`;
}

function codeOf(data) {
  return data?.detail?.code ?? data?.error?.code ?? undefined;
}

export async function request(path, { method = 'GET', body, bearer, signal } = {}) {
  const headers = { 'X-Flint-Session': 'cookie' };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, `The gateway could not be reached (${e.message}).`);
  }
  return response;
}

export async function api(path, options) {
  const response = await request(path, options);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {}
  if (!response.ok) throw new ApiError(response.status, errorMessage(data, response.status), codeOf(data));
  return data;
}

/// Turns a session token from a sign-in answer into the HttpOnly cookie; the token is dropped.
export async function startSession(token) {
  await api('/api/auth/session', { method: 'POST', bearer: token });
}

export async function endSession() {
  await api('/api/auth/session', { method: 'DELETE' });
}

/// Streams Stone chat (`POST /api/chat`): calls onDelta(text) for each piece and resolves with
/// the `billing` event (tokens and cost). A mid-stream error event rejects with its message.
export async function streamChat(body, { onDelta, signal }) {
  const response = await request('/api/chat', { method: 'POST', body, signal });
  if (!response.ok) {
    const text = await response.text();
    let data = null;
    try {
      data = JSON.parse(text);
    } catch {}
    throw new ApiError(response.status, errorMessage(data, response.status), codeOf(data));
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let billing = null;
  let usage = null;
  const handle = (data) => {
    if (data === '[DONE]') return;
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    if (event.detail || event.error) throw new ApiError(502, errorMessage(event, 502), codeOf(event));
    const delta = event.choices?.[0]?.delta?.content;
    if (delta) onDelta(delta);
    if (event.usage) usage = event.usage;
    if (event.billing) billing = event.billing;
  };
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replaceAll('\r\n', '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
        .join('\n');
      if (data) handle(data);
    }
  }
  return billing ?? (usage ? { tokens_in: usage.tokens_in, tokens_out: usage.tokens_out, cost_usd: 0 } : null);
}
