// supabase.auth.mfa.* from the official client against Kith: enroll → challenge → verify → aal2 in the token,
// an aal2-only RLS policy that the same user's aal1 session cannot pass, and unenrolment.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { client, startKith } from './harness.mjs';

let kith;
before(async () => {
  kith = await startKith();
  // A table only an aal2 session may read: what an application does to guard its most sensitive data.
  execFileSync('psql', ['-h', join(kith.dataDir, 'run'), '-U', 'postgres', '-d', 'kith', '-q', '-v', 'ON_ERROR_STOP=1', '-c', `
    create table public.vault (id int primary key, body text not null);
    alter table public.vault enable row level security;
    alter table public.vault force row level security;
    create policy vault_select on public.vault for select to authenticated
      using ((select auth.jwt() ->> 'aal') = 'aal2');
    grant select on public.vault to authenticated;
    insert into public.vault values (1, 'the launch codes');
    notify pgrst, 'reload schema';`], { stdio: ['ignore', 'ignore', 'inherit'] });
});
after(async () => {
  await kith?.stop();
});

/** RFC 4648 base32 decoding (no padding), for the secret the server hands out. */
function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s), as an authenticator app computes it. */
function totp(secret, at = Date.now(), offsetSteps = 0) {
  const counter = Math.floor(at / 1000 / 30) + offsetSteps;
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', base32(secret)).update(message).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return value.toString().padStart(6, '0');
}

