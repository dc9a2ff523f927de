// OpenAI API compatibility of llmd, checked with the official `openai` client
// against a real llmd over TLS serving stories260K.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServer, generate, countTokens, MODEL_ID, MODEL_ALIAS } from './harness.mjs';

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
  assert.deepEqual(ids, [MODEL_ID]);
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
    [{ response_format: { type: 'json_object' } }, 'response_format'],
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
