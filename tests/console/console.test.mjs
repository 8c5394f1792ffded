// The web console in headless Chromium (Debian's), driven by playwright-core. Elements are found
// by role and label, as a screen reader or a keyboard user finds them. Run by tests/console.rs,
// which starts the gateway and the mock: FLINT_URL, FLINT_MOCK_URL, FLINT_ADMIN_TOKEN,
// FLINT_CHROMIUM, FLINT_SCREENSHOTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const URL = process.env.FLINT_URL;
const MOCK = process.env.FLINT_MOCK_URL;
const ADMIN_TOKEN = process.env.FLINT_ADMIN_TOKEN;
const SHOTS = process.env.FLINT_SCREENSHOTS;

let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.FLINT_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // Root (CI) can't use Chromium's sandbox.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
});

after(async () => {
  await browser?.close();
});

const unique = (prefix) => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/// A fresh browser profile with the clipboard allowed and page errors collected.
async function open({ width = 1280, height = 860 } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, locale: 'en-US' });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: URL });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  return { context, page, errors };
}

async function shot(page, name) {
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

const nav = (page, name) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
const heading = (page, name) => page.getByRole('heading', { name, exact: true, level: 1 }).waitFor();
const button = (page, name) => page.getByRole('button', { name, exact: true });

async function clipboard(page) {
  return page.evaluate(() => navigator.clipboard.readText());
}

async function withKey(key, path) {
  return fetch(`${URL}${path}`, { headers: { Authorization: `Bearer ${key}` } });
}

test('a new customer: sign up, allowance, key, streamed chat, top-up, usage, revoke, language', async () => {
  const { context, page, errors } = await open();
  const email = `${unique('console')}@example.com`;
  const password = 'a long enough password';

  await page.goto(`${URL}/`);
  await heading(page, 'Sign in');
  await shot(page, 'signin');

  // The API's own message, not a generic one.
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('not the password');
  await button(page, 'Sign in').click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  const message = (await alert.textContent()).trim();
  assert.ok(message.length > 10 && !/^HTTP/.test(message), `an API message: ${message}`);

  await page.getByRole('link', { name: 'No account yet? Create one' }).click();
  await heading(page, 'Create an account');
  // Google and Yandex are configured in the test gateway: their buttons are there.
  const google = await page.getByRole('button', { name: 'Continue with Google' }).getAttribute('href');
  assert.match(google, /^https:\/\/accounts\.google\.com\/o\/oauth2\/v2\/auth\?.*client_id=flint-e2e\.apps\.googleusercontent\.com/);
  assert.ok(google.includes(encodeURIComponent(`${URL}/`)), google);
  await page.getByRole('button', { name: 'Continue with Yandex' }).waitFor();
  await shot(page, 'signup');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await button(page, 'Create account').click();

  // The dashboard: balance, plan, the free allowance, headroom.
  await heading(page, 'Dashboard');
  await page.getByText('15 of 15', { exact: true }).waitFor();
  assert.equal(await page.getByTestId('balance').textContent(), '$0.00');
  await page.getByRole('article', { name: 'Requests per minute' }).getByText('20 of 20 left').waitFor();
  await page.getByRole('article', { name: 'Plan' }).getByText('free', { exact: true }).waitFor();
  await shot(page, 'dashboard');

  // The session is an HttpOnly cookie: no script on the page can read it.
  const cookies = await context.cookies(URL);
  const session = cookies.find((c) => c.name === 'flint_session');
  assert.ok(session, 'a session cookie');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.equal(await page.evaluate(() => document.cookie.includes('flint_session')), false);
  assert.equal(await page.evaluate((token) => JSON.stringify({ ...localStorage, ...sessionStorage }).includes(token), session.value), false);

  // An API key: created with a name, shown once, copied.
  await nav(page, 'API keys');
  await heading(page, 'API keys');
  await page.getByText('No keys yet.').waitFor();
  await page.getByLabel('Name', { exact: true }).fill('ci');
  await button(page, 'Create key').click();
  const shown = page.getByLabel('New API key');
  await shown.waitFor();
  const key = await shown.inputValue();
  assert.match(key, /^sk-/);
  await button(page, 'Copy key').click();
  await page.getByRole('button', { name: 'Copy key' }).getByText('Copied').waitFor();
  assert.equal(await clipboard(page), key);
  await page.getByRole('row', { name: /^ci / }).waitFor();
  assert.equal((await withKey(key, '/v1/models')).status, 200);
  await shot(page, 'keys');

  // A streamed chat in the playground, inside the free allowance.
  await nav(page, 'Playground');
  await heading(page, 'Playground');
  await page.getByLabel('Model').selectOption('gpt-4o-mini');
  await page.getByLabel('Message').fill('Hello from the console');
  await button(page, 'Send').click();
  await page.getByText(/^\d+ tokens in, \d+ out · free$/).waitFor();
  const answer = await page.locator('.msg.assistant').first().textContent();
  assert.ok(answer.replace(/^Assistant \(gpt-4o-mini\):/, '').trim().length > 0, answer);
  await nav(page, 'Dashboard');
  await page.getByText('14 of 15', { exact: true }).waitFor();

  // A top-up through the mock YooKassa: its confirmation page "pays" and sends us back.
  await nav(page, 'Billing');
  await heading(page, 'Billing');
  await page.getByText('No payments or charges yet.').waitFor();
  await page.getByRole('button', { name: 'Buy a month of Pro for 990 ₽' }).waitFor();
  await shot(page, 'billing-empty');
  await page.getByLabel('Amount').fill('10');
  await page.getByLabel('Currency').selectOption('USD');
  await button(page, 'Pay with YooKassa').click();
  await page.waitForURL(/#\/billing\/return$/);
  await heading(page, 'Payment');
  await page.getByText('Payment received: $10.00.').waitFor();
  await shot(page, 'billing-return');
  await page.getByRole('link', { name: 'Back to billing' }).click();
  await heading(page, 'Billing');
  assert.equal(await page.getByTestId('balance').textContent(), '$10.00');
  const row = page.getByRole('row').filter({ hasText: 'top-up' });
  await row.waitFor();
  assert.match(await row.textContent(), /\$10\.00.*\$10\.00.*yookassa:/);
  await shot(page, 'billing');

  // A paid model now: the turn shows what it cost.
  await nav(page, 'Playground');
  await page.getByLabel('Model').selectOption('gpt-4o');
  await page.getByLabel('Message').fill('And now a paid answer');
  await button(page, 'Send').click();
  const cost = page.getByText(/^\d+ tokens in, \d+ out · \$0\.\d+$/);
  await cost.waitFor();
  const charged = Number((await cost.textContent()).match(/\$([0-9.]+)$/)[1]);
  assert.ok(charged > 0, `charged ${charged}`);
  await page.getByText(/^This chat: \$0\.\d+$/).waitFor();
  await shot(page, 'playground');

  // Usage: the chart and the tables by model and by key.
  await nav(page, 'Usage');
  await heading(page, 'Usage');
  await page.getByRole('img', { name: 'Spend (USD) and tokens per day, last 7 days' }).waitFor();
  await page.getByRole('row', { name: /^gpt-4o-mini 1 / }).waitFor();
  await page.getByRole('row', { name: /^gpt-4o 1 / }).waitFor();
  await page.getByRole('row', { name: /^Console and session tokens 2 / }).waitFor();
  await page.getByLabel('Period').selectOption('30');
  await page.getByRole('img', { name: 'Spend (USD) and tokens per day, last 30 days' }).waitFor();
  await shot(page, 'usage');

  // The catalog: search, filters, prices, copy id.
  await nav(page, 'Models');
  await heading(page, 'Models');
  await page.getByLabel('Search models').fill('haiku');
  const haiku = page.getByRole('row', { name: /Claude Haiku 4\.5/ });
  await haiku.waitFor();
  // Prices per 1M (cache prices included) and the context length, as the catalog gives them.
  const catalog = (await (await fetch(`${URL}/api/models?company=anthropic`)).json()).models;
  const entry = catalog.find((m) => m.id === 'claude-haiku-4.5');
  const cells = await haiku.getByRole('cell').allTextContents();
  assert.ok(cells.includes(`$${entry.price_input.toFixed(2)}`), `${cells} has input ${entry.price_input}`);
  assert.ok(cells.includes(String(entry.context_length)), `${cells} has context ${entry.context_length}`);
  if (entry.price_cache_read != null) assert.ok(cells.some((c) => c === `$${entry.price_cache_read}` || c === `$${entry.price_cache_read.toFixed(2)}`), `${cells} has cache read ${entry.price_cache_read}`);
  assert.ok(!cells.some((c) => c.includes('NaN')), String(cells));
  await page.getByRole('button', { name: 'Copy id claude-haiku-4.5' }).click();
  assert.equal(await clipboard(page), 'claude-haiku-4.5');
  await page.getByLabel('Search models').fill('');
  await page.getByLabel('Tier').selectOption('premium');
  await page.getByRole('row', { name: /GPT-4o gpt-4o / }).waitFor();
  assert.equal(await page.getByRole('row', { name: /gpt-4o-mini/ }).count(), 0);
  await page.getByLabel('Tier').selectOption('');
  await page.getByLabel('Search models').fill('no such model at all');
  await page.getByText('No model matches.').waitFor();
  await page.getByLabel('Search models').fill('');
  await shot(page, 'models');

  // Quickstart with this gateway's base URL filled in.
  await nav(page, 'Quickstart');
  await heading(page, 'Quickstart');
  await page.getByText(`base_url="${URL}/v1"`).first().waitFor();
  await page.getByText(`export ANTHROPIC_BASE_URL=${URL}`).first().waitFor();
  await page.getByRole('button', { name: 'Copy the curl snippet' }).click();
  assert.ok((await clipboard(page)).startsWith(`curl ${URL}/v1/chat/completions`));
  await shot(page, 'quickstart');

  // Revoking the key: the API refuses it at once.
  await nav(page, 'API keys');
  page.once('dialog', (dialog) => dialog.accept());
  await button(page, 'Revoke ci').click();
  await page.getByText('Key “ci” revoked.').waitFor();
  await page.getByText('No keys yet.').waitFor();
  assert.equal((await withKey(key, '/v1/models')).status, 401);

  // Settings, then Russian, remembered across a reload.
  await nav(page, 'Settings');
  await heading(page, 'Settings');
  await page.getByText(email).waitFor();
  await shot(page, 'settings');
  await page.getByLabel('Language').selectOption('ru');
  await heading(page, 'Настройки');
  await page.getByRole('navigation', { name: 'Основное меню' }).getByRole('link', { name: 'Обзор' }).click();
  await heading(page, 'Обзор');
  await page.getByText('14 из 15', { exact: true }).waitFor();
  await page.reload();
  await heading(page, 'Обзор');
  assert.equal(await page.getByLabel('Язык').inputValue(), 'ru');
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'ru');
  await shot(page, 'dashboard-ru');
  await page.getByLabel('Язык').selectOption('en');
  await heading(page, 'Dashboard');

  // A phone-width screen: the menu folds, nothing scrolls sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole('button', { name: 'Menu' }).click();
  await nav(page, 'Billing');
  await heading(page, 'Billing');
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1));
  await shot(page, 'billing-phone');
  await page.getByRole('button', { name: 'Menu' }).click();
  await nav(page, 'Dashboard');
  await heading(page, 'Dashboard');
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1));
  await shot(page, 'dashboard-phone');
  await page.setViewportSize({ width: 1280, height: 860 });

  // A password change keeps this browser signed in (the new token replaces the cookie's).
  await nav(page, 'Settings');
  await page.getByLabel('Current password').fill(password);
  await page.getByLabel('New password').fill('another long password');
  await button(page, 'Change password').click();
  await page.getByText(/^Password changed\./).waitFor();
  await page.reload();
  await heading(page, 'Settings');

  // Signing out everywhere ends the session.
  await button(page, 'Sign out everywhere').click();
  await heading(page, 'Sign in');
  await page.goto(`${URL}/#/keys`);
  await heading(page, 'Sign in');

  assert.deepEqual(errors, []);
  await context.close();
});

