// The official supabase-js client against Kith's /auth/v1, unchanged.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
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

/** Runs SQL as the schema owner on `server`'s embedded PostgreSQL. */
function sql(server, statement) {
  execFileSync('psql', ['-h', join(server.dataDir, 'run'), '-U', 'postgres', '-d', 'kith', '-q', '-v', 'ON_ERROR_STOP=1', '-c', statement], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

describe('features Kith does not offer answer as a Supabase project with them switched off', () => {
  test('signInAnonymously', async () => {
    const { data, error } = await client(kith).auth.signInAnonymously();
    assert.equal(error.name, 'AuthApiError');
    assert.equal(error.code, 'anonymous_provider_disabled');
    assert.equal(error.status, 422);
    assert.equal(error.message, 'Anonymous sign-ins are disabled');
    assert.equal(data.session, null);
  });

  test('phone sign-up, sign-in and one-time codes', async () => {
    const supabase = client(kith);
    const signUp = await supabase.auth.signUp({ phone: '+15555550100', password });
    assert.deepEqual([signUp.error.status, signUp.error.code, signUp.error.message], [400, 'phone_provider_disabled', 'Phone signups are disabled']);
    const signIn = await supabase.auth.signInWithPassword({ phone: '+15555550100', password });
    assert.deepEqual([signIn.error.status, signIn.error.code, signIn.error.message], [422, 'phone_provider_disabled', 'Phone logins are disabled']);
    const otp = await supabase.auth.signInWithOtp({ phone: '+15555550100' });
    assert.deepEqual([otp.error.status, otp.error.code, otp.error.message], [400, 'phone_provider_disabled', 'Unsupported phone provider']);
  });

  test('ID tokens, SSO and OAuth providers', async () => {
    const supabase = client(kith);
    const idToken = await supabase.auth.signInWithIdToken({ provider: 'google', token: 'not.a.token' });
    assert.equal(idToken.error.status, 400);
    assert.equal(idToken.error.code, 'provider_disabled');
    assert.equal(idToken.error.message, 'Provider (issuer "https://accounts.google.com") is not enabled');
    const sso = await supabase.auth.signInWithSSO({ domain: 'example.com' });
    assert.deepEqual([sso.error.status, sso.error.code, sso.error.message], [404, 'saml_provider_disabled', 'SAML 2.0 is disabled']);

    const legacy = await fetch(`${kith.url}/auth/v1/authorize?provider=github`, { redirect: 'manual' });
    assert.equal(legacy.status, 400);
    assert.deepEqual(await legacy.json(), {
      code: 400,
      error_code: 'validation_failed',
      msg: 'Unsupported provider: provider is not enabled',
    });
    const versioned = await fetch(`${kith.url}/auth/v1/authorize?provider=nope`, {
      redirect: 'manual',
      headers: { 'x-supabase-api-version': '2024-01-01' },
    });
    assert.deepEqual(await versioned.json(), {
      code: 'validation_failed',
      message: 'Unsupported provider: Provider nope could not be found',
    });
  });
});

test('unknown paths and wrong methods under /auth/v1 answer in Supabase Auth\'s shape', async () => {
  const missing = await fetch(`${kith.url}/auth/v1/no-such-endpoint`, { headers: { apikey: kith.anonKey } });
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { code: 404, error_code: 'not_found', msg: 'Not Found' });
  const wrong = await fetch(`${kith.url}/auth/v1/user`, { method: 'DELETE', headers: { apikey: kith.anonKey } });
  assert.equal(wrong.status, 405);
  assert.deepEqual(await wrong.json(), { code: 405, error_code: 'method_not_allowed', msg: 'Method Not Allowed' });
  assert.match(wrong.headers.get('allow'), /GET/);
  const versioned = await fetch(`${kith.url}/auth/v1/signup`, { method: 'PATCH', headers: { 'x-supabase-api-version': '2024-01-01' } });
  assert.equal(versioned.status, 405);
  assert.deepEqual(await versioned.json(), { code: 'method_not_allowed', message: 'Method Not Allowed' });
});

test('reauthenticate mails a nonce that updateUser accepts once', async () => {
  const { supabase, address } = await signedUp();
  const { error } = await supabase.auth.reauthenticate();
  assert.equal(error, null);
  const mail = kith.outbox().filter((m) => m.to === address && m.type === 'reauthentication').pop();
  assert.ok(mail?.code, 'a nonce is in the outbox');
  const again = await supabase.auth.reauthenticate();
  assert.equal(again.error.status, 429);
  assert.equal(again.error.code, 'over_email_send_rate_limit');

  const wrongNonce = mail.code === '000000' ? '111111' : '000000';
  const wrong = await supabase.auth.updateUser({ password: 'a-reauthenticated-password', nonce: wrongNonce });
  assert.deepEqual([wrong.error.status, wrong.error.code], [422, 'reauthentication_not_valid']);
  const changed = await supabase.auth.updateUser({ password: 'a-reauthenticated-password', nonce: mail.code });
  assert.equal(changed.error, null, JSON.stringify(changed.error));
  const signedIn = await client(kith).auth.signInWithPassword({ email: address, password: 'a-reauthenticated-password' });
  assert.equal(signedIn.error, null);
  const reused = await supabase.auth.updateUser({ password: 'yet-another-password', nonce: mail.code });
  assert.equal(reused.error.code, 'reauthentication_not_valid');
});

test('resend: a new sign-up confirmation and email-change link, at most once a minute', async () => {
  const confirming = await startKith({ KITH_AUTH_AUTOCONFIRM: 'false' });
  try {
    const supabase = client(confirming);
    const address = email();
    const signUp = await supabase.auth.signUp({ email: address, password });
    assert.equal(signUp.error, null);
    assert.equal(signUp.data.session, null);
    const first = confirming.outbox().filter((m) => m.to === address && m.type === 'confirmation');
    assert.equal(first.length, 1);

    const tooSoon = await supabase.auth.resend({ type: 'signup', email: address });
    assert.equal(tooSoon.error.status, 429);
    assert.equal(tooSoon.error.code, 'over_email_send_rate_limit');
    assert.match(tooSoon.error.message, /^For security purposes, you can only request this after \d+ seconds\.$/);

    sql(confirming, `update auth.users set confirmation_sent_at = now() - interval '2 minutes' where email = '${address}'`);
    const resent = await supabase.auth.resend({ type: 'signup', email: address });
    assert.equal(resent.error, null, JSON.stringify(resent.error));
    const mails = confirming.outbox().filter((m) => m.to === address && m.type === 'confirmation');
    assert.equal(mails.length, 2);
    const stale = await fetch(mails[0].link, { redirect: 'manual' });
    assert.match(stale.headers.get('location'), /error_code=otp_expired/, 'the first link was replaced');
    const followed = await fetch(mails[1].link, { redirect: 'manual' });
    assert.equal(followed.status, 303);
    assert.match(followed.headers.get('location'), /#access_token=/);

    // Nothing to send: no account, or already confirmed. Same answer, no mail.
    const before = confirming.outbox().length;
    assert.equal((await supabase.auth.resend({ type: 'signup', email: email() })).error, null);
    assert.equal((await supabase.auth.resend({ type: 'signup', email: address })).error, null);
    assert.equal(confirming.outbox().length, before);
    const badType = await fetch(`${confirming.url}/auth/v1/resend`, {
      method: 'POST',
      headers: { apikey: confirming.anonKey, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'recovery', email: address }),
    });
    assert.deepEqual(await badType.json(), {
      code: 400,
      error_code: 'validation_failed',
      msg: 'Missing one of these types: signup, email_change, sms, phone_change',
    });

    const signedIn = client(confirming);
    assert.equal((await signedIn.auth.signInWithPassword({ email: address, password })).error, null);
    const newAddress = email();
    assert.equal((await signedIn.auth.updateUser({ email: newAddress })).error, null);
    const changeTooSoon = await signedIn.auth.resend({ type: 'email_change', email: address });
    assert.equal(changeTooSoon.error.code, 'over_email_send_rate_limit');
    sql(confirming, `update auth.users set email_change_sent_at = now() - interval '2 minutes' where email = '${address}'`);
    assert.equal((await signedIn.auth.resend({ type: 'email_change', email: address })).error, null);
    const changes = confirming.outbox().filter((m) => m.to === newAddress && m.type === 'email_change');
    assert.equal(changes.length, 2);
  } finally {
    await confirming.stop();
  }
});
