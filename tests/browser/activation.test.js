// The activation pages and the QA dashboard, driven in headless Chromium (Debian's, through
// playwright-core) with JavaScript turned off: everything must work as plain HTML forms.
//
// A small Node HTTP server plays the merchant: it receives the notifications (POST /notify) and is
// the redirect_url target (GET /done, a "thank you" page). The mock is started with its
// --notification-url pointing there.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const {
  startMerchant, merchantPage, startMock, openBrowser, stopAll, basicAuth, masked, shotPath,
} = require('./harness');

const SERVER_KEY = 'SB-Mid-server-BROWSER';
const MERCHANT_ID = 'G141532850';

let receiver; // { url, received: { '/notify': [...] }, server }
let mock; // { url, child }
let browser; // { context, close }

// --- helpers -------------------------------------------------------------------------------------

const auth = basicAuth(SERVER_KEY);

async function createAccount(phone) {
  const r = await fetch(`${mock.url}/v2/pay/account`, {
    method: 'POST',
    headers: { Authorization: auth, 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({
      payment_type: 'gopay',
      gopay_partner: { phone_number: phone, country_code: '62', redirect_url: `${receiver.url}/done` },
    }),
  });
  const body = await r.json();
  assert.equal(body.status_code, '201', JSON.stringify(body));
  const link = (name) => body.actions.find((a) => a.name === name).url;
  return { id: body.account_id, web: link('activation-link-url'), app: link('activation-link-app') };
}

async function getAccount(id) {
  const r = await fetch(`${mock.url}/v2/pay/account/${id}`, {
    headers: { Authorization: auth, Accept: 'application/json' },
  });
  return r.json();
}


function signature(accountId, status, code) {
  return crypto.createHash('sha512').update(accountId + status + code + SERVER_KEY).digest('hex');
}

/** Waits until `count` notifications about the account arrived, then a little longer for extras. */
async function notificationsFor(accountId, count, timeoutMs = 10000) {
  const mine = () => receiver.received['/notify'].filter((n) => n.body && n.body.account_id === accountId);
  const deadline = Date.now() + timeoutMs;
  while (mine().length < count && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 300));
  return mine();
}

async function dashboardRow(page, accountId) {
  const row = page.locator(`tr.account[data-account-id="${accountId}"]`);
  await row.waitFor();
  return row;
}

