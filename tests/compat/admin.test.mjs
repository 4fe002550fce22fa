// supabase.auth.admin.* from the official client, with the service-role key, against Kith — and the same calls
// refused for a signed-in user's client and for the anon key.
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

const email = () => `admin-js-${randomUUID()}@example.com`;
const password = 'a-good-password';
const admin = () => client(kith, kith.serviceKey).auth.admin;

describe('supabase.auth.admin with the service-role key', () => {
  test('createUser, getUserById, listUsers', async () => {
    const address = email();
    const { data, error } = await admin().createUser({
      email: address,
      password,
      email_confirm: true,
      user_metadata: { name: 'Ada' },
      app_metadata: { plan: 'pro' },
    });
    assert.equal(error, null);
    assert.equal(data.user.email, address);
    assert.ok(data.user.email_confirmed_at);
    assert.deepEqual(data.user.user_metadata, { name: 'Ada' });
    assert.equal(data.user.app_metadata.plan, 'pro');
    assert.equal(data.user.app_metadata.provider, 'email');

    const got = await admin().getUserById(data.user.id);
    assert.equal(got.error, null);
    assert.equal(got.data.user.id, data.user.id);

    // The created user signs in with the password the admin set.
    const signedIn = await client(kith).auth.signInWithPassword({ email: address, password });
    assert.equal(signedIn.error, null);

    await admin().createUser({ email: email(), password, email_confirm: true });
    const page = await admin().listUsers({ page: 1, perPage: 1 });
    assert.equal(page.error, null);
    assert.equal(page.data.users.length, 1);
    assert.equal(page.data.aud, 'authenticated');
    assert.ok(page.data.total >= 2, `total ${page.data.total}`);
    assert.equal(page.data.nextPage, 2);
    assert.ok(page.data.lastPage >= 2);

    const dup = await admin().createUser({ email: address, password });
    assert.equal(dup.error.code, 'email_exists');
    assert.equal(dup.error.status, 422);
  });

  test('updateUserById with ban_duration, then "none"', async () => {
    const address = email();
    const { data } = await admin().createUser({ email: address, password, email_confirm: true });
    const banned = await admin().updateUserById(data.user.id, { ban_duration: '24h' });
    assert.equal(banned.error, null);
    assert.ok(new Date(banned.data.user.banned_until) > new Date());
    const refused = await client(kith).auth.signInWithPassword({ email: address, password });
    assert.equal(refused.error.code, 'user_banned');

    const lifted = await admin().updateUserById(data.user.id, {
      ban_duration: 'none',
      user_metadata: { team: 'sales' },
      password: 'another-good-password',
    });
    assert.equal(lifted.error, null);
    assert.equal(lifted.data.user.banned_until, undefined);
    assert.equal(lifted.data.user.user_metadata.team, 'sales');
    const back = await client(kith).auth.signInWithPassword({ email: address, password: 'another-good-password' });
    assert.equal(back.error, null);

    const bad = await admin().updateUserById(data.user.id, { ban_duration: 'a while' });
    assert.equal(bad.error.code, 'validation_failed');
    assert.equal(bad.error.status, 400);
  });

  test('deleteUser, hard and soft', async () => {
    const one = await admin().createUser({ email: email(), password });
    const deleted = await admin().deleteUser(one.data.user.id);
    assert.equal(deleted.error, null);
    const missing = await admin().getUserById(one.data.user.id);
    assert.equal(missing.error.code, 'user_not_found');
    assert.equal(missing.error.status, 404);

    const address = email();
    const two = await admin().createUser({ email: address, password, email_confirm: true });
    const soft = await admin().deleteUser(two.data.user.id, true);
    assert.equal(soft.error, null);
    const kept = await admin().getUserById(two.data.user.id);
    assert.ok(kept.data.user.deleted_at);
    const refused = await client(kith).auth.signInWithPassword({ email: address, password });
    assert.equal(refused.error.code, 'invalid_credentials');
  });

  test('generateLink: magiclink, recovery, signup, invite, email change', async () => {
    const address = email();
    await admin().createUser({ email: address, password, email_confirm: true });
    const magic = await admin().generateLink({ type: 'magiclink', email: address });
    assert.equal(magic.error, null);
    assert.equal(magic.data.properties.verification_type, 'magiclink');
    assert.match(magic.data.properties.action_link, /\/auth\/v1\/verify\?token=/);
    assert.equal(magic.data.properties.email_otp.length, 6);
    assert.equal(magic.data.user.email, address);
    const session = await client(kith).auth.verifyOtp({
      type: 'magiclink',
      token_hash: magic.data.properties.hashed_token,
    });
    assert.equal(session.error, null);
    assert.equal(session.data.user.email, address);

    const recovery = await admin().generateLink({ type: 'recovery', email: address });
    assert.equal(recovery.error, null);
    const byCode = await client(kith).auth.verifyOtp({
      type: 'recovery',
      email: address,
      token: recovery.data.properties.email_otp,
    });
    assert.equal(byCode.error, null);

    const newcomer = email();
    const signup = await admin().generateLink({ type: 'signup', email: newcomer, password });
    assert.equal(signup.error, null);
    assert.equal(signup.data.properties.verification_type, 'signup');
    assert.equal(signup.data.user.email, newcomer);

    const invitee = email();
    const invite = await admin().generateLink({ type: 'invite', email: invitee });
    assert.equal(invite.error, null);
    assert.ok(invite.data.user.invited_at);

    const moved = email();
    const change = await admin().generateLink({ type: 'email_change_new', email: address, newEmail: moved });
    assert.equal(change.error, null);
    assert.equal(change.data.user.new_email, moved);
    const changed = await client(kith).auth.verifyOtp({
      type: 'email_change',
      token_hash: change.data.properties.hashed_token,
    });
    assert.equal(changed.error, null);
    assert.equal(changed.data.user.email, moved);

    const nobody = await admin().generateLink({ type: 'recovery', email: email() });
    assert.equal(nobody.error.code, 'user_not_found');
  });

  test('inviteUserByEmail mails a link that signs the invitee in', async () => {
    const invitee = email();
    const { data, error } = await admin().inviteUserByEmail(invitee, { data: { team: 'sales' } });
    assert.equal(error, null);
    assert.equal(data.user.email, invitee);
    assert.ok(data.user.invited_at);
    const mail = kith.outbox().findLast((m) => m.to === invitee);
    assert.equal(mail.type, 'invite');
    const session = await client(kith).auth.verifyOtp({ type: 'invite', email: invitee, token: mail.code });
    assert.equal(session.error, null);
    assert.ok(session.data.user.email_confirmed_at);
    const again = await admin().inviteUserByEmail(invitee);
    assert.equal(again.error.code, 'email_exists');
  });
});