function claims(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

async function signedIn() {
  const address = `mfa-js-${randomUUID()}@example.com`;
  const supabase = client(kith);
  const { error } = await supabase.auth.signUp({ email: address, password: 'a-good-password' });
  assert.equal(error, null);
  return { supabase, address };
}

async function vaultRows(supabase) {
  for (let i = 0; i < 50; i++) {
    const { data, error } = await supabase.from('vault').select('body');
    if (!error) return data;
    if (error.code !== 'PGRST205') throw new Error(JSON.stringify(error));
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the data API never saw the vault table');
}

describe('supabase.auth.mfa with TOTP', () => {
  test('enroll, challenge, verify: aal2 in the token, and an aal2-only policy passes', async () => {
    const { supabase, address } = await signedIn();
    const before = await supabase.auth.mfa.getAuthenticatorAssuranceLevel();
    assert.deepEqual([before.data.currentLevel, before.data.nextLevel], ['aal1', 'aal1']);

    const enrolled = await supabase.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'my phone', issuer: 'Kith CRM' });
    assert.equal(enrolled.error, null);
    assert.equal(enrolled.data.type, 'totp');
    assert.equal(enrolled.data.friendly_name, 'my phone');
    assert.match(enrolled.data.totp.qr_code, /^data:image\/svg\+xml;utf-8,(<\?xml[^>]*\?>)?\s*<svg/);
    assert.match(enrolled.data.totp.uri, /^otpauth:\/\/totp\/Kith%20CRM:/);
    assert.ok(enrolled.data.totp.uri.includes(encodeURIComponent(address)));
    const { secret } = enrolled.data.totp;

    // The aal1 session reads nothing of the vault.
    assert.deepEqual(await vaultRows(supabase), []);

    const challenge = await supabase.auth.mfa.challenge({ factorId: enrolled.data.id });
    assert.equal(challenge.error, null);
    const wrongCode = ['000000', '111111', '222222'].find(
      (c) => ![-1, 0, 1].some((o) => totp(secret, Date.now(), o) === c),
    );
    const wrong = await supabase.auth.mfa.verify({
      factorId: enrolled.data.id,
      challengeId: challenge.data.id,
      code: wrongCode,
    });
    assert.equal(wrong.error.code, 'mfa_verification_failed');
    assert.equal(wrong.error.status, 422);

    const verified = await supabase.auth.mfa.verify({
      factorId: enrolled.data.id,
      challengeId: challenge.data.id,
      code: totp(secret),
    });
    assert.equal(verified.error, null);
    const token = claims(verified.data.access_token);
    assert.equal(token.aal, 'aal2');
    assert.deepEqual(token.amr.map((a) => a.method), ['totp', 'password']);
    assert.ok(token.amr.every((a) => Number.isInteger(a.timestamp)));

    // The client stored the new session: every later call is aal2.
    const level = await supabase.auth.mfa.getAuthenticatorAssuranceLevel();
    assert.equal(level.data.currentLevel, 'aal2');
    assert.equal(level.data.nextLevel, 'aal2');
    assert.deepEqual(level.data.currentAuthenticationMethods.map((a) => a.method), ['totp', 'password']);
    const factors = await supabase.auth.mfa.listFactors();
    assert.equal(factors.data.totp.length, 1);
    assert.equal(factors.data.totp[0].status, 'verified');
    assert.deepEqual(await vaultRows(supabase), [{ body: 'the launch codes' }]);

    // The same password on a new client: aal1, told that aal2 is possible, and the vault stays shut.
    const other = client(kith);
    const again = await other.auth.signInWithPassword({ email: address, password: 'a-good-password' });
    assert.equal(again.error, null);
    const otherLevel = await other.auth.mfa.getAuthenticatorAssuranceLevel();
    assert.deepEqual([otherLevel.data.currentLevel, otherLevel.data.nextLevel], ['aal1', 'aal2']);
    assert.deepEqual(await vaultRows(other), []);
    // A verified factor cannot be removed from an aal1 session.
    const refused = await other.auth.mfa.unenroll({ factorId: enrolled.data.id });
    assert.equal(refused.error.code, 'insufficient_aal');

    // challengeAndVerify with the next code (the current one is spent) raises the second session too.
    const second = await other.auth.mfa.challengeAndVerify({ factorId: enrolled.data.id, code: totp(secret, Date.now(), 1) });
    assert.equal(second.error, null);
    assert.equal(claims(second.data.access_token).aal, 'aal2');
    // A used code is refused on a fresh challenge.
    const replay = await other.auth.mfa.challengeAndVerify({ factorId: enrolled.data.id, code: totp(secret, Date.now(), 1) });
    assert.equal(replay.error.code, 'mfa_verification_failed');

    // Unenrol from the aal2 session; after a refresh the session is aal1 again and the vault shuts.
    const removed = await supabase.auth.mfa.unenroll({ factorId: enrolled.data.id });
    assert.equal(removed.error, null);
    assert.equal(removed.data.id, enrolled.data.id);
    const refreshed = await supabase.auth.refreshSession();
    assert.equal(refreshed.error, null);
    assert.equal(claims(refreshed.data.session.access_token).aal, 'aal1');
    assert.deepEqual(await vaultRows(supabase), []);
  });

  test('the admin lists and deletes a factor (recovery), and a user token cannot', async () => {
    const { supabase } = await signedIn();
    const enrolled = await supabase.auth.mfa.enroll({ factorType: 'totp' });
    assert.equal(enrolled.error, null);
    const { data: { user } } = await supabase.auth.getUser();
    const admin = client(kith, kith.serviceKey).auth.admin;
    const listed = await admin.mfa.listFactors({ userId: user.id });
    assert.equal(listed.error, null);
    assert.equal(listed.data.factors[0].id, enrolled.data.id);
    const refused = await supabase.auth.admin.mfa.deleteFactor({ userId: user.id, id: enrolled.data.id });
    assert.equal(refused.error.code, 'not_admin');
    const deleted = await admin.mfa.deleteFactor({ userId: user.id, id: enrolled.data.id });
    assert.equal(deleted.error, null);
    // supabase-js wraps this answer twice ({data: {data: factor, error}}): its own quirk, not the server's.
    assert.equal(deleted.data.data.id, enrolled.data.id);
    const factors = await supabase.auth.mfa.listFactors();
    assert.equal(factors.data.all.length, 0);
  });
});