/** Reloads the dashboard until the account's notifications are all delivered. */
async function dashboardWithDelivered(page, accountId, count) {
  const deadline = Date.now() + 10000;
  for (;;) {
    await page.goto(`${mock.url}/__admin/`);
    const rows = page.locator('tr.notification', { hasText: accountId });
    const states = await rows.evaluateAll((els) => els.map((e) => e.dataset.state));
    if (states.length >= count && states.every((s) => s === 'delivered')) return rows;
    if (Date.now() > deadline) assert.fail(`notifications of ${accountId}: ${states}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// --- set-up and tear-down ------------------------------------------------------------------------

before(async () => {
  receiver = await startMerchant({
    posts: ['/notify'],
    pages: { '/done': merchantPage('Thank you, your GoPay account is linked.') },
  });
  mock = await startMock(['--notification-url', `${receiver.url}/notify`, '--merchant-id', MERCHANT_ID]);
  browser = await openBrowser();
});

after(() => stopAll({ browser, mock, merchant: receiver }));

// --- the tests -----------------------------------------------------------------------------------

test('web link: approve links the account, redirects to the merchant and notifies it', async () => {
  const phone = '81234567890';
  const account = await createAccount(phone);
  const page = await browser.context.newPage();

  await page.goto(account.web);
  const card = page.locator('main.card');
  await assert.doesNotReject(card.waitFor());
  const text = await card.innerText();
  assert.match(text, /Link your GoPay account/);
  assert.ok(text.includes(masked(phone)), text);
  assert.ok(text.includes(MERCHANT_ID), text);
  assert.ok(!text.includes(phone), 'the full number is hidden');
  await page.screenshot({ path: shotPath('activation-web.png') });

  await page.getByRole('button', { name: 'Approve' }).click();
  await page.waitForURL(`${receiver.url}/done`);
  assert.equal(new URL(page.url()).pathname, '/done');
  assert.match(await page.locator('h1').innerText(), /thank-you/);

  const got = await notificationsFor(account.id, 1);
  assert.equal(got.length, 1, JSON.stringify(got));
  const n = got[0].body;
  assert.equal(n.status_message, 'Midtrans account_linked notification');
  assert.equal(n.account_status, 'ENABLED');
  assert.equal(n.status_code, '200');
  assert.equal(n.merchant_id, MERCHANT_ID);
  assert.equal(n.payment_type, 'gopay');
  assert.equal(n.signature_key, signature(account.id, 'ENABLED', '200'));
  assert.match(got[0].headers['content-type'], /application\/json/);

  const linked = await getAccount(account.id);
  assert.equal(linked.account_status, 'ENABLED');
  assert.ok(linked.metadata.payment_options.length > 0);

  // The web link works once.
  const again = await page.goto(account.web);
  assert.equal(again.status(), 410);
  assert.match(await page.locator('main.card').innerText(), /already been used/);

  // The dashboard shows the account ENABLED and the notification delivered with an HTTP 200 attempt.
  const rows = await dashboardWithDelivered(page, account.id, 1);
  const row = await dashboardRow(page, account.id);
  assert.equal(await row.getAttribute('data-status'), 'ENABLED');
  assert.ok((await row.innerText()).includes(masked(phone)));
  assert.equal(await rows.count(), 1);
  const log = await rows.first().innerText();
  assert.match(log, /account_linked/);
  assert.match(log, /delivered/);
  assert.match(log, /HTTP 200/);
  assert.ok(log.includes(`${receiver.url}/notify`), log);
  await page.screenshot({ path: shotPath('dashboard.png'), fullPage: true });
  await page.close();
});

test('web link: Approve pressed twice ends on the merchant page, linked once', async () => {
  const account = await createAccount('81234567899');
  // A double click sends the form twice, and the browser shows the answer to the second press.
  // Two tabs with the page make the same two requests one after the other, deterministically.
  const first = await browser.context.newPage();
  const second = await browser.context.newPage();
  await first.goto(account.web);
  await second.goto(account.web);
  await first.getByRole('button', { name: 'Approve' }).click();
  await first.waitForURL(`${receiver.url}/done`);
  await second.getByRole('button', { name: 'Approve' }).click();
  await second.waitForURL(`${receiver.url}/done`);
  assert.match(await second.locator('h1').innerText(), /thank-you/);
  await second.screenshot({ path: shotPath('activation-approved-twice.png') });
  const got = await notificationsFor(account.id, 1);
  assert.equal(got.length, 1, JSON.stringify(got));
  assert.equal((await getAccount(account.id)).account_status, 'ENABLED');
  await first.close();
  await second.close();
});

test('app link: a wrong PIN is refused, 112233 links', async () => {
  const phone = '81234567891';
  const account = await createAccount(phone);
  const page = await browser.context.newPage();

  await page.goto(account.app);
  assert.ok((await page.locator('main.card').innerText()).includes(masked(phone)));
  await page.locator('#pin').fill('000000');
  await page.getByRole('button', { name: 'Link account' }).click();
  await page.locator('.error').waitFor();
  assert.match(await page.locator('.error').innerText(), /Wrong PIN/);
  assert.equal(page.url(), account.app);
  await page.screenshot({ path: shotPath('activation-app-wrong-pin.png') });
  assert.equal((await getAccount(account.id)).account_status, 'PENDING');
  assert.equal((await notificationsFor(account.id, 0, 0)).length, 0);

  await page.locator('#pin').fill('112233');
  await page.getByRole('button', { name: 'Link account' }).click();
  await page.waitForURL(`${receiver.url}/done`);
  assert.equal((await getAccount(account.id)).account_status, 'ENABLED');
  const got = await notificationsFor(account.id, 1);
  assert.equal(got.length, 1);
  assert.equal(got[0].body.signature_key, signature(account.id, 'ENABLED', '200'));
  await page.close();
});

test('dashboard buttons move accounts and send the notifications', async () => {
  const phone = '81234567892';
  const account = await createAccount(phone);
  const page = await browser.context.newPage();
  await page.goto(`${mock.url}/__admin/`);

  let row = await dashboardRow(page, account.id);
  assert.equal(await row.getAttribute('data-status'), 'PENDING');
  await row.getByRole('button', { name: 'Link' }).click();
  await page.waitForURL(`${mock.url}/__admin/`);
  row = await dashboardRow(page, account.id);
  assert.equal(await row.getAttribute('data-status'), 'ENABLED');

  // Unbind and Unlink both end in DISABLED; the buttons say who does it.
  assert.equal(await row.getByRole('button', { name: 'Unbind (merchant)' }).count(), 1);
  await row.getByRole('button', { name: 'Unlink in app (customer)' }).click();
  await page.waitForURL(`${mock.url}/__admin/`);
  row = await dashboardRow(page, account.id);
  assert.equal(await row.getAttribute('data-status'), 'DISABLED');
  assert.equal((await getAccount(account.id)).account_status, 'DISABLED');

  const got = await notificationsFor(account.id, 2);
  assert.deepEqual(got.map((n) => n.body.status_message), [
    'Midtrans account_linked notification',
    'Midtrans account_unlinked notification',
  ]);
  assert.equal(got[1].body.signature_key, signature(account.id, 'DISABLED', '204'));

  // A delivered notification offers no Retry.
  const rows = await dashboardWithDelivered(page, account.id, 2);
  assert.equal(await rows.getByRole('button', { name: 'Retry' }).count(), 0);

  // One that did not arrive (the merchant answered 404) offers Retry once there is a URL to send to.
  const config = (body) => fetch(`${mock.url}/__admin/config`, {
    method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  const missed = await createAccount('81234567893');
  await config({ notification_url: `${receiver.url}/missing` });
  await fetch(`${mock.url}/__admin/accounts/${missed.id}/link`, { method: 'POST' });
  await config({ notification_url: null });
  await page.goto(`${mock.url}/__admin/`);
  let failed = page.locator('tr.notification', { hasText: missed.id });
  assert.notEqual(await failed.getAttribute('data-state'), 'delivered');
  assert.equal(await failed.getByRole('button', { name: 'Retry' }).count(), 0);
  assert.match(await failed.innerText(), /no notification URL set/);
  await config({ notification_url: `${receiver.url}/notify` });
  await page.goto(`${mock.url}/__admin/`);
  failed = page.locator('tr.notification', { hasText: missed.id });
  await failed.getByRole('button', { name: 'Retry' }).click();
  await page.waitForURL(`${mock.url}/__admin/`);
  assert.equal((await notificationsFor(missed.id, 1)).length, 1);
  await dashboardWithDelivered(page, missed.id, 1);
  await page.screenshot({ path: shotPath('dashboard-after-actions.png'), fullPage: true });
  await page.close();
});

test('dashboard: the create form makes an account and its web link approves it', async () => {
  const page = await browser.context.newPage();
  await page.goto(`${mock.url}/__admin/`);
  const form = page.locator('form.create');
  // Closed once the server has accounts of its own: open it as a tester would.
  if (!(await form.isVisible())) await page.locator('details.create summary').click();
  await form.locator('input[name=server_key]').fill(SERVER_KEY);
  await form.locator('input[name=phone_number]').fill('81234567894');
  await form.locator('input[name=redirect_url]').fill(`${receiver.url}/done`);
  await page.screenshot({ path: shotPath('dashboard-create-form.png') });
  await form.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(/created=/);
  const notice = page.locator('section.created');
  const id = await notice.getAttribute('data-account-id');
  assert.equal((await getAccount(id)).account_status, 'PENDING');
  await page.screenshot({ path: shotPath('dashboard-created.png'), fullPage: true });

  await notice.locator('a.created-web').click();
  await page.getByRole('button', { name: 'Approve' }).click();
  await page.waitForURL(`${receiver.url}/done`);
  assert.equal((await getAccount(id)).account_status, 'ENABLED');
  assert.equal((await notificationsFor(id, 1)).length, 1);
  await page.close();
});

test('dashboard: the clock and config forms change the server, the reset asks first and resets one key', async () => {
  const page = await browser.context.newPage();
  await page.goto(`${mock.url}/__admin/?server_key=${SERVER_KEY}`);
  await page.locator('form.clock input[name=by]').fill('90s');
  await page.locator('form.clock').getByRole('button', { name: 'Advance' }).click();
  await page.waitForURL(/server_key=/);
  assert.match(await page.locator('.panel').first().innerText(), /advanced by 1m 30s/);

  // The config form: a per-key URL and the merchant id, then back as they were.
  await page.locator('details.config summary').click();
  const config = page.locator('form.config');
  await config.locator('input[name=key_url]').fill(`${receiver.url}/per-key`);
  await config.locator('input[name=merchant_id]').fill('M-BROWSER');
  await page.screenshot({ path: shotPath('dashboard-config-form.png') });
  await config.getByRole('button', { name: 'Save config' }).click();
  await page.waitForURL(/server_key=/);
  let settings = await fetch(`${mock.url}/__admin/config`).then((r) => r.json());
  assert.equal(settings.notification_urls[SERVER_KEY], `${receiver.url}/per-key`);
  assert.equal(settings.merchant_id, 'M-BROWSER');
  assert.equal(settings.notification_url, `${receiver.url}/notify`, 'the other fields kept their values');
  await page.locator('details.config summary').click();
  await config.locator('input[name=merchant_id]').fill(MERCHANT_ID);
  await config.getByRole('button', { name: 'Save config' }).click();
  await page.waitForURL(/server_key=/);
  settings = await fetch(`${mock.url}/__admin/config`).then((r) => r.json());
  assert.equal(settings.merchant_id, MERCHANT_ID);

  await page.locator('form.reset').getByRole('button', { name: `Reset key ${SERVER_KEY}…` }).click();
  const confirm = page.locator('section.confirm');
  assert.match(await confirm.innerText(), /Every account, transaction, notification/);
  await page.screenshot({ path: shotPath('dashboard-reset-confirm.png') });
  const before = await fetch(`${mock.url}/__admin/accounts?server_key=${SERVER_KEY}`).then((r) => r.json());
  assert.ok(before.accounts.length > 0, 'the confirmation page changed nothing');
  await confirm.getByRole('button', { name: 'Yes, reset' }).click();
  await page.waitForURL(/server_key=/);
  const after = await fetch(`${mock.url}/__admin/accounts?server_key=${SERVER_KEY}`).then((r) => r.json());
  assert.equal(after.accounts.length, 0);
  await page.screenshot({ path: shotPath('dashboard-after-reset.png'), fullPage: true });
  await page.close();
});
