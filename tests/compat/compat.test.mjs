// OpenAI API compatibility of llmd, checked with the official `openai` client
// against a real llmd over TLS serving stories260K.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServer, generate, countTokens, MODEL_ID, MODEL_ALIAS, TOOLS_MODEL_ID } from './harness.mjs';

let server;
let client;
const PROMPT = 'Once upon a time';

before(async () => {
  server = await startServer();
  client = new OpenAI({ apiKey: server.userKey, baseURL: server.baseURL, maxRetries: 0, timeout: 60000 });
});

after(async () => {
  if (!server) return;
  const code = await server.stop();
  assert.equal(code, 0, `llmd exited with ${code}:\n${server.logs()}`);
  for (const secret of [server.userKey, server.adminKey]) {
    assert.ok(!server.logs().includes(secret), 'a key appears in the server log');
  }
});

async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

const greedyChat = (extra = {}) => client.chat.completions.create({
  model: MODEL_ID, messages: [{ role: 'user', content: PROMPT }], temperature: 0, max_tokens: 48, ...extra,
});

test('models list and retrieval (ids with a slash)', async () => {
  const page = await client.models.list();
  const ids = page.data.map((m) => m.id);
  assert.deepEqual([...ids].sort(), [MODEL_ID, TOOLS_MODEL_ID].sort());
  assert.equal(page.data[0].object, 'model');
  assert.equal(typeof page.data[0].created, 'number');
  assert.equal(typeof page.data[0].owned_by, 'string');
  const byAlias = await client.models.retrieve(MODEL_ALIAS);
  assert.equal(byAlias.id, MODEL_ALIAS);
  assert.equal(byAlias.object, 'model');
});

test('greedy chat through the API equals llmd generate on the rendered prompt', async () => {
  const res = await greedyChat();
  assert.equal(res.object, 'chat.completion');
  assert.match(res.id, /^chatcmpl-/);
  assert.equal(res.model, MODEL_ID);
  assert.match(res.system_fingerprint, /^fp_/);
  assert.equal(res.choices.length, 1);
  const choice = res.choices[0];
  assert.equal(choice.index, 0);
  assert.equal(choice.message.role, 'assistant');
  assert.ok(['stop', 'length'].includes(choice.finish_reason));
  assert.ok(choice.message.content.length > 0);
  // The "plain" template of a model without one renders a single user
  // message as exactly its text (BOS first): the same prompt generate sees.
  assert.equal(choice.message.content, generate(PROMPT, 48));
  assert.equal(res.usage.prompt_tokens, countTokens(PROMPT));
  assert.equal(res.usage.total_tokens, res.usage.prompt_tokens + res.usage.completion_tokens);
  if (choice.finish_reason === 'length') assert.equal(res.usage.completion_tokens, 48);
});

test('streamed chat: role first, the same text, finish reason, usage chunk, [DONE]', async () => {
  const whole = await greedyChat();
  const chunks = await collect(await greedyChat({ stream: true, stream_options: { include_usage: true } }));
  assert.ok(chunks.length >= 3);
  for (const c of chunks) {
    assert.equal(c.object, 'chat.completion.chunk');
    assert.equal(c.id, chunks[0].id);
    assert.equal(c.model, MODEL_ID);
    assert.match(c.system_fingerprint, /^fp_/);
  }
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  const usageChunk = chunks.at(-1);
  assert.deepEqual(usageChunk.choices, []);
  assert.deepEqual(usageChunk.usage, whole.usage);
  for (const c of chunks.slice(0, -1)) assert.equal(c.usage, null);
  const finish = chunks.at(-2).choices[0];
  assert.equal(finish.finish_reason, whole.choices[0].finish_reason);
  assert.deepEqual(finish.delta, {});
  const text = chunks.flatMap((c) => c.choices).map((ch) => ch.delta.content ?? '').join('');
  assert.equal(text, whole.choices[0].message.content);
});

test('streamed chat without include_usage has no usage chunk', async () => {
  const chunks = await collect(await greedyChat({ stream: true, max_tokens: 8 }));
  assert.ok(chunks.every((c) => c.usage === undefined && c.choices.length === 1));
  assert.equal(chunks.at(-1).choices[0].finish_reason !== null, true);
});

test('text content parts and developer role are accepted', async () => {
  const res = await client.chat.completions.create({
    model: MODEL_ID, temperature: 0, max_completion_tokens: 8,
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Once upon' }, { type: 'text', text: ' a time' }] }],
  });
  const plain = await greedyChat({ max_tokens: 8 });
  assert.equal(res.choices[0].message.content, plain.choices[0].message.content);
});

