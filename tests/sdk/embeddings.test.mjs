// Embeddings through the official OpenAI Node SDK. Started by tests/sdk.rs with FLINT_URL and
// FLINT_API_KEY (a funded user). Without `encoding_format` the SDK asks for base64 and decodes it
// to floats itself (as the Python SDK does): those must be the floats a `float` answer carries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: `${process.env.FLINT_URL}/v1`, apiKey: process.env.FLINT_API_KEY, maxRetries: 0 });
const unique = (p) => `${p}-${process.pid}-${Math.random().toString(36).slice(2)}`;
// Both wires: OpenAI's own API, Gemini's batchEmbedContents, and a vendor that only sends floats.
const MODELS = ['text-embedding-3-small', 'gemini-embedding-001', 'text-embedding-v4'];

for (const model of MODELS) {
  test(`${model}: the SDK's default base64 decodes to the floats of encoding_format float`, async () => {
    const input = [unique('first'), 'a second text'];
    const decoded = await client.embeddings.create({ model, input });
    const floats = await client.embeddings.create({ model, input, encoding_format: 'float' });
    assert.equal(decoded.object, 'list');
    assert.equal(decoded.model, model);
    assert.equal(decoded.data.length, 2);
    for (const [i, item] of decoded.data.entries()) {
      assert.equal(item.index, i);
      assert.ok(Array.isArray(item.embedding) && typeof item.embedding[0] === 'number');
      // JSON floats are float32 values printed short; the SDK's come from a Float32Array.
      assert.deepEqual(item.embedding, floats.data[i].embedding.map(Math.fround));
    }
    assert.ok(decoded.usage.prompt_tokens > 0);
    assert.equal(decoded.usage.total_tokens, decoded.usage.prompt_tokens);
    assert.ok(decoded.usage.cost_usd > 0);
  });
}

test('dimensions shortens the vectors; a model that cannot is a BadRequestError naming dimensions', async () => {
  const short = await client.embeddings.create({ model: 'text-embedding-3-large', input: unique('d'), dimensions: 64 });
  assert.equal(short.data[0].embedding.length, 64);
  await assert.rejects(
    client.embeddings.create({ model: 'mistral-embed', input: 'x', dimensions: 64 }),
    (error) => error instanceof OpenAI.BadRequestError && error.param === 'dimensions',
  );
});

test('token arrays are embedded by OpenAI models', async () => {
  const response = await client.embeddings.create({ model: 'text-embedding-3-small', input: [[101, 102, 103], [7]] });
  assert.equal(response.data.length, 2);
  assert.equal(response.usage.prompt_tokens, 4);
});

test('a chat model on embeddings, and an embedding model on chat, are 400s naming model', async () => {
  await assert.rejects(
    client.embeddings.create({ model: 'gpt-4o', input: 'x' }),
    (error) => error instanceof OpenAI.BadRequestError && error.param === 'model',
  );
  await assert.rejects(
    client.chat.completions.create({ model: 'text-embedding-3-small', messages: [{ role: 'user', content: 'hi' }] }),
    (error) => error instanceof OpenAI.BadRequestError && error.param === 'model' && /category `embedding`/.test(error.message),
  );
  await assert.rejects(
    client.embeddings.create({ model: 'no-such-embedder', input: 'x' }),
    (error) => error instanceof OpenAI.NotFoundError,
  );
});
