// The Responses API through the official OpenAI Node SDK (`client.responses.*`), on a native
// model (gpt-4o, OpenAI's own Responses API) and translated ones (Claude, Gemini).
// Started by tests/sdk_responses.rs with FLINT_URL and FLINT_API_KEY (a funded user's key).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: `${process.env.FLINT_URL}/v1`, apiKey: process.env.FLINT_API_KEY, maxRetries: 0 });
const unique = (p) => `${p}-${process.pid}-${Math.random().toString(36).slice(2)}`;
const MODELS = ['gpt-4o', 'claude-sonnet-4.5', 'gemini-2.5-flash'];
const weather = {
  type: 'function',
  name: 'get_weather',
  description: 'Weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  strict: false,
};

for (const model of MODELS) {
  test(`${model}: create, retrieve, list input items, delete`, async () => {
    const input = `hello ${unique('sdk')}`;
    const response = await client.responses.create({ model, input });
    assert.equal(response.object, 'response');
    assert.equal(response.model, model);
    assert.equal(response.status, 'completed');
    assert.ok(response.output_text.length > 0);
    assert.ok(response.usage.input_tokens > 0 && response.usage.output_tokens > 0);
    let got;
    for (let i = 0; i < 50 && !got; i++) {
      got = await client.responses.retrieve(response.id).catch(() => undefined);
      if (!got) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(got.output_text, response.output_text);
    const items = await client.responses.inputItems.list(response.id);
    assert.equal(items.data[0].content[0].text, input);
    const deleted = await client.responses.delete(response.id);
    await assert.rejects(client.responses.retrieve(response.id), (e) => e.status === 404);
    void deleted;
  });

  test(`${model}: a stream starts with response.created and ends with response.completed`, async () => {
    const stream = await client.responses.create({ model, input: unique('stream'), stream: true });
    const events = [];
    for await (const event of stream) events.push(event);
    assert.equal(events[0].type, 'response.created');
    assert.equal(events.at(-1).type, 'response.completed');
    const seqs = events.map((e) => e.sequence_number);
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], `${seqs}`);
    const text = events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');
    assert.equal(text, events.at(-1).response.output_text ?? events.at(-1).response.output.find((o) => o.type === 'message').content[0].text);
  });

  test(`${model}: a function call round trip`, async () => {
    const first = await client.responses.create({ model, input: `weather please ${unique('tool')}`, tools: [weather], store: false });
    const call = first.output.find((item) => item.type === 'function_call');
    assert.ok(call, JSON.stringify(first.output));
    assert.equal(call.name, 'get_weather');
    JSON.parse(call.arguments);
    const second = await client.responses.create({
      model,
      tools: [weather],
      store: false,
      input: [
        { role: 'user', content: 'weather please' },
        ...first.output,
        { type: 'function_call_output', call_id: call.call_id, output: 'sunny' },
      ],
    });
    assert.match(second.output_text, /Tool said: sunny/);
  });
}

test('another user cannot continue a stranger’s response, and bad input names input', async () => {
  await assert.rejects(
    client.responses.create({ model: 'gpt-4o', input: 'x', previous_response_id: 'resp_not_mine' }),
    (e) => e.status === 400 && e.param === 'previous_response_id',
  );
  await assert.rejects(
    client.responses.create({ model: 'claude-sonnet-4.5', input: [{ type: 'function_call_output', output: 'x' }] }),
    (e) => e.status === 400 && e.param.startsWith('input'),
  );
});