test('completions: string, array of strings, token ids, echo, streaming', async () => {
  const one = await client.completions.create({ model: MODEL_ID, prompt: PROMPT, max_tokens: 16, temperature: 0 });
  assert.equal(one.object, 'text_completion');
  assert.match(one.id, /^cmpl-/);
  assert.equal(one.choices[0].text, generate(PROMPT, 16));
  assert.equal(one.usage.prompt_tokens, countTokens(PROMPT));

  const two = await client.completions.create({
    model: MODEL_ID, prompt: [PROMPT, 'The little dog'], max_tokens: 8, temperature: 0,
  });
  assert.deepEqual(two.choices.map((c) => c.index), [0, 1]);
  assert.equal(two.choices[1].text, generate('The little dog', 8));
  assert.equal(two.usage.prompt_tokens, countTokens(PROMPT) + countTokens('The little dog'));

  const ids = await client.completions.create({ model: MODEL_ID, prompt: [1, 403, 407, 261, 378], max_tokens: 4, temperature: 0 });
  assert.equal(ids.usage.prompt_tokens, 5);

  const echo = await client.completions.create({ model: MODEL_ID, prompt: PROMPT, max_tokens: 4, temperature: 0, echo: true });
  assert.ok(echo.choices[0].text.startsWith(PROMPT));

  const chunks = await collect(await client.completions.create({
    model: MODEL_ID, prompt: PROMPT, max_tokens: 16, temperature: 0, stream: true,
  }));
  assert.ok(chunks.every((c) => c.object === 'text_completion'));
  assert.equal(chunks.map((c) => c.choices[0].text).join(''), one.choices[0].text);
  assert.equal(chunks.at(-1).choices[0].finish_reason, one.choices[0].finish_reason);
});

test('n = 2 and seed reproducibility', async () => {
  const ask = (seed) => client.chat.completions.create({
    model: MODEL_ID, messages: [{ role: 'user', content: PROMPT }], n: 2, seed, temperature: 1, max_tokens: 24,
  });
  const a = await ask(1234);
  assert.deepEqual(a.choices.map((c) => c.index), [0, 1]);
  const b = await ask(1234);
  assert.deepEqual(b.choices.map((c) => c.message.content), a.choices.map((c) => c.message.content));
  const c = await ask(99);
  assert.notDeepEqual(c.choices.map((x) => x.message.content), a.choices.map((x) => x.message.content));
  // With a seed, choice i samples with seed + i: choice 1 of seed s is choice 0 of seed s + 1.
  const d = await ask(1235);
  assert.equal(d.choices[0].message.content, a.choices[1].message.content);

  const chunks = await collect(await client.chat.completions.create({
    model: MODEL_ID, messages: [{ role: 'user', content: PROMPT }], n: 2, seed: 1234, temperature: 1, max_tokens: 24,
    stream: true,
  }));
  for (const i of [0, 1]) {
    const text = chunks.flatMap((ch) => ch.choices).filter((ch) => ch.index === i).map((ch) => ch.delta.content ?? '').join('');
    assert.equal(text, a.choices[i].message.content);
  }
});

test('stop strings end the text before them', async () => {
  const full = (await greedyChat()).choices[0].message.content;
  const words = full.split(' ').filter(Boolean);
  assert.ok(words.length > 4, full);
  const stop = ` ${words[3]}`;
  const cut = full.slice(0, full.indexOf(stop));
  const res = await greedyChat({ stop: [stop, 'zzzz'] });
  assert.equal(res.choices[0].message.content, cut);
  assert.equal(res.choices[0].finish_reason, 'stop');
  const streamed = await collect(await greedyChat({ stop, stream: true }));
  assert.equal(streamed.flatMap((c) => c.choices).map((c) => c.delta.content ?? '').join(''), cut);
  assert.equal(streamed.at(-1).choices[0].finish_reason, 'stop');
});

test('logprobs: chat top_logprobs and completions logprobs', async () => {
  const res = await greedyChat({ logprobs: true, top_logprobs: 3, max_tokens: 12 });
  const content = res.choices[0].logprobs.content;
  assert.ok(content.length > 0);
  assert.equal(content.map((t) => t.token).join(''), res.choices[0].message.content);
  for (const t of content) {
    assert.equal(t.top_logprobs.length, 3);
    assert.ok(t.logprob <= 0 && Number.isFinite(t.logprob));
    // Greedy: the sampled token is the most likely one.
    assert.equal(t.top_logprobs[0].token, t.token);
    assert.equal(t.top_logprobs[0].logprob, t.logprob);
    assert.deepEqual(t.bytes, [...Buffer.from(t.token, 'utf8')]);
  }
  if (res.choices[0].finish_reason === 'length') assert.equal(content.length, res.usage.completion_tokens);

  const streamed = await collect(await greedyChat({ logprobs: true, top_logprobs: 3, max_tokens: 12, stream: true }));
  const streamedTokens = streamed.flatMap((c) => c.choices).flatMap((c) => c.logprobs?.content ?? []);
  assert.deepEqual(streamedTokens, content);

  const cmp = await client.completions.create({ model: MODEL_ID, prompt: PROMPT, max_tokens: 6, temperature: 0, logprobs: 2 });
  const lp = cmp.choices[0].logprobs;
  assert.equal(lp.tokens.length, lp.token_logprobs.length);
  assert.equal(lp.tokens.join(''), cmp.choices[0].text);
  assert.equal(lp.top_logprobs.length, lp.tokens.length);
  assert.ok(lp.top_logprobs.every((o) => Object.keys(o).length === 2));
  assert.deepEqual(lp.text_offset[0], 0);
});

