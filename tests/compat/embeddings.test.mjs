// The official `openai` client's embeddings.create against a real llmd over
// TLS serving a synthetic qwen3 embedding model (last-token pooling) beside
// stories260K (a chat model, which the route refuses).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServer, MODEL_ID } from './harness.mjs';

const EMBED_ID = 'qwen3-embed';
const WIDTH = 256;  // the test-qwen3-embed shape's n_embd

let server;
let client;

before(async () => {
  server = await startServer({
    extraModels: [{ name: EMBED_ID, path: process.env.LLMD_EMBED_MODEL }], stateDir: 'state-embeddings',
  });
  client = new OpenAI({ apiKey: server.userKey, baseURL: server.baseURL, maxRetries: 0, timeout: 60000 });
});

after(async () => {
  if (!server) return;
  const code = await server.stop();
  assert.equal(code, 0, `llmd exited with ${code}:\n${server.logs()}`);
});

const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

test('embeddings.create: one string, several strings, token ids', async () => {
  const one = await client.embeddings.create({ model: EMBED_ID, input: 'The quick brown fox', encoding_format: 'float' });
  assert.equal(one.object, 'list');
  assert.equal(one.model, EMBED_ID);
  assert.equal(one.data.length, 1);
  assert.equal(one.data[0].object, 'embedding');
  assert.equal(one.data[0].index, 0);
  assert.equal(one.data[0].embedding.length, WIDTH);
  assert.ok(Math.abs(norm(one.data[0].embedding) - 1) < 1e-5);
  assert.ok(one.usage.prompt_tokens > 0);
  assert.equal(one.usage.total_tokens, one.usage.prompt_tokens);

  const many = await client.embeddings.create({
    model: EMBED_ID, input: ['first text', 'The quick brown fox', 'a third one'], encoding_format: 'float',
  });
  assert.deepEqual(many.data.map((d) => d.index), [0, 1, 2]);
  // The same text gives the same vector, whatever else is in the request.
  assert.deepEqual(many.data[1].embedding, one.data[0].embedding);
  assert.notDeepEqual(many.data[0].embedding, many.data[2].embedding);

  const ids = await client.embeddings.create({ model: EMBED_ID, input: [[1, 2, 3], [4, 5, 6, 7]] });
  assert.equal(ids.data.length, 2);
  assert.equal(ids.usage.prompt_tokens, 7);
});

test('embeddings.create: base64 (the client default) decodes to the float answer', async () => {
  const text = 'Embeddings are vectors';
  // Without encoding_format the client asks for base64 and decodes it itself.
  const b64 = await client.embeddings.create({ model: EMBED_ID, input: text });
  const flt = await client.embeddings.create({ model: EMBED_ID, input: text, encoding_format: 'float' });
  assert.equal(b64.data[0].embedding.length, WIDTH);
  for (let i = 0; i < WIDTH; i++) {
    assert.equal(Math.fround(b64.data[0].embedding[i]), Math.fround(flt.data[0].embedding[i]), `element ${i}`);
  }
  const raw = await client.embeddings.create({ model: EMBED_ID, input: text, encoding_format: 'base64' });
  assert.equal(typeof raw.data[0].embedding, 'string');
  assert.equal(Buffer.from(raw.data[0].embedding, 'base64').length, 4 * WIDTH);
});

test('embeddings.create: dimensions shortens and renormalises', async () => {
  const short = await client.embeddings.create({ model: EMBED_ID, input: 'matryoshka', dimensions: 64, encoding_format: 'float' });
  assert.equal(short.data[0].embedding.length, 64);
  assert.ok(Math.abs(norm(short.data[0].embedding) - 1) < 1e-5);
  await assert.rejects(client.embeddings.create({ model: EMBED_ID, input: 'x', dimensions: WIDTH + 1 }),
    (e) => e.status === 400 && e.param === 'dimensions');
});

test('embeddings.create: refusals', async () => {
  await assert.rejects(client.embeddings.create({ model: MODEL_ID, input: 'hello' }),
    (e) => e.status === 400 && e.code === 'model_not_embedding' && e.param === 'model');
  await assert.rejects(client.embeddings.create({ model: EMBED_ID, input: '' }),
    (e) => e.status === 400 && e.param === 'input');
  await assert.rejects(client.embeddings.create({ model: EMBED_ID, input: [] }),
    (e) => e.status === 400 && e.param === 'input');
  await assert.rejects(client.embeddings.create({ model: 'no-such-model', input: 'x' }),
    (e) => e.status === 404);
});
