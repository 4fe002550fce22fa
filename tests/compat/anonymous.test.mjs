// supabase.auth.signInAnonymously against a Kith started with KITH_AUTH_ANONYMOUS=true, and the conversion to a
// permanent user by updateUser({email}) and the mailed code. (Off by default: see auth.test.mjs.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { client, startKith } from './harness.mjs';

let kith;
before(async () => {
  kith = await startKith({ KITH_AUTH_ANONYMOUS: 'true' });
});
after(async () => {
  await kith?.stop();
});

const claims = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());

test('signInAnonymously, then updateUser({email}) and verifyOtp make the user permanent', async () => {
  const supabase = client(kith);
  const { data, error } = await supabase.auth.signInAnonymously({ options: { data: { theme: 'dark' } } });
  assert.equal(error, null);
  assert.equal(data.user.is_anonymous, true);
  assert.equal(data.user.user_metadata.theme, 'dark');
  assert.equal(claims(data.session.access_token).is_anonymous, true);

  const address = `anon-${randomUUID()}@example.com`;
  const updated = await supabase.auth.updateUser({ email: address });
  assert.equal(updated.error, null);
  assert.equal(updated.data.user.new_email, address);
  const mail = kith.outbox().findLast((m) => m.to === address);
  const verified = await supabase.auth.verifyOtp({ type: 'email_change', email: address, token: mail.code });
  assert.equal(verified.error, null);
  assert.equal(verified.data.user.is_anonymous, false);
  assert.equal(verified.data.user.email, address);
  assert.equal(verified.data.user.id, data.user.id);
  assert.equal(claims(verified.data.session.access_token).is_anonymous, false);

  const withPassword = await supabase.auth.updateUser({ password: 'a-good-password' });
  assert.equal(withPassword.error, null);
  const again = await client(kith).auth.signInWithPassword({ email: address, password: 'a-good-password' });
  assert.equal(again.error, null);
  assert.equal(again.data.user.id, data.user.id);
});
