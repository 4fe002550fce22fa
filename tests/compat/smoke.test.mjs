// The server the compatibility suites talk to starts, answers, and accepts the keys a supabase-js client sends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { client, startKith } from './harness.mjs';

let kith;
before(async () => {
  kith = await startKith();
});
after(async () => {
  await kith?.stop();
});

test('kith is ready and protects /api/profile', async () => {
  const ready = await fetch(`${kith.url}/ready`);
  assert.equal(ready.status, 200);
  const profile = await fetch(`${kith.url}/api/profile`, { headers: { apikey: kith.anonKey } });
  assert.equal(profile.status, 401);
  assert.equal((await profile.json()).error.code, 'missing_token');
});

test('a supabase-js client can be created against kith with its anon key', () => {
  const supabase = client(kith);
  assert.ok(supabase.auth);
  assert.ok(supabase.from('profiles'));
});
