// The dashboard in a real headless Chromium: the two-organization story of issue 11 (sign up, create the
// organization, three contacts — one through a CSV import with a bad row reported —, a meeting and two replies
// making a hot lead, a weekly event linked to it in "This week", a viewer invited through the mailed link who sees
// the lead without write controls and whose forged post is refused, another organization's user getting the 404
// page), axe-core on every dashboard page in light and dark mode, and the keyboard shortcuts. Any console error,
// page error, failed request or CSP violation fails the run. Screenshots in target/e2e/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AXE_SOURCE, launch, shoot, startKith, watchedContext } from './harness.mjs';

let kith;
let browser;
const problems = [];

before(async () => {
  kith = await startKith();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await kith?.stop();
});

function noProblems() {
  assert.deepEqual(problems.splice(0), [], 'console errors, page errors, failed requests or CSP violations');
}

async function axeFailures(page, label) {
  const failures = [];
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    // Evaluated through the DevTools protocol, so the page's CSP (no inline script) stays in force.
    await page.evaluate(AXE_SOURCE);
    const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    for (const v of result.violations.filter((v) => ['serious', 'critical'].includes(v.impact))) {
      failures.push(`${label} (${scheme}): ${v.id} ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  return failures;
}

async function signUp(page, email, password) {
  await page.goto('/signup');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
}

async function signIn(page, email, password) {
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/dashboard/overview');
}

async function signOut(page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((url) => url.pathname === '/');
}

async function logInteraction(page, kind) {
  await page.locator('summary', { hasText: 'Log interaction' }).click();
  await page.locator('#i-kind').selectOption(kind);
  await page.locator('form[action$="/interactions"] button[type="submit"]').click();
  await page.getByText('The interaction was logged').waitFor();
}

test('two organizations: the story of issue 11 from sign-up to sign-out', async () => {
  const stamp = Date.now();
  const password = 'story-password-1';
  const first = await watchedContext(browser, kith.url, problems);
  const a = await first.newPage();
  await signUp(a, `story-owner-${stamp}@example.com`, password);
  await a.waitForURL('**/dashboard/overview');
  await a.getByLabel('Organization name').fill('Story Org');
  await a.getByRole('button', { name: 'Create organization' }).click();
  await a.waitForURL('**/dashboard/overview');
  await a.getByRole('region', { name: 'Get started' }).waitFor();
  await shoot(a, 'story-getting-started');

  // The user's time zone first: the week is shown in it.
  await a.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Settings' }).click();
  await a.getByLabel('Time zone').selectOption('Asia/Tokyo');
  await a.getByRole('button', { name: 'Save profile' }).click();
  await a.getByText('Your profile was saved.').waitFor();

  // Two contacts through the form, one through a CSV import whose bad row is reported.
  await a.goto('/dashboard/overview');
  await a.getByRole('link', { name: 'New contact' }).click();
  await a.getByLabel('First name').fill('Ada');
  await a.getByLabel('Last name').fill('Lovelace');
  await a.getByLabel('Email').fill('ada@analytical-engines.io');
  await a.getByLabel('Phone').fill('+44 20 7946 0000');
  await a.getByLabel('Company').fill('Analytical Engines');
  await a.getByLabel('Job title').fill('VP Sales');
  await a.getByRole('button', { name: 'Create contact' }).click();
  await a.waitForURL(/\/dashboard\/contacts\/[0-9a-f-]{36}/);
  const adaUrl = new URL(a.url()).pathname;
  await a.goto('/dashboard/contacts/new');
  await a.getByLabel('First name').fill('Quiet');
  await a.getByLabel('Email').fill('quiet@gmail.com');
  await a.getByRole('button', { name: 'Create contact' }).click();
  await a.waitForURL(/\/dashboard\/contacts\/[0-9a-f-]{36}/);
  await a.goto('/dashboard/contacts/import');
  await a.getByLabel('CSV').fill('Name,E-mail,Company\nGrace,grace@navy.mil,US Navy\nBroken,not-an-email,Nowhere\n');
  await a.getByRole('button', { name: 'Preview' }).click();
  await a.getByRole('region', { name: 'Preview and columns' }).waitFor();
  await a.getByLabel('Field for column Name').selectOption('first_name');
  await shoot(a, 'story-import-preview');
  await a.getByRole('button', { name: 'Import contacts' }).click();
  const report = a.getByRole('region', { name: 'Import report' });
  await report.waitFor();
  assert.match(await report.innerText(), /1\s+created/);
  assert.match(await report.innerText(), /3\s+email/, 'the bad row is reported with its field');
  await shoot(a, 'story-import-report');

  // A meeting and two replies make Ada a lead; the untouched contact is not one.
  await a.goto(adaUrl);
  await logInteraction(a, 'meeting');
  await logInteraction(a, 'email_replied');
  await logInteraction(a, 'email_replied');
  await a.getByRole('region', { name: 'Why this score' }).locator('svg').waitFor();
  await shoot(a, 'dashboard-contact');
  await a.goto('/dashboard/overview');
  const leads = a.getByRole('region', { name: 'Hot leads' });
  const leadText = await leads.innerText();
  assert.match(leadText, /Ada Lovelace/);
  assert.match(leadText, /meeting|repl/i, 'the reasons are in words');
  assert.doesNotMatch(leadText, /Quiet/);

  // A weekly event linked to Ada, today at 09:00 in Tokyo: in "This week" on today.
  await a.goto('/dashboard/calendar');
  await a.getByLabel('Title').fill('Weekly sync');
  await a.getByLabel('Repeats').selectOption('weekly');
  await a.getByLabel('Linked contacts').selectOption({ label: 'Ada Lovelace' });
  await a.getByRole('button', { name: 'Create event' }).click();
  await a.waitForURL((url) => url.pathname === '/dashboard/calendar' && url.searchParams.has('week'));
  await a.getByRole('link', { name: 'Weekly sync' }).first().waitFor();
  await shoot(a, 'dashboard-calendar-week');
  await a.goto('/dashboard/overview');
  const week = a.getByRole('region', { name: 'This week' });
  assert.match(await week.innerText(), /Asia\/Tokyo/);
  const today = week.locator('h3.day').first();
  assert.match(await today.innerText(), /^Today/);
  const todayItems = await week.locator('ul.events').first().innerText().catch(() => '');
  assert.match(todayItems, /09:00–10:00\s+Weekly sync/, 'on today, at its local time');
  await shoot(a, 'dashboard-overview-story');

  // Invite a viewer; they sign up through the mailed link.
  await a.goto('/dashboard/settings');
  const viewerEmail = `story-viewer-${stamp}@example.com`;
  await a.getByLabel('Email', { exact: true }).fill(viewerEmail);
  await a.getByLabel('Role', { exact: true }).selectOption('viewer');
  await a.getByRole('button', { name: 'Send invitation' }).click();
  await a.getByText('The invitation was sent.').waitFor();
  await shoot(a, 'dashboard-settings');
  const mail = kith.outbox().reverse().find((m) => m.to === viewerEmail);
  assert.ok(mail, 'the invitation is in the outbox');
  const second = await watchedContext(browser, kith.url, problems);
  const v = await second.newPage();
  await v.goto(mail.link);
  await v.getByRole('link', { name: 'Create an account to accept' }).click();
  await v.getByLabel('Email').fill(viewerEmail);
  await v.getByLabel('Password').fill(password);
  await v.getByRole('button', { name: 'Create account' }).click();
  await v.getByRole('button', { name: 'Accept invitation' }).click();
  await v.waitForURL('**/dashboard/overview');
  assert.match(await v.getByRole('region', { name: 'Hot leads' }).innerText(), /Ada Lovelace/);
  await v.goto(adaUrl);
  assert.equal(await v.locator('summary', { hasText: 'Log interaction' }).count(), 0, 'no write controls');
  assert.equal(await v.getByRole('button', { name: 'Delete contact' }).count(), 0);
  await shoot(v, 'story-viewer-contact');
  const csrf = await v.locator('input[name="csrf"]').first().getAttribute('value');
  const forged = await second.request.post(`${kith.url}${adaUrl}/interactions`, {
    form: { csrf, kind: 'meeting' },
    maxRedirects: 0,
  });
  assert.equal(forged.status(), 403, 'a forged write from the viewer is refused');
  await v.goto(adaUrl);
  assert.equal(await v.locator('ol.timeline li').count(), 3, 'and changed nothing');

  // Another organization's user gets the 404 page for Ada.
  const third = await watchedContext(browser, kith.url, problems);
  const b = await third.newPage();
  await signUp(b, `story-other-${stamp}@example.com`, password);
  await b.waitForURL('**/dashboard/overview');
  await b.getByLabel('Organization name').fill('Other Org');
  await b.getByRole('button', { name: 'Create organization' }).click();
  await b.waitForURL('**/dashboard/overview');
  const response = await b.goto(adaUrl);
  assert.equal(response.status(), 404);
  await b.getByRole('heading', { name: 'Page not found' }).waitFor();
  assert.doesNotMatch(await b.locator('body').innerText(), /Lovelace/);

  for (const page of [a, v]) await signOut(page);
  await b.goto('/dashboard/overview');
  await signOut(b);
  for (const context of [first, second, third]) await context.close();
  noProblems();
});

test('axe finds no serious or critical violation on any dashboard page, light or dark; shortcuts work', async () => {
  const [owner] = kith.users;
  const context = await watchedContext(browser, kith.url, problems);
  const page = await context.newPage();
  await signIn(page, owner.email, owner.password);
  await page.goto('/dashboard/contacts');
  const contact = await page.locator('table.contacts a').first().getAttribute('href');
  await page.goto('/dashboard/calendar');
  if ((await page.locator('a[href^="/dashboard/calendar/events/"]').count()) === 0) {
    await page.getByRole('link', { name: 'Next week' }).click();
  }
  const event = await page.locator('a[href^="/dashboard/calendar/events/"]').first().getAttribute('href');
  const pages = [
    ['/dashboard/overview', 'dashboard-page-overview'],
    ['/dashboard/contacts', 'dashboard-page-contacts'],
    [contact, 'dashboard-page-contact'],
    ['/dashboard/contacts/new', 'dashboard-page-contact-new'],
    ['/dashboard/contacts/import', 'dashboard-page-import'],
    ['/dashboard/calendar', 'dashboard-page-calendar'],
    [event, 'dashboard-page-event'],
    ['/dashboard/settings', 'dashboard-page-settings'],
  ];
  const failures = [];
  for (const [path, name] of pages) {
    assert.ok(path, `${name} has a link to follow`);
    const response = await page.goto(path);
    assert.equal(response.status(), 200, path);
    failures.push(...(await axeFailures(page, path)));
    await shoot(page, name);
  }
  assert.deepEqual(failures, []);

  // Keyboard: `/` focuses the search, `?` lists the shortcuts, `n` opens the new-item form.
  await page.goto('/dashboard/contacts');
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'q');
  await page.keyboard.press('Escape');
  await page.locator('h1').click();
  await page.keyboard.press('?');
  await page.getByRole('dialog', { name: 'Keyboard shortcuts' }).waitFor();
  await shoot(page, 'dashboard-shortcuts');
  await page.keyboard.press('Escape');
  await page.getByRole('dialog').waitFor({ state: 'hidden' });
  await page.keyboard.press('n');
  await page.waitForURL((url) => url.pathname === '/dashboard/contacts/new');
  await page.goto('/dashboard/calendar');
  await page.keyboard.press('n');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'e-title');

  // A narrow screen: the week becomes a day list, wide tables scroll inside themselves, the page never sideways.
  await page.setViewportSize({ width: 360, height: 740 });
  for (const [path, name] of pages) {
    await page.goto(path);
    const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    assert.ok(fits, `${path}: no sideways scroll at 360 px`);
    if (name === 'dashboard-page-calendar') await shoot(page, 'dashboard-calendar-360px');
  }
  await context.close();
  noProblems();
});
