// The official supabase-js client against Kith's /auth/v1, unchanged.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { client, startKith } from './harness.mjs';

let kith;
before(async () => {
  kith = await startKith();
});
after(async () => {
  await kith?.stop();
});

const email = () => `js-${randomUUID()}@example.com`;
const password = 'a-good-password';

async function signedUp() {
  const supabase = client(kith);
  const address = email();
  const { data, error } = await supabase.auth.signUp({ email: address, password });
  assert.equal(error, null);
  return { supabase, address, session: data.session, user: data.user };
}

describe('sign-up and sign-in', () => {
  test('signUp returns a user and a session (autoconfirm)', async () => {
    const { session, user, address } = await signedUp();
    assert.equal(user.email, address);
    assert.ok(session.access_token);
    assert.ok(session.refresh_token);
    assert.equal(session.token_type, 'bearer');
    assert.equal(session.user.id, user.id);
  });

  test('signInWithPassword, then getUser with the stored session', async () => {
    const { address, user } = await signedUp();
    const supabase = client(kith);
    const { data, error } = await supabase.auth.signInWithPassword({ email: address, password });
    assert.equal(error, null);
    assert.equal(data.user.id, user.id);
    const me = await supabase.auth.getUser();
    assert.equal(me.error, null);
    assert.equal(me.data.user.email, address);
  });

  test('error codes the client surfaces', async () => {
    const { address } = await signedUp();
    const supabase = client(kith);
    const wrong = await supabase.auth.signInWithPassword({ email: address, password: 'not-the-password' });
    assert.equal(wrong.error.code, 'invalid_credentials');
    assert.equal(wrong.error.status, 400);
    assert.equal(wrong.data.session, null);

    const exists = await supabase.auth.signUp({ email: address, password });
    assert.equal(exists.error.code, 'user_already_exists');

    const weak = await supabase.auth.signUp({ email: email(), password: 'short' });
    assert.equal(weak.error.code, 'weak_password');
    assert.equal(weak.error.name, 'AuthWeakPasswordError');
    assert.deepEqual(weak.error.reasons, ['length']);
  });
});

describe('sessions', () => {
  test('refreshSession rotates the refresh token; reusing the old one later fails', async () => {
    const { supabase, session } = await signedUp();
    const { data, error } = await supabase.auth.refreshSession();
    assert.equal(error, null);
    assert.notEqual(data.session.refresh_token, session.refresh_token);
    assert.equal(data.user.id, session.user.id);

    // Another refresh moves the session on: the first token is neither active nor its parent.
    const again = await supabase.auth.refreshSession();
    assert.equal(again.error, null);
    const stale = client(kith);
    const reused = await stale.auth.refreshSession({ refresh_token: session.refresh_token });
    // Within the 10 s reuse interval a rotated token still gets a fresh one; that is Supabase's rule too.
    assert.equal(reused.error, null);
  });

  test('refresh_token_already_used once the reuse interval has passed', async () => {
    const strict = await startKith({ KITH_AUTH_REFRESH_REUSE_INTERVAL: '0' });
    try {
      const supabase = client(strict);
      const { data } = await supabase.auth.signUp({ email: email(), password });
      const first = data.session.refresh_token;
      await supabase.auth.refreshSession();
      await supabase.auth.refreshSession();
      const reused = await client(strict).auth.refreshSession({ refresh_token: first });
      assert.equal(reused.error.code, 'refresh_token_already_used');
      // Reuse ended the whole session: the client's current token is dead too.
      const current = await supabase.auth.refreshSession();
      assert.ok(current.error);
    } finally {
      await strict.stop();
    }
  });

  test('updateUser changes metadata and (with the current password) the password', async () => {
    const { supabase, address } = await signedUp();
    const meta = await supabase.auth.updateUser({ data: { plan: 'pro' } });
    assert.equal(meta.error, null);
    assert.deepEqual(meta.data.user.user_metadata, { plan: 'pro' });

    const refused = await supabase.auth.updateUser({ password: 'a-brand-new-password' });
    assert.equal(refused.error.code, 'current_password_required');
    const changed = await supabase.auth.updateUser({ password: 'a-brand-new-password', current_password: password });
    assert.equal(changed.error, null);
    const again = await client(kith).auth.signInWithPassword({ email: address, password: 'a-brand-new-password' });
    assert.equal(again.error, null);
  });

  for (const scope of ['local', 'others', 'global']) {
    test(`signOut({ scope: '${scope}' })`, async () => {
      const { address } = await signedUp();
      const a = client(kith);
      const b = client(kith);
      await a.auth.signInWithPassword({ email: address, password });
      await b.auth.signInWithPassword({ email: address, password });
      const bToken = (await b.auth.getSession()).data.session.access_token;
      const aToken = (await a.auth.getSession()).data.session.access_token;

      const { error } = await a.auth.signOut({ scope });
      assert.equal(error, null);
      const check = async (token) =>
        (await fetch(`${kith.url}/auth/v1/user`, { headers: { apikey: kith.anonKey, authorization: `Bearer ${token}` } })).status;
      const expected = { local: [403, 200], others: [200, 403], global: [403, 403] }[scope];
      assert.deepEqual([await check(aToken), await check(bToken)], expected);
      if (scope !== 'others') {
        assert.equal((await a.auth.getSession()).data.session, null, 'the client dropped its session');
      }
    });
  }
});

test('server-side pattern: a client created with the caller\'s token reads the user', async () => {
  const { session, user } = await signedUp();
  const server = client(kith, kith.anonKey, {
    global: { headers: { Authorization: `Bearer ${session.access_token}` } },
    auth: { persistSession: false, autoRefreshToken: false },
  });
  const { data, error } = await server.auth.getUser();
  assert.equal(error, null);
  assert.equal(data.user.id, user.id);

  const anonymous = client(kith);
  const none = await anonymous.auth.getUser();
  assert.ok(none.error, 'no session, no user');
});

test('PKCE password recovery: resetPasswordForEmail, the mailed link, exchangeCodeForSession', async () => {
  const { address } = await signedUp();
  const supabase = client(kith, kith.anonKey, { auth: { flowType: 'pkce' } });
  const { error } = await supabase.auth.resetPasswordForEmail(address, { redirectTo: `${kith.url}/reset` });
  assert.equal(error, null);
  const mail = kith.outbox().filter((m) => m.to === address && m.type === 'recovery').pop();
  assert.ok(mail, 'a recovery mail is in the outbox');

  const followed = await fetch(mail.link, { redirect: 'manual' });
  assert.equal(followed.status, 303);
  const location = new URL(followed.headers.get('location'));
  assert.equal(location.pathname, '/reset');
  const code = location.searchParams.get('code');
  assert.ok(code);

  const exchanged = await supabase.auth.exchangeCodeForSession(code);
  assert.equal(exchanged.error, null);
  assert.equal(exchanged.data.user.email, address);
  const updated = await supabase.auth.updateUser({ password: 'a-recovered-password' });
  assert.equal(updated.error, null);
  const signedIn = await client(kith).auth.signInWithPassword({ email: address, password: 'a-recovered-password' });
  assert.equal(signedIn.error, null);
});
