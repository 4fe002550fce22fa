// The Storage API (/storage/v1) with the real supabase-js `storage` client: every bucket and file method an
// app calls, per-user folder policies on storage.objects deciding who may do what, and the refusals.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { client, startKith } from './harness.mjs';

let kith;
let admin;
let alice;
let bob;

async function createUser(name) {
  const email = `${name}-${randomUUID()}@example.com`;
  const { data, error } = await client(kith).auth.signUp({ email, password: 'a-good-password' });
  if (error) throw error;
  return { id: data.user.id, email, token: data.session.access_token };
}

function as(user) {
  return client(kith, kith.anonKey, { global: { headers: { Authorization: `Bearer ${user.token}` } } });
}

before(async () => {
  kith = await startKith({ KITH_STORAGE_MAX_FILE_SIZE: String(5 * 1024 * 1024) });
  admin = client(kith, kith.serviceKey);
  alice = await createUser('alice');
  bob = await createUser('bob');
  execFileSync('psql', [
    '-h', join(kith.dataDir, 'run'), '-U', 'postgres', '-d', 'kith', '-q', '-v', 'ON_ERROR_STOP=1',
    '-f', join(import.meta.dirname, 'fixtures/storage.sql'),
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (const [id, options] of [
    ['private', { public: false }],
    ['avatars', { public: true, fileSizeLimit: '1MB', allowedMimeTypes: ['image/*'] }],
  ]) {
    const { error } = await admin.storage.createBucket(id, options);
    assert.equal(error, null);
  }
});
after(async () => {
  await kith?.stop();
});

test('buckets: createBucket, getBucket, listBuckets, updateBucket, emptyBucket, deleteBucket', async () => {
  const id = `tmp-${randomUUID().slice(0, 8)}`;
  let r = await admin.storage.createBucket(id, { public: false, fileSizeLimit: 1024, allowedMimeTypes: ['text/plain'] });
  assert.deepEqual(r, { data: { name: id }, error: null });
  r = await admin.storage.createBucket(id);
  assert.equal(r.error.status, 409);
  r = await admin.storage.getBucket(id);
  assert.equal(r.data.id, id);
  assert.equal(r.data.file_size_limit, 1024);
  assert.deepEqual(r.data.allowed_mime_types, ['text/plain']);
  r = await admin.storage.listBuckets();
  assert.deepEqual(r.data.map((b) => b.id).sort(), ['avatars', 'private', id].sort());
  r = await admin.storage.listBuckets({ search: id.slice(0, 6), limit: 10 });
  assert.deepEqual(r.data.map((b) => b.id), [id]);
  r = await admin.storage.updateBucket(id, { public: true, fileSizeLimit: null, allowedMimeTypes: null });
  assert.deepEqual(r.data, { message: 'Successfully updated' });
  r = await admin.storage.getBucket(id);
  assert.equal(r.data.public, true);
  assert.equal(r.data.file_size_limit, null);
  assert.equal((await admin.storage.from(id).upload('a.txt', 'a')).error, null);
  r = await admin.storage.deleteBucket(id);
  assert.equal(r.error.status, 409, 'a bucket with files is not deleted');
  r = await admin.storage.emptyBucket(id);
  assert.deepEqual(r.data, { message: 'Successfully emptied' });
  r = await admin.storage.deleteBucket(id);
  assert.deepEqual(r.data, { message: 'Successfully deleted' });
  r = await admin.storage.getBucket(id);
  assert.equal(r.error.status, 404);
  // Signed-in users have no bucket policies here: Postgres refuses.
  r = await as(alice).storage.createBucket(`mine-${randomUUID().slice(0, 8)}`);
  assert.equal(r.error.status, 403);
});

test('files: upload (string, Blob, Buffer), upsert, update, download, info, exists', async () => {
  const files = as(alice).storage.from('private');
  const path = `${alice.id}/notes/hello.txt`;
  let r = await files.upload(path, 'hello');
  assert.equal(r.error, null);
  assert.equal(r.data.path, path);
  assert.equal(r.data.fullPath, `private/${path}`);
  assert.ok(r.data.id);
  r = await files.upload(path, 'again');
  assert.equal(r.error.status, 409);
  r = await files.upload(path, new Blob(['hello, blob'], { type: 'text/markdown' }), { upsert: true, metadata: { lang: 'en' } });
  assert.equal(r.error, null, r.error?.message);
  r = await files.download(path);
  assert.equal(r.error, null);
  assert.equal(await r.data.text(), 'hello, blob');
  assert.equal(r.data.type, 'text/markdown');
  r = await files.update(path, Buffer.from('updated'), { contentType: 'text/plain' });
  assert.equal(r.error, null);
  r = await files.info(path);
  assert.equal(r.error, null);
  assert.equal(r.data.size, 7);
  assert.equal(r.data.contentType, 'text/plain');
  assert.equal(r.data.bucketId, 'private');
  assert.equal((await files.exists(path)).data, true);
  assert.equal((await files.exists(`${alice.id}/nope.txt`)).data, false);
  r = await files.update(`${alice.id}/nope.txt`, 'x');
  assert.equal(r.error.status, 404);
});

test('files: list with prefix, limit, offset, search and sortBy', async () => {
  const files = as(alice).storage.from('private');
  for (const name of ['a.txt', 'b.txt', 'c.md', 'deep/d.txt']) {
    assert.equal((await files.upload(`${alice.id}/list/${name}`, name)).error, null);
  }
  let r = await files.list(`${alice.id}/list`);
  assert.equal(r.error, null);
  assert.deepEqual(r.data.map((f) => f.name), ['a.txt', 'b.txt', 'c.md', 'deep']);
  assert.equal(r.data[3].id, null, 'folders have no id');
  assert.equal(r.data[0].metadata.size, 5);
  r = await files.list(`${alice.id}/list`, { limit: 2, offset: 1 });
  assert.deepEqual(r.data.map((f) => f.name), ['b.txt', 'c.md']);
  r = await files.list(`${alice.id}/list`, { search: 'c' });
  assert.deepEqual(r.data.map((f) => f.name), ['c.md']);
  r = await files.list(`${alice.id}/list`, { sortBy: { column: 'name', order: 'desc' } });
  assert.deepEqual(r.data.map((f) => f.name), ['deep', 'c.md', 'b.txt', 'a.txt']);
});

test('files: move, copy, remove', async () => {
  const files = as(alice).storage.from('private');
  const from = `${alice.id}/mv/source.txt`;
  assert.equal((await files.upload(from, 'moving')).error, null);
  let r = await files.move(from, `${alice.id}/mv/moved.txt`);
  assert.deepEqual(r, { data: { message: 'Successfully moved' }, error: null });
  assert.equal((await files.exists(from)).data, false);
  r = await files.copy(`${alice.id}/mv/moved.txt`, `${alice.id}/mv/copied.txt`);
  assert.equal(r.error, null);
  assert.equal(r.data.path, `private/${alice.id}/mv/copied.txt`);
  assert.equal(await (await files.download(`${alice.id}/mv/copied.txt`)).data.text(), 'moving');
  r = await files.remove([`${alice.id}/mv/moved.txt`, `${alice.id}/mv/copied.txt`]);
  assert.equal(r.error, null);
  assert.deepEqual(r.data.map((o) => o.name).sort(), [`${alice.id}/mv/copied.txt`, `${alice.id}/mv/moved.txt`]);
  r = await files.list(`${alice.id}/mv`);
  assert.deepEqual(r.data, []);
});

test('signed URLs: createSignedUrl, createSignedUrls, download until expiry', async () => {
  const files = as(alice).storage.from('private');
  const path = `${alice.id}/signed/report 1.txt`;
  assert.equal((await files.upload(path, 'signed content')).error, null);
  let r = await files.createSignedUrl(path, 60);
  assert.equal(r.error, null);
  let response = await fetch(r.data.signedUrl);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), 'signed content');
  r = await files.createSignedUrl(path, 60, { download: 'report.txt' });
  response = await fetch(r.data.signedUrl);
  assert.match(response.headers.get('content-disposition'), /attachment; filename\*=UTF-8''report\.txt/);
  r = await files.createSignedUrls([path, `${alice.id}/signed/missing.txt`], 1);
  assert.equal(r.error, null);
  assert.equal(r.data[0].error, null);
  assert.equal(r.data[1].signedUrl, null);
  assert.ok(r.data[1].error);
  await new Promise((ok) => setTimeout(ok, 2100));
  response = await fetch(r.data[0].signedUrl);
  assert.equal(response.status, 400, 'expired');
  // Bob cannot sign Alice's file.
  r = await as(bob).storage.from('private').createSignedUrl(path, 60);
  assert.equal(r.error.status, 404);
});

