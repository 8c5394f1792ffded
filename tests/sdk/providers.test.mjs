// Claude and Gemini through the official OpenAI Node SDK: a client can't tell who answered,
// except by the text. Started by tests/sdk.rs with FLINT_URL and FLINT_API_KEY (a funded user).
// The mock answers "Mock answer ё→ 3 4 5 6 7" in 8 chunks and counts a token per word.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const MOCK_TEXT = 'Mock answer ё→ 3 4 5 6 7';
const client = new OpenAI({ baseURL: `${process.env.FLINT_URL}/v1`, apiKey: process.env.FLINT_API_KEY, maxRetries: 0 });
const unique = (p) => `${p}-${process.pid}-${Math.random().toString(36).slice(2)}`;
const MODELS = ['claude-sonnet-4.5', 'gemini-2.5-pro'];

const tool = {
  type: 'function',
  function: {
    name: 'lookup_order',
    description: 'Find an order',
    parameters: {
      type: 'object',
      additionalProperties: false,
      properties: { order_id: { type: 'string', description: 'The id' }, verbose: { type: 'boolean', default: false } },
      required: ['order_id'],
    },
  },
};

/** The cost by the seed's formula, in USD rounded to the micro-dollar as the gateway shows it. */
async function expectedCost(model, tokensIn, tokensOut) {
  const models = (await (await fetch(`${process.env.FLINT_URL}/api/models`)).json()).models;
  const row = models.find((m) => m.id === model);
  const nanos = Math.ceil((tokensIn * Math.round(row.price_input * 1e6) + tokensOut * Math.round(row.price_output * 1e6)) / 1000);
  return Math.round(nanos / 1000) / 1e6;
}

for (const model of MODELS) {
  test(`${model}: a non-streamed answer with usage and the cost by the formula`, async () => {
    const response = await client.chat.completions.create({
      model,
      messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: `one two ${unique('n')}` }],
    });
    assert.equal(response.model, model);
    assert.equal(response.object, 'chat.completion');
    assert.equal(response.choices[0].message.content, MOCK_TEXT);
    assert.equal(response.choices[0].finish_reason, 'stop');
    assert.deepEqual([response.usage.prompt_tokens, response.usage.completion_tokens], [5, 8]);
    assert.equal(response.usage.cost_usd, await expectedCost(model, 5, 8));
  });

  test(`${model}: a stream in OpenAI chunks, with include_usage`, async () => {
    const stream = await client.chat.completions.create({
      model,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: `stream please ${unique('s')}` }],
    });
    let text = '';
    let role;
    let finish;
    let usage;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      role = chunk.choices[0]?.delta?.role ?? role;
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    assert.equal(role, 'assistant');
    assert.equal(text, MOCK_TEXT);
    assert.equal(finish, 'stop');
    assert.deepEqual([usage.prompt_tokens, usage.completion_tokens], [3, 8]);
  });

  test(`${model}: a full tool round trip, streamed`, async () => {
    const messages = [{ role: 'user', content: `where is my order ${unique('t')}` }];
    const stream = await client.chat.completions.create({ model, stream: true, tools: [tool], messages });
    const calls = [];
    let finish;
    for await (const chunk of stream) {
      for (const delta of chunk.choices[0]?.delta?.tool_calls ?? []) {
        if (delta.id) calls[delta.index] = { id: delta.id, name: delta.function.name, arguments: delta.function.arguments ?? '' };
        else calls[delta.index].arguments += delta.function?.arguments ?? '';
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(finish, 'tool_calls');
    assert.equal(calls.length, 1);
    assert.equal(calls[0].name, 'lookup_order');
    assert.deepEqual(JSON.parse(calls[0].arguments), { order_id: 'mock-order_id' });
    messages.push({ role: 'assistant', content: null, tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) });
    messages.push({ role: 'tool', tool_call_id: calls[0].id, content: 'shipped yesterday' });
    const answer = await client.chat.completions.create({ model, tools: [tool], messages });
    assert.equal(answer.choices[0].message.content, 'Tool said: shipped yesterday');
  });

  test(`${model}: several tool calls in one answer`, async () => {
    const second = { type: 'function', function: { name: 'track_parcel', parameters: { type: 'object', properties: { code: { type: 'string' } }, required: ['code'] } } };
    const response = await client.chat.completions.create({
      model,
      tools: [tool, second],
      messages: [{ role: 'user', content: `both please ${unique('m')} [[mock tools=2]]` }],
    });
    const calls = response.choices[0].message.tool_calls;
    assert.deepEqual(calls.map((c) => c.function.name), ['lookup_order', 'track_parcel']);
    assert.equal(new Set(calls.map((c) => c.id)).size, 2);
    assert.equal(response.choices[0].finish_reason, 'tool_calls');
  });
}

