// `@flint-ai/sdk` (sdk/node) against the running gateway (run by tests/sdk_flint.rs).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import OpenAI, { APIError, OpenAIError, PermissionDeniedError } from 'openai';

import Flint, { DEFAULT_BASE_URL, InsufficientBalanceError, Flint as NamedFlint } from '../../sdk/node/index.js';

const BASE = process.env.FLINT_BASE_URL;
const KEY = process.env.FLINT_API_KEY;
const SCOPED_KEY = process.env.FLINT_SCOPED_KEY;
const BROKE_KEY = process.env.FLINT_BROKE_KEY;
const EMAIL = process.env.FLINT_USER_EMAIL;

const client = new Flint({ maxRetries: 0 });

/** Runs `fn` with some environment variables set (a value of undefined: unset), then restores them. */
async function withEnv(vars, fn) {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (values) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(vars);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}

test('Flint is the OpenAI client, configured from FLINT_API_KEY and FLINT_BASE_URL', async () => {
  assert.ok(client instanceof OpenAI);
  assert.equal(NamedFlint, Flint);
  assert.equal(client.apiKey, KEY);
  assert.equal(client.baseURL, `${BASE}/v1`);
  assert.equal(client.flintOrigin, BASE);
  // Given with or without /v1 (and a trailing slash), the origin is the same.
  for (const baseURL of [BASE, `${BASE}/`, `${BASE}/v1`, `${BASE}/v1/`]) {
    assert.equal(new Flint({ apiKey: 'k', baseURL }).baseURL, `${BASE}/v1`, baseURL);
  }
  await withEnv({ FLINT_BASE_URL: `${BASE}/v1` }, () => assert.equal(new Flint().flintOrigin, BASE));
  // No FLINT_BASE_URL: the default origin. OPENAI_* are not read.
  await withEnv({ FLINT_BASE_URL: undefined, OPENAI_BASE_URL: 'http://elsewhere.invalid/v1' }, () => {
    assert.equal(DEFAULT_BASE_URL, 'http://127.0.0.1:8787');
    assert.equal(new Flint().baseURL, 'http://127.0.0.1:8787/v1');
  });
  await withEnv({ FLINT_API_KEY: undefined, OPENAI_API_KEY: 'sk-openai' }, () => {
    assert.throws(() => new Flint(), (e) => e instanceof OpenAIError && /FLINT_API_KEY/.test(e.message));
  });
  // withOptions keeps the class and the gateway.
  const copy = client.withOptions({ timeout: 5000 });
  assert.ok(copy instanceof Flint);
  assert.equal(copy.baseURL, `${BASE}/v1`);
  assert.equal((await copy.account.me()).user.email, EMAIL);
});

test('chat, a stream with usage, embeddings and models go through the OpenAI SDK unchanged', async () => {
  const answer = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'hello from @flint-ai/sdk' }],
  });
  assert.ok(answer.choices[0].message.content);
  assert.ok(answer.usage.total_tokens > 0);

  const stream = await client.chat.completions.create({
    model: 'claude-haiku-4.5',
    messages: [{ role: 'user', content: 'stream from @flint-ai/sdk' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let usage = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.ok(text);
  assert.ok(usage?.completion_tokens > 0);

  const embedded = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] });
  assert.equal(embedded.data.length, 2);
  assert.ok(embedded.data[0].embedding.length > 0);

  const model = await client.models.retrieve('gpt-4o-mini');
  assert.equal(model.id, 'gpt-4o-mini');
});

test('account.me answers /auth/me', async () => {
  const me = await client.account.me();
  assert.equal(me.user.email, EMAIL);
  assert.equal(typeof me.user.balance_usd, 'number');
  assert.ok(me.user.balance_usd > 4 && me.user.balance_usd <= 5, `balance ${me.user.balance_usd}`);
  assert.equal(typeof me.usage.requestsToday, 'number');
  assert.equal(typeof me.limits.rpm, 'number');
});

test('billing.history pages the ledger with limit and cursor', async () => {
  const all = await client.billing.history();
  assert.ok(Array.isArray(all.entries));
  assert.ok(all.entries.some((e) => e.amount_usd === 5), JSON.stringify(all.entries));
  const first = await client.billing.history({ limit: 1 });
  assert.equal(first.entries.length, 1);
  assert.equal(first.entries[0].id, all.entries[0].id);
  if (all.entries.length > 1) {
    assert.ok(first.next_cursor);
    const second = await client.billing.history({ limit: 1, cursor: first.next_cursor });
    assert.equal(second.entries[0].id, all.entries[1].id);
  }
});

