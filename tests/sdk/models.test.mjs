// The official OpenAI Node SDK against the running gateway. Started by tests/sdk.rs, which passes
// FLINT_URL and API keys (a full one, one scoped to gpt-4o-mini, a revoked one) in the environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = `${process.env.FLINT_URL}/v1`;
const client = (apiKey) => new OpenAI({ baseURL, apiKey, maxRetries: 0 });

test('client.models.list() pages through the whole catalog', async () => {
  const ids = [];
  for await (const model of client(process.env.FLINT_API_KEY).models.list()) {
    assert.equal(model.object, 'model');
    ids.push(model.id);
  }
  assert.ok(ids.length >= 50, `only ${ids.length} models`);
  assert.ok(ids.includes('gpt-4o-mini'));
});

test('client.models.retrieve() resolves an alias and 404s an unknown model', async () => {
  const model = await client(process.env.FLINT_API_KEY).models.retrieve('claude-haiku-4-5');
  assert.equal(model.id, 'claude-haiku-4.5');
  await assert.rejects(client(process.env.FLINT_API_KEY).models.retrieve('no-such-model'), (error) => {
    assert.ok(error instanceof OpenAI.NotFoundError);
    assert.equal(error.code, 'model_not_found');
    return true;
  });
});

test('a key scoped to one model lists only that model and is refused the others', async () => {
  const scoped = client(process.env.FLINT_SCOPED_KEY);
  const ids = [];
  for await (const model of scoped.models.list()) ids.push(model.id);
  assert.deepEqual(ids, ['gpt-4o-mini']);
  await assert.rejects(scoped.models.retrieve('gpt-4o'), (error) => {
    assert.ok(error instanceof OpenAI.PermissionDeniedError);
    assert.equal(error.code, 'model_not_allowed');
    return true;
  });
});

test('a revoked key and a made-up key are refused with 401', async () => {
  for (const key of [process.env.FLINT_REVOKED_KEY, 'sk-not-a-real-key']) {
    await assert.rejects(client(key).models.list(), (error) => {
      assert.ok(error instanceof OpenAI.AuthenticationError);
      assert.equal(error.code, 'invalid_api_key');
      return true;
    });
  }
});
