// Chat through the official OpenAI Node SDK: what a developer sees after changing `baseURL`.
// Started by tests/sdk.rs with FLINT_URL and FLINT_API_KEY (a free user's key).
// The mock provider answers "Mock answer ё→ 3 4 5 6 7" in 8 chunks and counts a token per word.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const MOCK_TEXT = 'Mock answer ё→ 3 4 5 6 7';
const client = new OpenAI({ baseURL: `${process.env.FLINT_URL}/v1`, apiKey: process.env.FLINT_API_KEY, maxRetries: 0 });
const iskra = new OpenAI({ baseURL: `${process.env.FLINT_URL}/ai/v1`, apiKey: process.env.FLINT_API_KEY, maxRetries: 0 });
const unique = (p) => `${p}-${process.pid}-${Math.random().toString(36).slice(2)}`;

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city', 'days'] },
  },
};

test('a non-streamed completion', async () => {
  const response = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: `three word prompt ${unique('a')}` }],
  });
  assert.equal(response.object, 'chat.completion');
  assert.equal(response.model, 'gpt-4o-mini');
  assert.equal(response.choices[0].message.content, MOCK_TEXT);
  assert.equal(response.choices[0].finish_reason, 'stop');
  assert.deepEqual([response.usage.prompt_tokens, response.usage.completion_tokens], [4, 8]);
});

test('the Iskra base URL serves the same API', async () => {
  const response = await iskra.chat.completions.create({
    model: 'qwen3-coder-flash',
    messages: [{ role: 'user', content: unique('iskra') }],
  });
  assert.equal(response.model, 'qwen3-coder-flash');
  assert.equal(response.choices[0].message.content, MOCK_TEXT);
});

test('a stream reassembles to the same text, chunk by chunk', async () => {
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    stream: true,
    messages: [{ role: 'user', content: unique('s') }],
  });
  let text = '';
  const ids = new Set();
  let finish;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks += 1;
    ids.add(chunk.id);
    text += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(text, MOCK_TEXT);
  assert.equal(ids.size, 1);
  assert.equal(finish, 'stop');
  assert.ok(chunks >= 9, `only ${chunks} chunks`);
});

test('include_usage ends the stream with a usage chunk the SDK parses', async () => {
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: 'user', content: `two words ${unique('u')}` }],
  });
  let last;
  for await (const chunk of stream) last = chunk;
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.prompt_tokens, 3);
  assert.equal(last.usage.completion_tokens, 8);
  assert.equal(last.usage.total_tokens, 11);
  assert.equal(typeof last.usage.cost_usd, 'number');
});

test('streamed tool calls reassemble, and a tool result gets a final answer', async () => {
  const messages = [{ role: 'user', content: `weather please ${unique('t')}` }];
  const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, tools: [weatherTool], messages });
  const calls = [];
  let finish;
  for await (const chunk of stream) {
    for (const delta of chunk.choices[0]?.delta?.tool_calls ?? []) {
      if (delta.id) {
        assert.equal(delta.index, calls.length);
        assert.equal(delta.type, 'function');
        calls.push({ id: delta.id, name: delta.function.name, arguments: delta.function.arguments ?? '' });
      } else {
        calls[delta.index].arguments += delta.function?.arguments ?? '';
      }
    }
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(finish, 'tool_calls');
  assert.equal(calls.length, 1);
  assert.equal(calls[0].name, 'get_weather');
  assert.deepEqual(JSON.parse(calls[0].arguments), { city: 'mock-city', days: 1 });

  messages.push({ role: 'assistant', content: null, tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) });
  messages.push({ role: 'tool', tool_call_id: calls[0].id, content: 'sunny and 21C' });
  const answer = await client.chat.completions.create({ model: 'gpt-4o-mini', tools: [weatherTool], messages });
  assert.equal(answer.choices[0].message.content, 'Tool said: sunny and 21C');
  assert.equal(answer.choices[0].finish_reason, 'stop');
});

test('a non-streamed tool call', async () => {
  const response = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    tools: [weatherTool],
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
    messages: [{ role: 'user', content: unique('nt') }],
  });
  const call = response.choices[0].message.tool_calls[0];
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { city: 'mock-city', days: 1 });
  assert.equal(response.choices[0].finish_reason, 'tool_calls');
});

test('an unknown model and a bad parameter are typed SDK errors', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'gpt-17', messages: [{ role: 'user', content: 'hi' }] }),
    (error) => error instanceof OpenAI.NotFoundError && error.code === 'model_not_found',
  );
  await assert.rejects(
    client.chat.completions.create({ model: 'gpt-4o-mini', n: 200, messages: [{ role: 'user', content: 'hi' }] }),
    (error) => error instanceof OpenAI.BadRequestError && error.param === 'n',
  );
});

test('upstream failures surface as the SDK error classes', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `${unique('r')} [[mock status=429 retry_after=3]]` }] }),
    (error) => error instanceof OpenAI.RateLimitError && error.headers.get('retry-after') === '3',
  );
  await assert.rejects(
    client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `${unique('f')} [[mock status=500]]` }] }),
    (error) => error instanceof OpenAI.InternalServerError && error.status === 502,
  );
});

test('a mid-stream upstream error makes the SDK stream throw', async () => {
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    stream: true,
    messages: [{ role: 'user', content: `${unique('m')} [[mock error_after=2]]` }],
  });
  let text = '';
  await assert.rejects(
    (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    })(),
    (error) => error instanceof OpenAI.APIError && /mid-stream/.test(error.message),
  );
  assert.equal(text, 'Mock answer');
});

test('n choices and the current parameters go through the SDK', async () => {
  const response = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    n: 2,
    prompt_cache_key: 'conversation-1',
    safety_identifier: 'user-hash',
    service_tier: 'priority',
    store: true,
    messages: [{ role: 'user', content: unique('n') }],
  });
  assert.equal(response.choices.length, 2);
  assert.deepEqual(response.choices.map((c) => c.message.content), [MOCK_TEXT, MOCK_TEXT]);
  assert.equal(response.usage.completion_tokens, 16, 'both choices counted');
  assert.equal(response.usage.prompt_tokens_details.cached_tokens, 0);
  assert.equal(response.usage.completion_tokens_details.reasoning_tokens, 0);
});