test('billing.topup opens a YooKassa payment and billing.payment reads it back', async () => {
  const topup = await client.billing.topup({ amount_rub: 990 });
  assert.match(topup.confirmation_url, /^https?:\/\//);
  assert.ok(topup.payment_id);
  assert.equal(topup.amount_rub, 990);
  const payment = await client.billing.payment(topup.payment_id);
  assert.equal(payment.payment_id, topup.payment_id);
  assert.equal(payment.status, 'pending');

  const plan = await client.billing.topup({ plan: 'pro' });
  assert.equal(plan.plan, 'pro');
  assert.match(plan.confirmation_url, /^https?:\/\//);

  await assert.rejects(client.billing.topup({}), TypeError);
  await assert.rejects(client.billing.topup({ amount_rub: 990, plan: 'pro' }), TypeError);
});

test("the gateway's /api/* errors become the OpenAI SDK's classes, with Stone's code and message", async () => {
  const scoped = new Flint({ apiKey: SCOPED_KEY, maxRetries: 0 });
  const error = await scoped.billing.history().then(
    () => assert.fail('a key without the billing scope read the history'),
    (e) => e,
  );
  assert.ok(error instanceof PermissionDeniedError, String(error));
  assert.equal(error.status, 403);
  assert.equal(error.code, 'permission_denied');
  assert.ok(error.error.message, JSON.stringify(error.error));
  assert.ok(error.message.includes(error.error.message));

  // A bad amount: the gateway's 400 naming the field.
  const bad = await client.billing.topup({ amount_rub: -5 }).catch((e) => e);
  assert.equal(bad.status, 400, String(bad));
  assert.ok(bad instanceof APIError);
  assert.ok(bad.code);
});

test('catalog.list filters by tier, company and category', async () => {
  const everything = await client.catalog.list();
  assert.ok(everything.length > 10);
  const some = await client.catalog.list({ tier: 'lite', company: 'OpenAI', category: 'chat' });
  assert.ok(some.length > 0);
  assert.ok(some.length < everything.length);
  for (const model of some) {
    assert.equal(model.tier, 'lite');
    assert.equal(model.company.toLowerCase(), 'openai');
    assert.equal(model.category, 'chat');
    assert.equal(typeof model.price_weighted, 'number');
  }
  assert.deepEqual(await client.catalog.list({ company: 'no-such-company' }), []);
});

test('a 402 is InsufficientBalanceError, a subclass of the SDK error, on /v1 and on /api/*', async () => {
  const broke = new Flint({ apiKey: BROKE_KEY, maxRetries: 0 });
  const onV1 = await broke.embeddings.create({ model: 'text-embedding-3-small', input: 'no money' }).catch((e) => e);
  assert.ok(onV1 instanceof InsufficientBalanceError, String(onV1));
  assert.ok(onV1 instanceof APIError);
  assert.equal(Flint.InsufficientBalanceError, InsufficientBalanceError);
  assert.equal(onV1.status, 402);
  assert.equal(onV1.code, 'insufficient_quota');
  assert.ok(onV1.requestID);

  // Stone's envelope: /api/chat through the client's own request methods.
  const onApi = await broke
    .post(`${BASE}/api/chat`, { body: { model_id: 'gpt-4o', messages: [{ role: 'user', content: 'no money' }] } })
    .catch((e) => e);
  assert.ok(onApi instanceof InsufficientBalanceError, String(onApi));
  assert.equal(onApi.status, 402);
  assert.equal(onApi.code, 'insufficient_quota', JSON.stringify(onApi.error));
  assert.match(onApi.message, /Insufficient balance/);
});

test("TechStone's drop-in examples work with Flint in place of TechStoneAI", async () => {
  const TechStoneAI = Flint; // import TechStoneAI from '@techstoneai/sdk';
  await withEnv({ TECHSTONE_API_KEY: KEY, API_BASE_URL: BASE, FLINT_API_KEY: undefined, FLINT_BASE_URL: undefined }, async () => {
    // "Node.js: Switch from OpenAI to TechStone"
    const client = new TechStoneAI({
      apiKey: process.env.TECHSTONE_API_KEY,
      baseURL: process.env.API_BASE_URL, // Set in your environment
    });
    // Everything else works exactly the same
    const response = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Hello!' }],
    });
    assert.ok(response.choices[0].message.content);
  });

  // "Streaming with Node.js SDK", the key from the environment and process.stdout collected.
  const stdout = { text: '', write(s) { this.text += s; } };
  {
    const client = new TechStoneAI({ apiKey: process.env.FLINT_API_KEY });

    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Write a poem about AI' }],
      stream: true,
    });

    for await (const chunk of stream) {
      const content = chunk.choices[0]?.delta?.content || '';
      stdout.write(content);
    }
  }
  assert.ok(stdout.text.length > 0);
});
