// The Flint AI gateway's Node SDK: `Flint` is the official `openai` client pointed at a Flint
// gateway's OpenAI-compatible `/v1`, with Flint's own routes added (`account`, `billing`,
// `catalog`). A 402 from any call throws `InsufficientBalanceError`, a subclass of the SDK's
// `APIError`; Stone's `/api/*` envelope (`{"detail": {"error", "code", ...}}`) is read into the
// same error classes as the `/v1` errors.
import OpenAI, { APIError, OpenAIError } from 'openai';

export const DEFAULT_BASE_URL = 'http://127.0.0.1:8787';

/**
 * A 402: the balance (or the API key's budget) cannot cover the request. `code` says which:
 * `insufficient_quota` (the balance) or `key_budget_exceeded` (the API key's own cap).
 */
export class InsufficientBalanceError extends APIError {}

function readEnv(name) {
  const value = globalThis.process?.env?.[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** The gateway's origin from a base URL given with or without the trailing `/v1`. */
export function flintOrigin(baseURL) {
  let url = String(baseURL).trim().replace(/\/+$/, '');
  if (url.endsWith('/v1')) url = url.slice(0, -3).replace(/\/+$/, '');
  if (!url) throw new OpenAIError('The Flint base URL is empty: pass baseURL or set FLINT_BASE_URL');
  return url;
}

/** Stone's `/api/*` envelope as an OpenAI-style error object, else undefined. */
function stoneError(body) {
  if (!body || typeof body !== 'object' || 'error' in body || !('detail' in body)) return undefined;
  const { detail } = body;
  if (detail && typeof detail === 'object') {
    return {
      code: null,
      type: undefined,
      ...detail,
      message: typeof detail.error === 'string' ? detail.error : undefined,
    };
  }
  if (typeof detail === 'string') return { message: detail, code: null };
  return undefined;
}

function defined(params) {
  return Object.fromEntries(Object.entries(params ?? {}).filter(([, v]) => v !== undefined && v !== null));
}

class Resource {
  constructor(client) {
    this._client = client;
  }
  _url(path) {
    return this._client.flintOrigin + path;
  }
  _get(path, query) {
    return this._client.get(this._url(path), { query: defined(query) });
  }
  _post(path, body) {
    return this._client.post(this._url(path), { body });
  }
}

export class Account extends Resource {
  /** `GET /auth/me`: `{user, usage, limits}`. */
  me() {
    return this._get('/auth/me');
  }
}

export class Billing extends Resource {
  /** `GET /api/billing/history`: `{entries, next_cursor}`. */
  history({ limit, cursor } = {}) {
    return this._get('/api/billing/history', { limit, cursor });
  }
  /** `POST /api/billing/topup` with exactly one of `amount_rub`, `amount_usd`, `plan`. */
  async topup(params = {}) {
    const body = defined({ amount_rub: params.amount_rub, amount_usd: params.amount_usd, plan: params.plan });
    if (Object.keys(body).length !== 1) {
      throw new TypeError('billing.topup takes exactly one of amount_rub, amount_usd or plan');
    }
    return this._post('/api/billing/topup', body);
  }
  /** `GET /api/billing/payments/{id}`: `{payment_id, status, kind, ...}`. */
  async payment(paymentId) {
    if (!paymentId) throw new TypeError('payment id is empty');
    return this._get('/api/billing/payments/' + encodeURIComponent(paymentId));
  }
}

export class Catalog extends Resource {
  /** `GET /api/models`: the models matching every filter given (case-insensitive). */
  async list({ tier, company, category } = {}) {
    const answer = await this._get('/api/models', { tier, company, category });
    return answer.models;
  }
}

export class Flint extends OpenAI {
  /**
   * @param {import('./index.d.ts').FlintOptions} [options] `apiKey` defaults to FLINT_API_KEY,
   * `baseURL` to FLINT_BASE_URL, then DEFAULT_BASE_URL (the gateway origin, with or without /v1).
   */
  constructor({ apiKey, baseURL, ...options } = {}) {
    apiKey = apiKey || readEnv('FLINT_API_KEY');
    if (!apiKey) {
      throw new OpenAIError('No Flint API key: pass apiKey or set the FLINT_API_KEY environment variable');
    }
    const origin = flintOrigin(baseURL || readEnv('FLINT_BASE_URL') || DEFAULT_BASE_URL);
    super({ ...options, apiKey, baseURL: origin + '/v1' });
    this.flintOrigin = origin;
    this.account = new Account(this);
    this.billing = new Billing(this);
    this.catalog = new Catalog(this);
  }

  makeStatusError(status, error, message, headers) {
    const stone = stoneError(error);
    const body = stone ? { error: stone } : error;
    if (status === 402 && headers) {
      return new InsufficientBalanceError(status, body?.error ?? body, message, headers);
    }
    return super.makeStatusError(status, body, message, headers);
  }
}

Flint.InsufficientBalanceError = InsufficientBalanceError;
Flint.DEFAULT_BASE_URL = DEFAULT_BASE_URL;

export default Flint;