test('errors: NotFoundError, BadRequestError with param, AuthenticationError', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === 'model_not_found',
  );
  await assert.rejects(client.models.retrieve('no/such/model'), (e) => e instanceof OpenAI.NotFoundError);
  const bad = [
    [{ temperature: 5 }, 'temperature'],
    [{ n: 1000000 }, 'n'],
    [{ max_tokens: 2 ** 31 }, 'max_tokens'],
    [{ top_logprobs: 1000000, logprobs: true }, 'top_logprobs'],
    [{ messages: [] }, 'messages'],
    [{ stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'],
    [{ logit_bias: { 100000: 5 } }, 'logit_bias'],
    [{ presence_penalty: 'high' }, 'presence_penalty'],
    // Fields llmd does not implement are refused by name, never ignored.
    [{ tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } }] }, 'tools'],
    [{ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', pattern: '^a' } } } },
      'response_format.json_schema.schema'],
    [{ tool_choice: 'required' }, 'tool_choice'],
  ];
  for (const [extra, param] of bad) {
    await assert.rejects(
      client.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'hi' }], ...extra }),
      (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === param,
      `expected a 400 naming ${param} for ${JSON.stringify(extra)}`,
    );
  }
  await assert.rejects(
    client.completions.create({ model: MODEL_ID, prompt: 'word '.repeat(2000), max_tokens: 4 }),
    (e) => e instanceof OpenAI.BadRequestError && e.code === 'context_length_exceeded',
  );
  const stranger = new OpenAI({ apiKey: 'llmd_not_a_real_key', baseURL: server.baseURL, maxRetries: 0 });
  await assert.rejects(stranger.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  await assert.rejects(
    stranger.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'hi' }] }),
    (e) => e instanceof OpenAI.AuthenticationError,
  );
});

test('usage is settled in the ledger with the real counts', async () => {
  // The ledger sums per day, team, key and model; settlement is posted to its
  // thread, so wait until nothing is in flight before and after.
  const totals = async () => {
    for (let i = 0; i < 100; ++i) {
      const rows = (await server.admin('GET', '/admin/v1/usage?team=compat')).data;
      const sum = { requests: 0, ok: 0, prompt_tokens: 0, completion_tokens: 0, in_flight: 0 };
      for (const r of rows.filter((x) => x.model === MODEL_ID)) for (const k of Object.keys(sum)) sum[k] += r[k];
      if (sum.in_flight === 0) return sum;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('usage rows stayed in flight');
  };
  const before = await totals();
  const res = await client.completions.create({ model: MODEL_ID, prompt: 'The cat sat', max_tokens: 5, temperature: 0 });
  let after = await totals();
  for (let i = 0; i < 100 && after.requests === before.requests; ++i) after = await totals();
  assert.equal(after.requests - before.requests, 1);
  assert.equal(after.ok - before.ok, 1);
  assert.equal(after.prompt_tokens - before.prompt_tokens, res.usage.prompt_tokens);
  assert.equal(after.completion_tokens - before.completion_tokens, res.usage.completion_tokens);
});

// Structured output: the schema constrains decoding, so even this tiny model's
// answers parse and validate; the client's parse() helper reads them.
const PERSON = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 16 },
    age: { type: 'integer', minimum: 0, maximum: 120 },
    pet: { type: 'string', enum: ['cat', 'dog', 'fish'] },
    tags: { type: 'array', items: { type: 'string', maxLength: 6 }, maxItems: 3 },
  },
  required: ['name', 'age', 'pet', 'tags'],
  additionalProperties: false,
};