test('public bucket: getPublicUrl downloads without a key; size and MIME limits refuse', async () => {
  const avatars = as(alice).storage.from('avatars');
  const path = `${alice.id}/face.png`;
  let r = await avatars.upload(path, Buffer.from([0x89, 0x50, 0x4e, 0x47]), { contentType: 'image/png' });
  assert.equal(r.error, null);
  const { data } = avatars.getPublicUrl(path);
  assert.equal(data.publicUrl, `${kith.url}/storage/v1/object/public/avatars/${path}`);
  const response = await fetch(data.publicUrl);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'image/png');
  assert.equal((await response.arrayBuffer()).byteLength, 4);
  r = await avatars.upload(`${alice.id}/big.png`, Buffer.alloc(1_000_001), { contentType: 'image/png' });
  assert.equal(r.error.status, 413);
  r = await avatars.upload(`${alice.id}/doc.pdf`, Buffer.from('%PDF'), { contentType: 'application/pdf' });
  assert.equal(r.error.status, 415);
  r = await avatars.upload(`${alice.id}/huge.png`, Buffer.alloc(5 * 1024 * 1024 + 1), { contentType: 'image/png' });
  assert.equal(r.error.status, 413, 'the server limit');
  // Anyone may fetch the public URL, but listing needs a policy.
  r = await client(kith).storage.from('avatars').list(alice.id);
  assert.deepEqual(r.data, []);
});