test('gemini: response_format json_schema gives JSON', async () => {
  const response = await client.chat.completions.create({
    model: 'gemini-2.5-pro',
    response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object', properties: { answer: { type: 'string' } } } } },
    messages: [{ role: 'user', content: `json please ${unique('j')}` }],
  });
  assert.equal(typeof JSON.parse(response.choices[0].message.content).answer, 'string');
});

test('claude: response_format is emulated by an instruction, and still answers', async () => {
  const response = await client.chat.completions.create({
    model: 'claude-sonnet-4.5',
    response_format: { type: 'json_object' },
    messages: [{ role: 'user', content: `json please ${unique('jc')}` }],
  });
  assert.equal(response.choices[0].finish_reason, 'stop');
});

test('an image model given to chat, and a chat model given to images, are 400s naming the category', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'flux-schnell', messages: [{ role: 'user', content: 'hi' }] }),
    (error) => error instanceof OpenAI.BadRequestError && /category `image`/.test(error.message),
  );
  await assert.rejects(
    client.images.generate({ model: 'claude-sonnet-4.5', prompt: 'a cat' }),
    (error) => error instanceof OpenAI.BadRequestError && /category `chat`/.test(error.message),
  );
});

test('images.generate with flux-schnell returns the images asked for', async () => {
  const response = await client.images.generate({ model: 'flux-schnell', prompt: `a lighthouse ${unique('i')}`, n: 2, response_format: 'b64_json' });
  assert.equal(response.data.length, 2);
  assert.ok(Buffer.from(response.data[0].b64_json, 'base64').subarray(1, 4).toString() === 'PNG');
  assert.equal(response.usage.cost_usd, 0.024);
});

test('claude: cache_control parts and reasoning_effort through the SDK; cached tokens in the usage', async () => {
  const messages = [
    { role: 'system', content: [{ type: 'text', text: 'Long rules.', cache_control: { type: 'ephemeral', ttl: '1h' } }] },
    { role: 'user', content: `${unique('cc')} [[mock cache_read=300 cache_write=50 reasoning=20]]` },
  ];
  const whole = await client.chat.completions.create({ model: 'claude-sonnet-4.5', reasoning_effort: 'low', messages });
  assert.equal(whole.choices[0].message.content, MOCK_TEXT);
  assert.equal(whole.usage.prompt_tokens_details.cached_tokens, 300);
  assert.ok(whole.usage.prompt_tokens > 350, 'prompt_tokens include the cache reads and writes');
  // Claude's thinking (on for reasoning_effort) is inside completion_tokens: 8 chunks + 20.
  assert.equal(whole.usage.completion_tokens, 28);
  const stream = await client.chat.completions.create({
    model: 'claude-sonnet-4.5', reasoning_effort: 'low', messages, stream: true, stream_options: { include_usage: true },
  });
  let usage;
  for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
  assert.equal(usage.prompt_tokens_details.cached_tokens, 300);
  assert.equal(usage.prompt_tokens, whole.usage.prompt_tokens);
});

test('gemini: reasoning tokens are in completion_tokens_details', async () => {
  const response = await client.chat.completions.create({
    model: 'gemini-2.5-pro',
    reasoning_effort: 'medium',
    messages: [{ role: 'user', content: `${unique('gr')} [[mock reasoning=30 cache_read=40]]` }],
  });
  assert.equal(response.usage.completion_tokens_details.reasoning_tokens, 30);
  assert.equal(response.usage.completion_tokens, 38);
  assert.equal(response.usage.prompt_tokens_details.cached_tokens, 40);
});
