// The data API (/rest/v1) with the real supabase-js: every query builder feature a Supabase app uses, the
// seed case (a server-side client with the caller's token reads user_organizations), and tenant isolation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { client, startKith } from './harness.mjs';

let kith;
let alice;
let bob;
const orgA = randomUUID();
const orgB = randomUUID();

/** A user signed up through Kith's own auth service, with their access token. */
async function createUser(name) {
  const email = `${name}-${randomUUID()}@example.com`;
  const { data, error } = await client(kith).auth.signUp({ email, password: 'a-good-password' });
  if (error) throw error;
  return { id: data.user.id, email, token: data.session.access_token };
}

/** A server-side client acting as `user` (the pattern of the seed case). */
function as(user) {
  return client(kith, kith.anonKey, { global: { headers: { Authorization: `Bearer ${user.token}` } } });
}

before(async () => {
  kith = await startKith();
  alice = await createUser('alice');
  bob = await createUser('bob');
  execFileSync('psql', [
    '-h', join(kith.dataDir, 'run'), '-U', 'postgres', '-d', 'kith', '-q', '-v', 'ON_ERROR_STOP=1',
    '-v', `alice=${alice.id}`, '-v', `bob=${bob.id}`, '-v', `org_a=${orgA}`, '-v', `org_b=${orgB}`,
    '-f', join(import.meta.dirname, 'fixtures/rest.sql'),
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  // Wait for the schema cache to pick the fixtures up (NOTIFY at the end of the fixture file).
  for (let i = 0; i < 100; i++) {
    const { error } = await as(alice).from('items').select('id').limit(1);
    if (!error) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the data API never saw the fixture tables');
});
after(async () => {
  await kith?.stop();
});

const sorted = (rows) => rows.map((r) => r.title).sort();

test('seed case: the caller\'s token reads their organization; the anon key reads []', async () => {
  // Alice creates an organization through the CRM API, as herself (no service role anywhere).
  const created = await fetch(`${kith.url}/api/organizations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `Seed ${randomUUID()}` }),
  });
  assert.equal(created.status, 201);
  const org = await created.json();
  // The server-side code that returned "403: No organization found for user", word for word.
  const server = as(alice);
  const { data, error } = await server.from('user_organizations').select('org_id').eq('user_id', alice.id);
  assert.equal(error, null);
  assert.deepEqual(data, [{ org_id: org.id }]);
  const anon = client(kith);
  const anonymous = await anon.from('user_organizations').select('org_id').eq('user_id', alice.id);
  assert.equal(anonymous.error, null);
  assert.deepEqual(anonymous.data, []);
  const other = await as(bob).from('user_organizations').select('org_id').eq('user_id', alice.id);
  assert.deepEqual(other.data, []);
});

test('select with every filter operator', async () => {
  const db = as(alice);
  const cases = [
    [db.from('items').select('title').eq('title', 'alpha'), ['alpha']],
    [db.from('items').select('title').neq('title', 'alpha'), ['beta', 'gamma']],
    [db.from('items').select('title').gt('score', 10), ['beta']],
    [db.from('items').select('title').gte('score', 10), ['alpha', 'beta']],
    [db.from('items').select('title').lt('score', 20), ['alpha']],
    [db.from('items').select('title').lte('score', 20), ['alpha', 'beta']],
    [db.from('items').select('title').like('title', '%et%'), ['beta']],
    [db.from('items').select('title').ilike('title', 'ALP%'), ['alpha']],
    [db.from('items').select('title').likeAnyOf('title', ['a%', 'g%']), ['alpha', 'gamma']],
    [db.from('items').select('title').match({ title: 'beta', score: 20 }), ['beta']],
    [db.from('items').select('title').filter('title', 'match', '^[ab]'), ['alpha', 'beta']],
    [db.from('items').select('title').filter('title', 'imatch', '^G'), ['gamma']],
    [db.from('items').select('title').in('title', ['alpha', 'gamma', 'a,b']), ['alpha', 'gamma']],
    [db.from('items').select('title').is('score', null), ['gamma']],
    [db.from('items').select('title').not('score', 'is', null), ['alpha', 'beta']],
    [db.from('items').select('title').filter('score', 'isdistinct', 10), ['beta', 'gamma']],
    [db.from('items').select('title').contains('tags', ['blue']), ['alpha', 'beta']],
    [db.from('items').select('title').containedBy('tags', ['red', 'blue']), ['alpha', 'beta', 'gamma']],
    [db.from('items').select('title').overlaps('tags', ['red', 'green']), ['alpha']],
    [db.from('items').select('title').contains('data', { kind: 'x' }), ['alpha', 'gamma']],
    [db.from('items').select('title').eq('data->>kind', 'y'), ['beta']],
    [db.from('items').select('title').textSearch('body', 'fox', { config: 'english' }), ['alpha']],
    [db.from('items').select('title').textSearch('body', 'lazy dogs', { type: 'plain', config: 'english' }), ['beta']],
    [db.from('items').select('title').textSearch('body', 'quick fox', { type: 'websearch', config: 'english' }), ['alpha']],
    [db.from('items').select('title').or('title.eq.alpha,score.gt.15'), ['alpha', 'beta']],
    [db.from('items').select('title').or('title.eq.gamma,and(score.gte.10,score.lt.15)'), ['alpha', 'gamma']],
    [db.from('items').select('title').not('title', 'in', '(alpha,beta)'), ['gamma']],
  ];
  for (const [query, expected] of cases) {
    const { data, error } = await query;
    assert.equal(error, null, JSON.stringify(error));
    assert.deepEqual(sorted(data), expected);
  }
});

test('order, range, limit, single, maybeSingle, count and head', async () => {
  const db = as(alice);
  let { data } = await db.from('items').select('title').order('score', { ascending: false, nullsFirst: false });
  assert.deepEqual(data.map((r) => r.title), ['beta', 'alpha', 'gamma']);
  ({ data } = await db.from('items').select('title').order('title').range(1, 2));
  assert.deepEqual(data.map((r) => r.title), ['beta', 'gamma']);
  ({ data } = await db.from('items').select('title').order('title').limit(1));
  assert.deepEqual(data, [{ title: 'alpha' }]);

  const single = await db.from('items').select('title, score').eq('title', 'beta').single();
  assert.equal(single.error, null);
  assert.deepEqual(single.data, { title: 'beta', score: 20 });
  const none = await db.from('items').select('title').eq('title', 'nothing').single();
  assert.equal(none.status, 406);
  assert.equal(none.error.code, 'PGRST116');
  // PostgREST 12 and 13 word it so, and apps compare on it.
  assert.equal(none.error.message, 'JSON object requested, multiple (or no) rows returned');
  assert.equal(none.error.details, 'The result contains 0 rows');

  const maybe = await db.from('items').select('title').eq('title', 'nothing').maybeSingle();
  assert.equal(maybe.error, null);
  assert.equal(maybe.data, null);
  const one = await db.from('items').select('title').eq('title', 'alpha').maybeSingle();
  assert.deepEqual(one.data, { title: 'alpha' });

  const counted = await db.from('items').select('title', { count: 'exact' }).order('title').range(0, 0);
  assert.equal(counted.count, 3);
  assert.equal(counted.status, 206);
  const head = await db.from('items').select('*', { count: 'exact', head: true });
  assert.equal(head.error, null);
  assert.equal(head.count, 3);
  assert.equal(head.data, null);
});

test('embedding: to-one object, to-many array, !inner, embedded filters', async () => {
  const db = as(alice);
  let { data, error } = await db.from('items').select('title, orgs(name)').eq('title', 'alpha');
  assert.equal(error, null);
  assert.deepEqual(data, [{ title: 'alpha', orgs: { name: 'Org A' } }]);
  ({ data, error } = await db
    .from('orgs')
    .select('name, items(title)')
    .order('title', { referencedTable: 'items', ascending: false })
    .limit(2, { referencedTable: 'items' }));
  assert.equal(error, null);
  assert.deepEqual(data, [{ name: 'Org A', items: [{ title: 'gamma' }, { title: 'beta' }] }]);
  ({ data } = await db.from('orgs').select('name, items!inner(title)').eq('items.title', 'nothing'));
  assert.deepEqual(data, []);
  const bad = await db.from('items').select('title, nothing(*)');
  assert.equal(bad.status, 400);
  assert.equal(bad.error.code, 'PGRST200');
});

test('insert (object and array), upsert (both resolutions, onConflict), update, delete', async () => {
  const db = as(alice);
  let { data, error, status } = await db.from('items').insert({ org_id: orgA, title: 'new1', score: 1 }).select('title, score');
  assert.equal(error, null);
  assert.equal(status, 201);
  assert.deepEqual(data, [{ title: 'new1', score: 1 }]);
  ({ error, status } = await db.from('items').insert([{ org_id: orgA, title: 'new2' }, { org_id: orgA, title: 'new3', score: 3 }]));
  assert.equal(error, null);
  assert.equal(status, 201);
  ({ data } = await db.from('items').select('title, score, tags').in('title', ['new2', 'new3']).order('title'));
  assert.deepEqual(data, [{ title: 'new2', score: null, tags: [] }, { title: 'new3', score: 3, tags: [] }]);

  const { data: row } = await db.from('items').select('id').eq('title', 'new1').single();
  ({ data, error } = await db.from('items').upsert({ id: row.id, org_id: orgA, title: 'new1-merged' }).select('id, title'));
  assert.equal(error, null);
  assert.deepEqual(data, [{ id: row.id, title: 'new1-merged' }]);
  ({ data, error } = await db
    .from('items')
    .upsert({ id: row.id, org_id: orgA, title: 'ignored' }, { ignoreDuplicates: true })
    .select('title'));
  assert.equal(error, null);
  assert.deepEqual(data, []);
  ({ data, error } = await db
    .from('items')
    .upsert({ id: row.id, org_id: orgA, title: 'by-conflict' }, { onConflict: 'id' })
    .select('title'));
  assert.equal(error, null);
  assert.deepEqual(data, [{ title: 'by-conflict' }]);

  ({ data, error } = await db.from('items').update({ score: 5 }).eq('title', 'new2').select('title, score'));
  assert.equal(error, null);
  assert.deepEqual(data, [{ title: 'new2', score: 5 }]);
  ({ error, status } = await db.from('items').update({ score: 6 }).eq('title', 'new3'));
  assert.equal(error, null);
  assert.equal(status, 204);

  const counted = await db.from('items').delete({ count: 'exact' }).in('title', ['new2', 'new3', 'by-conflict']);
  assert.equal(counted.error, null);
  assert.equal(counted.count, 3);
  const unfiltered = await db.from('items').delete();
  assert.equal(unfiltered.status, 400);
});

test('rpc via POST and GET, csv', async () => {
  const db = as(alice);
  let { data, error } = await db.rpc('add_numbers', { a: 2, b: 3 });
  assert.equal(error, null);
  assert.equal(data, 5);
  ({ data, error } = await db.rpc('add_numbers', { a: 2 }, { get: true }));
  assert.equal(error, null);
  assert.equal(data, 12);
  ({ data, error } = await db.rpc('items_with', { q: 'a' }).select('title').gt('score', 5).order('title'));
  assert.equal(error, null);
  assert.deepEqual(data, [{ title: 'alpha' }, { title: 'beta' }]);
  const missing = await db.rpc('no_such_function', {});
  assert.equal(missing.status, 404);
  assert.equal(missing.error.code, 'PGRST202');

  const csv = await db.from('items').select('title, score').order('title').csv();
  assert.equal(csv.error, null);
  assert.equal(csv.data, 'title,score\nalpha,10\nbeta,20\ngamma,');
});

test('isolation: org A\'s member cannot read, change or plant org B\'s rows', async () => {
  const db = as(alice);
  const reads = [
    db.from('items').select('*').eq('org_id', orgB),
    db.from('items').select('*').or(`org_id.eq.${orgB},title.eq.secret`),
    db.from('orgs').select('*, items(*)').eq('id', orgB),
    db.from('members').select('*').eq('user_id', bob.id),
    db.rpc('items_with', { q: 'secret' }),
  ];
  for (const query of reads) {
    const { data, error } = await query;
    assert.equal(error, null);
    assert.deepEqual(data, []);
  }
  const updated = await db.from('items').update({ title: 'pwned' }, { count: 'exact' }).eq('org_id', orgB);
  assert.equal(updated.error, null);
  assert.equal(updated.count, 0);
  const deleted = await db.from('items').delete({ count: 'exact' }).eq('title', 'secret');
  assert.equal(deleted.count, 0);
  const planted = await db.from('items').insert({ org_id: orgB, title: 'planted' });
  assert.equal(planted.status, 403);
  assert.equal(planted.error.code, '42501');
  const { data } = await as(bob).from('items').select('title');
  assert.deepEqual(data, [{ title: 'secret' }]);
});

test('errors keep PostgREST\'s shape', async () => {
  const db = as(alice);
  const missing = await db.from('no_such_table').select('*');
  assert.equal(missing.status, 404);
  assert.equal(missing.error.code, 'PGRST205');
  const column = await db.from('items').select('nope');
  assert.equal(column.status, 400);
  assert.equal(column.error.code, '42703');
  const expired = client(kith, kith.anonKey, { global: { headers: { Authorization: 'Bearer a.b.c' } } });
  const bad = await expired.from('items').select('*');
  assert.equal(bad.status, 401);
  assert.equal(bad.error.code, 'PGRST301');
});

// Issue 8, item 5: what the PostgREST client's own test suite found.

test('insert with defaultToNull: false uses identity, domain and column defaults', async () => {
  const db = as(alice);
  const { data, error, status } = await db
    .from('entries')
    .insert([{ label: 'defaults-1' }, { label: 'defaults-2', note: 'given', level: 3 }, { label: 'defaults-3', note: null }], {
      defaultToNull: false,
    })
    .select('id, label, level, note');
  assert.equal(error, null, JSON.stringify(error));
  assert.equal(status, 201);
  const rows = [...data].sort((a, b) => a.label.localeCompare(b.label));
  assert.ok(rows.every((r) => Number.isInteger(r.id)), 'ids come from the identity sequence');
  assert.equal(new Set(rows.map((r) => r.id)).size, 3);
  assert.deepEqual(rows.map(({ label, level, note }) => ({ label, level, note })), [
    { label: 'defaults-1', level: 7, note: 'none' },
    { label: 'defaults-2', level: 3, note: 'given' },
    { label: 'defaults-3', level: 7, note: null },
  ]);
  // An upsert with defaultToNull: false takes the same road.
  const upserted = await db.from('entries').upsert({ label: 'defaults-4' }, { defaultToNull: false }).select('label, level');
  assert.equal(upserted.error, null, JSON.stringify(upserted.error));
  assert.deepEqual(upserted.data, [{ label: 'defaults-4', level: 7 }]);
});

test('range operators: rangeGte is nxl (&>), rangeLte is nxr (&<)', async () => {
  const db = as(alice);
  const labels = (rows) => rows.map((r) => r.label).sort();
  let { data, error } = await db.from('entries').select('label').rangeGte('span', '[4,10)');
  assert.equal(error, null, JSON.stringify(error));
  assert.deepEqual(labels(data), ['range-high', 'range-mid']);
  ({ data, error } = await db.from('entries').select('label').rangeLte('span', '[4,10)'));
  assert.equal(error, null, JSON.stringify(error));
  assert.deepEqual(labels(data), ['range-low', 'range-mid']);
});

test('an upsert that only updates answers 200; one that inserts answers 201', async () => {
  const db = as(alice);
  const { data: row } = await db.from('items').select('id').eq('title', 'alpha').single();
  const updated = await db.from('items').upsert({ id: row.id, org_id: orgA, title: 'alpha' });
  assert.equal(updated.error, null, JSON.stringify(updated.error));
  assert.equal(updated.status, 200);
  const inserted = await db.from('items').upsert({ org_id: orgA, title: 'upserted-new' }).select('title');
  assert.equal(inserted.error, null);
  assert.equal(inserted.status, 201);
  const mixed = await db.from('items').upsert([{ id: row.id, org_id: orgA, title: 'alpha' }, { org_id: orgA, title: 'upserted-2' }], {
    defaultToNull: false,
  });
  assert.equal(mixed.status, 201);
  await db.from('items').delete().in('title', ['upserted-new', 'upserted-2']);
});

test('count on an RPC returning a scalar', async () => {
  const { data, error, count } = await as(alice).rpc('add_numbers', { a: 1, b: 2 }, { count: 'exact' });
  assert.equal(error, null);
  assert.equal(data, 3);
  assert.equal(count, 1);
  const raw = await fetch(`${kith.url}/rest/v1/rpc/add_numbers?a=1`, {
    headers: { apikey: kith.anonKey, authorization: `Bearer ${alice.token}`, prefer: 'count=exact' },
  });
  assert.equal(raw.headers.get('content-range'), '0-0/1');
});

test('an empty embed adds nothing and still filters through !inner', async () => {
  const db = as(alice);
  let { data, error } = await db.from('items').select('title, orgs!inner()').eq('orgs.name', 'Org A').order('title');
  assert.equal(error, null, JSON.stringify(error));
  assert.deepEqual(data, [{ title: 'alpha' }, { title: 'beta' }, { title: 'gamma' }]);
  ({ data, error } = await db.from('items').select('title, orgs!inner()').eq('orgs.name', 'Org Z'));
  assert.equal(error, null);
  assert.deepEqual(data, []);
  ({ data, error } = await db.from('items').select('title, orgs()').eq('title', 'beta'));
  assert.equal(error, null);
  assert.deepEqual(data, [{ title: 'beta' }]);
});

test('self-referencing embeds: the table name is the children, the FK column the parent', async () => {
  const db = as(alice);
  let { data, error } = await db.from('collections').select('name, collections(name)').eq('id', 1);
  assert.equal(error, null, JSON.stringify(error));
  assert.deepEqual(
    data.map((r) => ({ ...r, collections: r.collections.map((c) => c.name).sort() })),
    [{ name: 'root', collections: ['child-a', 'child-b'] }],
  );
  ({ data, error } = await db.from('collections').select('name, parent_id(name)').eq('id', 2));
  assert.equal(error, null, JSON.stringify(error));
  assert.deepEqual(data, [{ name: 'child-a', parent_id: { name: 'root' } }]);
});

test('two embeds under one name are refused', async () => {
  const { error, status } = await as(alice).from('items').select('title, orgs(name), orgs(id)');
  assert.equal(status, 400);
  assert.equal(error.code, '42712');
  assert.equal(error.message, 'table name "items_orgs_1" specified more than once');
  const aliased = await as(alice).from('items').select('title, a:orgs(name), b:orgs(id)').eq('title', 'alpha');
  assert.equal(aliased.error, null);
  assert.deepEqual(aliased.data, [{ title: 'alpha', a: { name: 'Org A' }, b: { id: orgA } }]);
});

test('PGRST201 names the relationship from the embedding side', async () => {
  const { error, status } = await as(alice).from('people').select('name, letters(body)');
  assert.equal(status, 300);
  assert.equal(error.code, 'PGRST201');
  const relationships = error.details.map((d) => [d.cardinality, d.embedding, d.relationship]).sort();
  assert.deepEqual(relationships, [
    ['one-to-many', 'people with letters', 'letters_receiver_id_fkey using people(id) and letters(receiver_id)'],
    ['one-to-many', 'people with letters', 'letters_sender_id_fkey using people(id) and letters(sender_id)'],
  ]);
  assert.match(error.hint, /'letters!letters_sender_id_fkey'/);
  const reverse = await as(alice).from('letters').select('body, people(name)');
  assert.deepEqual(
    reverse.error.details.map((d) => d.relationship).sort(),
    [
      'letters_receiver_id_fkey using letters(receiver_id) and people(id)',
      'letters_sender_id_fkey using letters(sender_id) and people(id)',
    ],
  );
});

test('CSV quotes fields as PostgREST does', async () => {
  const db = as(alice);
  const odd = [
    { label: 'csv a b', note: '', message: null },
    { label: 'csv x,y', note: 'q"t', message: '(p)' },
    { label: 'csv plain', note: 'back\\slash', message: 'tab\there' },
  ];
  const { error } = await db.from('entries').insert(odd);
  assert.equal(error, null, JSON.stringify(error));
  const csv = await db.from('entries').select('label, note, message').like('label', 'csv *').order('label').csv();
  assert.equal(csv.error, null);
  assert.equal(
    csv.data,
    'label,note,message\n' +
      '"csv a b","",\n' +
      '"csv plain","back\\\\slash","tab\there"\n' +
      '"csv x,y","q""t","(p)"',
  );
});

test('max-affected with handling=strict on RPC', async () => {
  const db = as(alice);
  const refused = await db.rpc('shout_entries').maxAffected(2);
  assert.equal(refused.status, 400);
  assert.equal(refused.error.code, 'PGRST124');
  assert.equal(refused.error.details, 'The query affects 3 rows');
  const { data: notes } = await db.from('entries').select('note').like('label', 'range-*');
  assert.deepEqual(notes.map((r) => r.note), ['none', 'none', 'none'], 'the call was rolled back');
  const scalar = await db.rpc('count_entries').maxAffected(2);
  assert.equal(scalar.status, 400);
  assert.equal(scalar.error.code, 'PGRST128');
  const allowed = await db.rpc('shout_entries').select('note').maxAffected(3);
  assert.equal(allowed.error, null, JSON.stringify(allowed.error));
  assert.deepEqual(allowed.data.map((r) => r.note), ['none!', 'none!', 'none!']);
});

test('computed fields are selected, filtered and ordered like columns, as their EXECUTE grants allow', async () => {
  const db = as(alice);
  let { data, error } = await db
    .from('entries')
    .select('label, blurb_message')
    .like('label', 'range-*')
    .order('blurb_message', { ascending: true, nullsFirst: false });
  assert.equal(error, null, JSON.stringify(error));
  assert.deepEqual(data, [
    { label: 'range-low', blurb_message: 'hello' },
    { label: 'range-mid', blurb_message: 'howdy' },
    { label: 'range-high', blurb_message: null },
  ]);
  ({ data, error } = await db.from('entries').select('label').eq('blurb_message', 'howdy'));
  assert.equal(error, null);
  assert.deepEqual(data, [{ label: 'range-mid' }]);
  // In a write's filter and representation too.
  ({ data, error } = await db.from('entries').update({ message: 'hello again' }).eq('blurb_message', 'hello').select('label, blurb_message'));
  assert.equal(error, null, JSON.stringify(error));
  assert.deepEqual(data, [{ label: 'range-low', blurb_message: 'hello' }]);
  ({ data, error } = await db.from('entries').insert({ label: 'computed-new', message: 'fresh words' }).select('blurb_message'));
  assert.equal(error, null, JSON.stringify(error));
  assert.deepEqual(data, [{ blurb_message: 'fresh' }]);
  const anon = await client(kith).from('entries').select('label, blurb_message').limit(1);
  assert.equal(anon.status, 401);
  assert.equal(anon.error.code, '42501');
  const unknown = await db.from('entries').select('label, no_such_field');
  assert.equal(unknown.error.code, '42703');
});

test('unknown paths under /rest/v1 answer in PostgREST\'s shape', async () => {
  for (const path of ['/rest/v1/items/extra', '/rest/v1/items/', '/rest/v1/rpc/add_numbers/x']) {
    const response = await fetch(`${kith.url}${path}`, { headers: { apikey: kith.anonKey } });
    assert.equal(response.status, 404, path);
    const body = await response.json();
    assert.equal(body.code, 'PGRST125', path);
    assert.equal(body.message, 'Invalid path specified in request URL');
  }
});