test('the operator credits a user and sets a plan; the user sees both', async () => {
  const email = `${unique('credited')}@example.com`;
  const password = 'a long enough password';
  const registered = await fetch(`${URL}/api/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  assert.equal(registered.status, 200);
  const { user } = await registered.json();

  const customer = await open();
  await customer.page.goto(`${URL}/`);
  await customer.page.getByLabel('Email').fill(email);
  await customer.page.getByLabel('Password').fill(password);
  await button(customer.page, 'Sign in').click();
  await heading(customer.page, 'Dashboard');
  assert.equal(await customer.page.getByTestId('balance').textContent(), '$0.00');

  const operator = await open();
  const page = operator.page;
  await page.goto(`${URL}/#/admin`);
  await heading(page, 'Operator');
  // A wrong token: the API's refusal is shown.
  await page.getByLabel('Admin token').fill('x'.repeat(40));
  await page.getByLabel('User email').fill(email);
  await button(page, 'Search').click();
  await page.getByRole('alert').waitFor();
  await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
  await button(page, 'Search').click();
  const card = page.getByRole('article', { name: `User #${user.id}: ${email}` });
  await card.waitFor();
  await card.getByLabel('Amount, USD').fill('25');
  await card.getByLabel(/^Reference/).fill(unique('invoice'));
  await button(card, 'Credit').click();
  await card.getByText('Credited $25.00; balance $25.00.').waitFor();
  await card.getByTestId('admin-balance').getByText('$25.00').waitFor();
  await card.getByLabel('Plan', { exact: true }).selectOption('pro');
  await card.getByLabel('rpm', { exact: true }).fill('777');
  await button(card, 'Set plan').click();
  await card.getByText('Plan set to pro.').waitFor();
  await shot(page, 'admin');

  await customer.page.reload();
  await heading(customer.page, 'Dashboard');
  await customer.page.getByTestId('balance').getByText('$25.00').waitFor();
  await customer.page.getByRole('article', { name: 'Plan' }).getByText('pro', { exact: true }).waitFor();
  await customer.page.getByRole('article', { name: 'Requests per minute' }).getByText('777 of 777 left').waitFor();
  await nav(customer.page, 'Billing');
  await customer.page.getByRole('row').filter({ hasText: 'credit' }).waitFor();

  assert.deepEqual(customer.errors, []);
  assert.deepEqual(operator.errors, []);
  await customer.context.close();
  await operator.context.close();
});

test('sign-up with an email code, and sign-in with Yandex', async () => {
  const { context, page, errors } = await open();
  const email = `${unique('coded')}@example.com`;
  await page.goto(`${URL}/#/signup/code`);
  await heading(page, 'Sign up with an email code');
  await page.getByLabel('Email').fill(email);
  await button(page, 'Send code').click();
  await page.getByText(`We sent a 6-digit code to ${email}.`).waitFor();
  const mails = await (await fetch(`${MOCK}/__mock/requests?contains=${encodeURIComponent(email)}`)).json();
  const mail = mails.reverse().find((m) => m.path.endsWith('/emails'));
  const code = mail.body.text.match(/\b(\d{6})\b/)[1];
  await page.getByLabel('Code from the email').fill(code);
  await button(page, 'Verify').click();
  await page.getByLabel('Choose a password').fill('a long enough password');
  await button(page, 'Create account').click();
  await heading(page, 'Dashboard');
  await button(page, 'Sign out').click();
  await heading(page, 'Sign in');

  // Yandex: its authorize page is played by the test, which sends the browser back with a
  // code the mock Yandex exchanges for this person's profile.
  const yandexEmail = `${unique('ivan')}@yandex.ru`;
  await page.route('https://oauth.yandex.ru/**', (route) => {
    const asked = new globalThis.URL(route.request().url());
    assert.equal(asked.searchParams.get('client_id'), 'flint-e2e-yandex');
    const code = Buffer.from(JSON.stringify({ id: unique('y'), email: yandexEmail })).toString('base64url');
    route.fulfill({ status: 302, headers: { location: `${URL}/?code=${code}&state=${asked.searchParams.get('state')}` } });
  });
  await page.getByRole('button', { name: 'Continue with Yandex' }).click();
  await heading(page, 'Dashboard');
  await nav(page, 'Settings');
  await page.getByText(yandexEmail).waitFor();
  // A forged answer (a state this tab never sent) signs nobody in.
  await button(page, 'Sign out').click();
  await page.goto(`${URL}/?code=abc&state=yandex.0000`);
  await page.getByRole('alert').waitFor();

  assert.deepEqual(errors, []);
  await context.close();
});