function checkPerson(p) {
  assert.equal(typeof p, 'object');
  assert.deepEqual(Object.keys(p).sort(), ['age', 'name', 'pet', 'tags']);
  assert.ok(typeof p.name === 'string' && [...p.name].length >= 1 && [...p.name].length <= 16, JSON.stringify(p));
  assert.ok(Number.isInteger(p.age) && p.age >= 0 && p.age <= 120, JSON.stringify(p));
  assert.ok(['cat', 'dog', 'fish'].includes(p.pet), JSON.stringify(p));
  assert.ok(Array.isArray(p.tags) && p.tags.length <= 3, JSON.stringify(p));
  for (const t of p.tags) assert.ok(typeof t === 'string' && [...t].length <= 6, JSON.stringify(p));
}

const personFormat = { type: 'json_schema', json_schema: { name: 'person', schema: PERSON, strict: true } };

test('response_format json_schema: parse() returns objects that validate, for many seeds', async () => {
  for (let seed = 0; seed < 10; seed++) {
    const res = await client.chat.completions.parse({
      model: MODEL_ID, messages: [{ role: 'user', content: PROMPT }], response_format: personFormat,
      temperature: 1, seed, max_tokens: 300,
    });
    const choice = res.choices[0];
    assert.equal(choice.finish_reason, 'stop', choice.message.content);
    checkPerson(choice.message.parsed);
    checkPerson(JSON.parse(choice.message.content));
  }
});

test('response_format: streaming and non-streaming give the same text for a seed', async () => {
  for (const seed of [3, 11]) {
    const body = {
      model: MODEL_ID, messages: [{ role: 'user', content: PROMPT }], response_format: personFormat,
      temperature: 1, seed, max_tokens: 300,
    };
    const whole = await client.chat.completions.create(body);
    const chunks = await collect(await client.chat.completions.create({ ...body, stream: true }));
    const streamed = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    assert.equal(streamed, whole.choices[0].message.content);
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
    checkPerson(JSON.parse(streamed));
  }
});

test('response_format json_object gives an object or is cut by max_tokens', async () => {
  const res = await client.chat.completions.create({
    model: MODEL_ID, messages: [{ role: 'user', content: PROMPT }], response_format: { type: 'json_object' },
    temperature: 1, seed: 1, max_tokens: 64,
  });
  const choice = res.choices[0];
  assert.ok(['stop', 'length'].includes(choice.finish_reason));
  if (choice.finish_reason === 'stop') assert.equal(typeof JSON.parse(choice.message.content), 'object');
  else assert.ok(choice.message.content.trimStart().startsWith('{'), choice.message.content);
});

const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather', description: 'Weather of a city', strict: true,
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', maxLength: 12 }, unit: { type: 'string', enum: ['c', 'f'] } },
      required: ['city', 'unit'], additionalProperties: false,
    },
  },
};
const TIME = {
  type: 'function',
  function: {
    name: 'get_time', strict: true,
    parameters: { type: 'object', properties: { tz: { type: 'string', enum: ['UTC', 'CET'] } }, required: ['tz'], additionalProperties: false },
  },
};

function checkCall(call) {
  assert.equal(call.type, 'function');
  assert.match(call.id, /^call_/);
  const args = JSON.parse(call.function.arguments);
  if (call.function.name === 'get_weather') {
    assert.deepEqual(Object.keys(args).sort(), ['city', 'unit']);
    assert.ok(typeof args.city === 'string' && [...args.city].length <= 12);
    assert.ok(['c', 'f'].includes(args.unit));
  } else {
    assert.equal(call.function.name, 'get_time');
    assert.ok(['UTC', 'CET'].includes(args.tz));
  }
  return args;
}

test('tool_choice required: tool_calls whose arguments validate; parse() reads them', async () => {
  for (let seed = 0; seed < 5; seed++) {
    const res = await client.chat.completions.parse({
      model: TOOLS_MODEL_ID, messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
      tools: [WEATHER, TIME], tool_choice: 'required', parallel_tool_calls: false, temperature: 1, seed, max_tokens: 200,
    });
    const choice = res.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls', JSON.stringify(choice.message));
    assert.equal(choice.message.tool_calls.length, 1);
    const args = checkCall(choice.message.tool_calls[0]);
    assert.deepEqual(choice.message.tool_calls[0].function.parsed_arguments, args);
  }
});

test('tool_choice naming a function calls that function, streamed through the stream helper', async () => {
  const stream = client.chat.completions.stream({
    model: TOOLS_MODEL_ID, messages: [{ role: 'user', content: 'What time is it?' }],
    tools: [WEATHER, TIME], tool_choice: { type: 'function', function: { name: 'get_time' } },
    parallel_tool_calls: false, temperature: 1, seed: 7, max_tokens: 200,
  });
  const final = await stream.finalChatCompletion();
  const choice = final.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.tool_calls.length, 1);
  assert.equal(choice.message.tool_calls[0].function.name, 'get_time');
  checkCall(choice.message.tool_calls[0]);
});