describe('the admin API refuses everyone else', () => {
  test('a signed-in user and the anon key get 403 not_admin on every admin method', async () => {
    const address = email();
    const user = client(kith);
    const signedUp = await user.auth.signUp({ email: address, password });
    assert.equal(signedUp.error, null);
    const victim = signedUp.data.user.id;
    const userAdmin = client(kith, kith.anonKey, {
      global: { headers: { Authorization: `Bearer ${signedUp.data.session.access_token}` } },
    }).auth.admin;
    const anonAdmin = client(kith).auth.admin;
    for (const [who, api] of [
      ['user token', userAdmin],
      ['anon key', anonAdmin],
    ]) {
      const calls = {
        createUser: () => api.createUser({ email: email(), password }),
        listUsers: () => api.listUsers(),
        getUserById: () => api.getUserById(victim),
        updateUserById: () => api.updateUserById(victim, { ban_duration: '24h' }),
        deleteUser: () => api.deleteUser(victim),
        generateLink: () => api.generateLink({ type: 'recovery', email: address }),
        inviteUserByEmail: () => api.inviteUserByEmail(email()),
      };
      for (const [name, call] of Object.entries(calls)) {
        const { error } = await call();
        assert.ok(error, `${name} with the ${who} must fail`);
        assert.equal(error.status, 403, `${name} with the ${who}`);
        assert.equal(error.code, 'not_admin', `${name} with the ${who}`);
        assert.equal(error.message, 'User not allowed');
      }
    }
    // The victim is untouched.
    const still = await user.auth.signInWithPassword({ email: address, password });
    assert.equal(still.error, null);
    assert.equal(still.data.user.banned_until, undefined);
  });
});
