import OpenAI, { APIError, type ClientOptions } from 'openai';
import type { APIPromise } from 'openai';

/** The gateway origin used when neither `baseURL` nor FLINT_BASE_URL is given. */
export declare const DEFAULT_BASE_URL: string;

/** The gateway's origin from a base URL given with or without the trailing `/v1`. */
export declare function flintOrigin(baseURL: string): string;

/** The OpenAI client's options; `apiKey` defaults to FLINT_API_KEY, `baseURL` to FLINT_BASE_URL. */
export interface FlintOptions extends ClientOptions {
  /** A Flint API key (`sk-…`) or session token. Default: FLINT_API_KEY. */
  apiKey?: ClientOptions['apiKey'];
  /** The gateway origin, with or without `/v1`. Default: FLINT_BASE_URL, then DEFAULT_BASE_URL. */
  baseURL?: string | null | undefined;
}

/**
 * A 402: the balance (or the API key's budget) cannot cover the request. `code` is
 * `insufficient_quota` (the balance) or `key_budget_exceeded` (the API key's own cap).
 */
export declare class InsufficientBalanceError extends APIError<402, Headers> {}

export interface AccountUser {
  id: number;
  email: string;
  tier: string;
  plan: string;
  planExpiresAt: string | null;
  balance_usd: number;
  created_at: string;
  [key: string]: unknown;
}

/** `GET /auth/me`. */
export interface AccountInfo {
  user: AccountUser;
  usage: {
    requestsToday: number;
    tokensToday: number;
    limit: number;
    remaining: number;
    freeRequestsToday: number;
    resetsAt: string;
    [key: string]: unknown;
  };
  limits: {
    rpm: number;
    rpmRemaining: number;
    tpm: number;
    tpmRemaining: number;
    concurrent: number;
    concurrentActive: number;
    maxOutputTokens: number;
    systemPromptAllowed: boolean;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface LedgerEntry {
  id: number | string;
  kind: string;
  amount_usd: number;
  balance_usd: number;
  reference: string | null;
  created_at: string;
  [key: string]: unknown;
}

/** `GET /api/billing/history`. */
export interface BillingHistory {
  entries: LedgerEntry[];
  next_cursor: string | null;
}

export interface HistoryParams {
  limit?: number;
  cursor?: string | null;
}

/** Exactly one of the three. */
export type TopupParams =
  | { amount_rub: number; amount_usd?: undefined; plan?: undefined }
  | { amount_usd: number; amount_rub?: undefined; plan?: undefined }
  | { plan: 'pro' | 'pro_plus' | (string & {}); amount_rub?: undefined; amount_usd?: undefined };

/** `POST /api/billing/topup`: open `confirmation_url` to pay. */
export interface Topup {
  payment_id: string;
  confirmation_url: string;
  amount_rub: number;
  amount_usd: number;
  plan: string | null;
  [key: string]: unknown;
}

/** `GET /api/billing/payments/{id}`. */
export interface Payment {
  payment_id: string;
  status: 'pending' | 'succeeded' | 'canceled' | (string & {});
  kind: string;
  plan: string | null;
  amount_rub: number;
  amount_usd: number;
  created_at: string;
  [key: string]: unknown;
}

/** One model of `GET /api/models` (prices in USD per 1M tokens). */
export interface CatalogModel {
  id: string;
  name: string;
  company: string;
  tier: string;
  category: string;
  price_weighted: number;
  price_input: number | null;
  price_output: number | null;
  price_cache_read: number | null;
  price_cache_write: number | null;
  context_length: number | null;
  [key: string]: unknown;
}

export interface CatalogFilters {
  tier?: string;
  company?: string;
  category?: string;
}

export declare class Account {
  /** `GET /auth/me`. */
  me(): APIPromise<AccountInfo>;
}

export declare class Billing {
  /** `GET /api/billing/history`. */
  history(params?: HistoryParams): APIPromise<BillingHistory>;
  /** `POST /api/billing/topup`. */
  topup(params: TopupParams): Promise<Topup>;
  /** `GET /api/billing/payments/{id}`. */
  payment(paymentId: string): Promise<Payment>;
}

export declare class Catalog {
  /** `GET /api/models` with the filters combined. */
  list(filters?: CatalogFilters): Promise<CatalogModel[]>;
}

/** The official OpenAI client pointed at a Flint gateway, with Flint's own routes. */
export declare class Flint extends OpenAI {
  constructor(options?: FlintOptions);
  /** The gateway origin (the OpenAI client's `baseURL` is this plus `/v1`). */
  readonly flintOrigin: string;
  readonly account: Account;
  readonly billing: Billing;
  readonly catalog: Catalog;
  static InsufficientBalanceError: typeof InsufficientBalanceError;
  static DEFAULT_BASE_URL: string;
}

export default Flint;