test('RLS: another user\'s folder is refused for every operation', async () => {
  const path = `${alice.id}/secret.txt`;
  assert.equal((await as(alice).storage.from('private').upload(path, 'secret')).error, null);
  const files = as(bob).storage.from('private');
  let r = await files.upload(`${alice.id}/planted.txt`, 'x');
  assert.equal(r.error.status, 403);
  r = await files.upload(path, 'overwrite', { upsert: true });
  assert.ok(r.error, 'no overwrite');
  r = await files.download(path);
  assert.equal(r.error.status, 404);
  assert.equal((await files.exists(path)).data, false);
  r = await files.info(path);
  assert.equal(r.error.status, 404);
  r = await files.list(alice.id);
  assert.deepEqual(r.data, []);
  r = await files.move(path, `${bob.id}/stolen.txt`);
  assert.equal(r.error.status, 404);
  r = await files.copy(path, `${bob.id}/copied.txt`);
  assert.equal(r.error.status, 404);
  r = await files.remove([path]);
  assert.deepEqual(r.data, []);
  r = await client(kith).storage.from('private').download(path);
  assert.equal(r.error.status, 404, 'anon');
  r = await as(alice).storage.from('private').download(path);
  assert.equal(await r.data.text(), 'secret', 'still there, unchanged');
  // Traversal names are refused outright.
  r = await as(alice).storage.from('private').upload(`${alice.id}/..%2F..%2Fescape.txt`, 'x');
  assert.equal(r.error.status, 400);
});
