// The web pages in a real headless Chromium: sign-up, sign-out, the dashboard redirect, sign-in, a password
// reset through the outbox, two users' contexts kept apart, axe-core on every public and auth page in light and
// dark mode, and a keyboard pass. Any console error, page error, failed request or CSP violation fails the run.
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

async function signIn(page, email, password) {
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function signOut(page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((url) => url.pathname === '/');
}

test('serve --demo prints the address to open and the demo users', () => {
  assert.equal(kith.opened, `${kith.url}/login`);
  assert.equal(kith.users.length, 2, kith.printed);
});

test('sign up, sign out, sign in, reset the password through the mailed link', async () => {
  const context = await watchedContext(browser, kith.url, problems);
  const page = await context.newPage();
  const email = `e2e-${Date.now()}@example.com`;

  await page.goto('/signup');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('first-password-1');
  await shoot(page, 'signup');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL('**/dashboard/overview');
  assert.match(await page.locator('header').innerText(), new RegExp(email.replace('.', '\\.')));
  await shoot(page, 'dashboard-overview');
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'kith_session');
  assert.ok(session?.httpOnly, 'the session cookie is HttpOnly');
  assert.equal(session.sameSite, 'Lax');
  assert.deepEqual(await page.evaluate(() => [document.cookie, localStorage.length, sessionStorage.length]), ['', 0, 0]);

  await signOut(page);
  await page.goto('/dashboard/overview');
  assert.equal(new URL(page.url()).pathname, '/login');
  assert.equal(new URL(page.url()).searchParams.get('next'), '/dashboard/overview');
  await shoot(page, 'login');

  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('first-password-1');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/dashboard/overview');
  await signOut(page);

  await page.goto('/forgot-password');
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Send reset link' }).click();
  await page.getByText('reset link is on its way').waitFor();
  await shoot(page, 'forgot-password');
  const mail = kith.outbox().reverse().find((m) => m.to === email);
  assert.ok(mail, 'the recovery mail is in the outbox');
  await page.goto(mail.link);
  await page.waitForURL('**/reset-password');
  await shoot(page, 'reset-password');
  await page.getByLabel('Password').fill('second-password-2');
  await page.getByRole('button', { name: 'Set new password' }).click();
  await page.waitForURL('**/dashboard/overview');
  await signOut(page);

  await signIn(page, email, 'first-password-1');
  await page.getByText('Wrong email or password.').waitFor();
  assert.equal(new URL(page.url()).pathname, '/login');
  await shoot(page, 'login-refused');
  await signIn(page, email, 'second-password-2');
  await page.waitForURL('**/dashboard/overview');
  await context.close();
  noProblems();
});

test("another user's browser cannot see the first user's pages", async () => {
  const [owner, member] = kith.users;
  const first = await watchedContext(browser, kith.url, problems);
  const second = await watchedContext(browser, kith.url, problems);
  const a = await first.newPage();
  const b = await second.newPage();
  await signIn(a, owner.email, owner.password);
  await a.waitForURL('**/dashboard/overview');
  await signIn(b, member.email, member.password);
  await b.waitForURL('**/dashboard/overview');
  const seenByB = await b.locator('body').innerText();
  assert.ok(seenByB.includes(member.email));
  assert.ok(!seenByB.includes(owner.email), "the second context shows the first user's page");
  await signOut(a);
  assert.ok((await b.locator('body').innerText()).includes(member.email));
  await b.reload();
  assert.ok((await b.locator('body').innerText()).includes(member.email), "one user's sign-out ends only their session");
  const third = await watchedContext(browser, kith.url, problems);
  const c = await third.newPage();
  await c.goto('/dashboard/overview');
  assert.equal(new URL(c.url()).pathname, '/login');
  for (const context of [first, second, third]) await context.close();
  noProblems();
});

async function publicAndAuthPages() {
  const response = await fetch(`${kith.url}/docs`);
  const docs = [...(await response.text()).matchAll(/href="(\/docs\/[a-z0-9-]+)"/g)].map((m) => m[1]);
  const blog = [...(await (await fetch(`${kith.url}/blog`)).text()).matchAll(/href="(\/blog\/[a-z0-9-]+)"/g)]
    .map((m) => m[1]);
  const pages = ['/', '/docs', ...new Set(docs), '/blog', ...new Set(blog), '/api', '/support', '/integrations',
    '/changelog', '/privacy', '/terms', '/login', '/signup', '/forgot-password', '/reset-password', '/logout',
    '/no-such-page'];
  return pages;
}

test('axe finds no serious or critical violation on any public or auth page, light or dark', async () => {
  const context = await watchedContext(browser, kith.url, problems);
  const page = await context.newPage();
  const failures = [];
  for (const path of await publicAndAuthPages()) {
    await page.goto(path);
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      // Evaluated through the DevTools protocol, so the page's CSP (no inline script) stays in force.
      await page.evaluate(AXE_SOURCE);
      const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
      for (const v of result.violations.filter((v) => ['serious', 'critical'].includes(v.impact))) {
        failures.push(`${path} (${scheme}): ${v.id} ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
      }
    }
    await shoot(page, `page-${path === '/' ? 'home' : path.slice(1).replaceAll('/', '-')}`);
  }
  await context.close();
  assert.deepEqual(failures, []);
  noProblems();
});

test('keyboard: the skip link comes first, focus is visible, and it moves focus to the main content', async () => {
  const context = await watchedContext(browser, kith.url, problems, { viewport: { width: 360, height: 740 } });
  const page = await context.newPage();
  for (const path of ['/', '/login']) {
    await page.goto(path);
    await page.keyboard.press('Tab');
    const first = await page.evaluate(() => {
      const el = document.activeElement;
      const style = getComputedStyle(el);
      const box = el.getBoundingClientRect();
      return { text: el.textContent.trim(), outline: style.outlineStyle, width: style.outlineWidth, top: box.top };
    });
    assert.equal(first.text, 'Skip to content', path);
    assert.notEqual(first.outline, 'none', `${path}: the focused skip link shows an outline`);
    assert.ok(first.top >= 0, `${path}: the focused skip link is on screen`);
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'main', path);
    await page.keyboard.press('Tab');
    const next = await page.evaluate(() => {
      const el = document.activeElement;
      return { inMain: !!el.closest('main'), outline: getComputedStyle(el).outlineStyle };
    });
    assert.ok(next.inMain, `${path}: tabbing continues inside the main content`);
    assert.notEqual(next.outline, 'none', `${path}: focus is visible`);
  }
  const scrolls = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  assert.ok(scrolls, 'no horizontal scrolling at 360 px');
  await shoot(page, 'login-360px');
  await context.close();
  noProblems();
});
