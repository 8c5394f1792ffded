// The official Anthropic TypeScript SDK against the gateway: what a developer sees after setting
// `baseURL`. Started by tests/sdk_anthropic.rs with FLINT_URL, FLINT_API_KEY (a funded user's
// key) and FLINT_FREE_KEY (a user without balance). The mock answers "Mock answer ё→ 3 4 5 6 7"
// in 8 chunks and counts a token per word.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';

const MOCK_TEXT = 'Mock answer ё→ 3 4 5 6 7';
const baseURL = process.env.FLINT_URL;
const client = new Anthropic({ baseURL, apiKey: process.env.FLINT_API_KEY, maxRetries: 0 });
const free = new Anthropic({ baseURL, apiKey: process.env.FLINT_FREE_KEY, maxRetries: 0 });
const unique = (p) => `${p}-${process.pid}-${Math.random().toString(36).slice(2)}`;
const say = (text) => [{ role: 'user', content: text }];

const weatherTool = {
  name: 'get_weather',
  description: 'Weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

test('a Claude message, whole', async () => {
  const message = await client.messages.create({ model: 'claude-sonnet-5.5', max_tokens: 100, messages: say(`three word prompt ${unique('a')}`) });
  assert.equal(message.type, 'message');
  assert.equal(message.role, 'assistant');
  assert.equal(message.content[0].type, 'text');
  assert.equal(message.content[0].text, MOCK_TEXT);
  assert.equal(message.stop_reason, 'end_turn');
  assert.deepEqual([message.usage.input_tokens, message.usage.output_tokens], [4, 8]);
});

test('a Claude stream with thinking, through messages.stream()', async () => {
  const stream = client.messages.stream({
    model: 'claude-sonnet-5.5', max_tokens: 4000,
    thinking: { type: 'enabled', budget_tokens: 2000 },
    messages: say(`${unique('think')} [[mock reasoning=5]]`),
  });
  let text = '';
  stream.on('text', (delta) => { text += delta; });
  const message = await stream.finalMessage();
  assert.equal(text, MOCK_TEXT);
  assert.equal(message.content[0].type, 'thinking');
  assert.equal(message.content[0].thinking, 'Mock thinking about the answer.');
  assert.ok(message.content[0].signature.length > 0);
  assert.equal(message.content[1].text, MOCK_TEXT);
  assert.equal(message.usage.output_tokens, 13);
});

test('a translated OpenAI model streams text and a tool call', async () => {
  const stream = client.messages.stream({ model: 'gpt-4o-mini', max_tokens: 100, messages: say(unique('s')) });
  const message = await stream.finalMessage();
  assert.equal(message.model, 'gpt-4o-mini');
  assert.equal(message.content[0].text, MOCK_TEXT);
  assert.equal(message.stop_reason, 'end_turn');

  const tools = await client.messages.stream({ model: 'gpt-4o-mini', max_tokens: 100, tools: [weatherTool], messages: say(`weather? ${unique('t')}`) }).finalMessage();
  const call = tools.content.find((b) => b.type === 'tool_use');
  assert.ok(call, JSON.stringify(tools.content));
  assert.equal(call.name, 'get_weather');
  assert.equal(typeof call.input, 'object');
  assert.equal(tools.stop_reason, 'tool_use');
  // The round trip: the tool's result goes back and the model answers from it.
  const after = await client.messages.create({
    model: 'gpt-4o-mini', max_tokens: 100, tools: [weatherTool],
    messages: [
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: [call] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'sunny' }] },
    ],
  });
  assert.equal(after.content[0].text, 'Tool said: sunny');
});

test('a Gemini model streams', async () => {
  const message = await client.messages.stream({ model: 'gemini-2.5-flash', max_tokens: 100, messages: say(unique('g')) }).finalMessage();
  assert.equal(message.content[0].text, MOCK_TEXT);
});

test('countTokens for Claude and for another model', async () => {
  const claude = await client.messages.countTokens({ model: 'claude-sonnet-5.5', messages: say('one two three') });
  assert.equal(claude.input_tokens, 3);
  const other = await client.messages.countTokens({ model: 'gpt-4o-mini', messages: say('one two three') });
  assert.ok(other.input_tokens > 0);
});

test('models.list() in Anthropic shape, paged', async () => {
  const ids = [];
  for await (const model of client.models.list({ limit: 20 })) {
    assert.equal(model.type, 'model');
    ids.push(model.id);
  }
  assert.ok(ids.includes('claude-haiku-4.5'));
  assert.ok(ids.includes('gpt-4o-mini'));
  const one = await client.models.retrieve('claude-haiku-4-5-20251001');
  assert.equal(one.id, 'claude-haiku-4.5');
});

test('errors arrive as the SDK\'s classes', async () => {
  const bad = new Anthropic({ baseURL, apiKey: 'sk-flint-not-a-key', maxRetries: 0 });
  await assert.rejects(bad.messages.create({ model: 'claude-haiku-4.5', max_tokens: 10, messages: say('x') }), Anthropic.AuthenticationError);
  await assert.rejects(client.messages.create({ model: 'claude-nope-9', max_tokens: 10, messages: say('x') }), Anthropic.NotFoundError);
  await assert.rejects(client.messages.create({ model: 'claude-haiku-4.5', max_tokens: 10, messages: [] }), Anthropic.BadRequestError);
  await assert.rejects(free.messages.create({ model: 'claude-sonnet-5.5', max_tokens: 10, messages: say(unique('poor')) }), (e) => {
    assert.equal(e.status, 402);
    assert.ok(e instanceof Anthropic.APIError);
    assert.equal(e.error.error.type, 'billing_error');
    return true;
  });
  await assert.rejects(client.messages.create({ model: 'claude-sonnet-5.5', max_tokens: 10, messages: say(`${unique('busy')} [[mock status=429 retry_after=7]]`) }), Anthropic.RateLimitError);
});
