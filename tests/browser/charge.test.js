// GoPay charges in headless Chromium (Debian's, through playwright-core) with JavaScript turned off:
// the customer's PIN page (a pending charge's verification-link-url) and the QA dashboard's
// transaction buttons must work as plain HTML forms.
//
// A small Node HTTP server plays the merchant: it receives the payment notifications (POST /pay, the
// mock's --payment-notification-url) and the account linking ones (POST /notify, kept apart, so a
// payment notification sent to the wrong URL would show), and it is the charges' callback_url
// (GET /paid, a "thank you" page) and the accounts' redirect_url (GET /done).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const {
  startMerchant, merchantPage, startMock, openBrowser, stopAll, basicAuth, masked, shotPath,
} = require('./harness');

const SERVER_KEY = 'SB-Mid-server-BROWSER-CHARGE';
const MERCHANT_ID = 'M141532850'; // account linking notifications
const GOPAY_MERCHANT_ID = 'G141532850'; // GoPay transactions: answers, PIN page, payment notifications
const SANDBOX_PIN = '112233';

let receiver; // { url, received: { '/pay': [...], '/notify': [...] }, visits, server }
let mock; // { url, child }
let browser; // { context, close }

// --- helpers -------------------------------------------------------------------------------------

const auth = basicAuth(SERVER_KEY);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function api(method, pathAndQuery, body) {
  const r = await fetch(`${mock.url}${pathAndQuery}`, {
    method,
    headers: {
      Authorization: auth,
      Accept: 'application/json',
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

/** The control API (no Midtrans authentication). */
async function control(method, pathAndQuery) {
  const r = await fetch(`${mock.url}/__admin${pathAndQuery}`, { method, headers: { Accept: 'application/json' } });
  const body = await r.json();
  assert.ok(r.ok, `${method} /__admin${pathAndQuery}: HTTP ${r.status} ${JSON.stringify(body)}`);
  return body;
}

/** Creates an account, links it through the control API and returns its id and payment options. */
async function linkedAccount(phone) {
  const created = await api('POST', '/v2/pay/account', {
    payment_type: 'gopay',
    gopay_partner: { phone_number: phone, country_code: '62', redirect_url: `${receiver.url}/done` },
  });
  assert.equal(created.body.status_code, '201', JSON.stringify(created.body));
  const id = created.body.account_id;
  await control('POST', `/accounts/${id}/link?wait=false`);
  const got = await api('GET', `/v2/pay/account/${id}`);
  assert.equal(got.body.account_status, 'ENABLED', JSON.stringify(got.body));
  const options = Object.fromEntries(got.body.metadata.payment_options.map((o) => [o.name, o]));
  assert.equal(options.GOPAY_WALLET.balance.value, '1000000.00');
  assert.ok(options.GOPAY_WALLET.token && options.PAY_LATER.token, JSON.stringify(options));
  return { id, options };
}

async function balances(accountId) {
  const got = await api('GET', `/v2/pay/account/${accountId}`);
  return Object.fromEntries(got.body.metadata.payment_options.map((o) => [o.name, o.balance.value]));
}

/** A charge from the PIN threshold up: pending, with the two verification links. */
async function pendingCharge(accountId, token, orderId, grossAmount) {
  const r = await api('POST', '/v2/charge', {
    payment_type: 'gopay',
    gopay: { account_id: accountId, payment_option_token: token, callback_url: `${receiver.url}/paid` },
    transaction_details: { order_id: orderId, gross_amount: grossAmount },
  });
  assert.equal(r.status, 200);
  const c = r.body;
  assert.equal(c.status_code, '201', JSON.stringify(c));
  assert.equal(c.transaction_status, 'pending');
  assert.equal(c.merchant_id, GOPAY_MERCHANT_ID);
  const link = (name) => c.actions.find((a) => a.name === name).url;
  const web = link('verification-link-url');
  const app = link('verification-link-app');
  assert.match(web, /\/v2\/gopay\/redirect\/gppr_[0-9a-f-]{36}\/charge$/);
  assert.match(app, /\/v2\/gopay\/redirect\/gppd_[0-9a-f-]{36}\/charge$/);
  return { ...c, web, app };
}

async function transactionStatus(orderId) {
  return (await api('GET', `/v2/${orderId}/status`)).body;
}


function signature(orderId, statusCode, grossAmount) {
  return crypto.createHash('sha512').update(orderId + statusCode + grossAmount + SERVER_KEY).digest('hex');
}

/** Polls `fn` until it returns something truthy, for at most `timeoutMs`. */
async function until(what, fn, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const paymentsFor = (orderId) => receiver.received['/pay'].filter((n) => n.body && n.body.order_id === orderId);

/**
 * Waits for the receiver to have got the order's notification with this transaction_status, then
 * for the mock's log to show every payment notification of the order delivered, and returns what
 * the receiver got: as many as the log holds (no duplicates, nothing lost), and no sleeping.
 */
async function paymentNotifications(orderId, transactionStatus) {
  await until(`the ${transactionStatus} notification of ${orderId}`,
    () => paymentsFor(orderId).some((n) => n.body.transaction_status === transactionStatus));
  const logged = await until(`the notifications of ${orderId} delivered`, async () => {
    const page = await control('GET', `/notifications?event=payment&order_id=${orderId}`);
    const all = page.notifications;
    return all.length > 0 && all.every((n) => n.state === 'delivered') && all;
  });
  const got = paymentsFor(orderId);
  assert.equal(got.length, logged.length,
    `the receiver got ${got.length} notifications of ${orderId}, the log holds ${logged.length}`);
  return got;
}

/** Checks one payment notification as a merchant's handler would: signature, key order, fields. */
function checkPaymentNotification(n, { orderId, grossAmount, transactionStatus, statusCode, option }) {
  const b = n.body;
  assert.ok(b, `not JSON: ${n.raw}`);
  assert.equal(b.order_id, orderId);
  assert.equal(b.transaction_status, transactionStatus);
  assert.equal(b.status_code, statusCode);
  assert.equal(b.gross_amount, grossAmount);
  assert.equal(b.currency, 'IDR');
  assert.equal(b.payment_type, 'gopay');
  assert.equal(b.merchant_id, GOPAY_MERCHANT_ID);
  assert.equal(b.status_message, 'midtrans payment notification');
  // (A pending notification carries no payment_option_type; the others name the option charged.)
  if (option) assert.equal(b.payment_option_type, option);
  // SHA-512 of order_id + status_code + gross_amount + server key, lowercase hex.
  assert.match(b.signature_key, /^[0-9a-f]{128}$/);
  assert.equal(b.signature_key, signature(b.order_id, b.status_code, b.gross_amount));
  // Keys in descending order, as in Midtrans' transaction notifications (checked on the raw text,
  // not only on the parsed object).
  const keys = Object.keys(b);
  assert.deepEqual(keys, [...keys].sort().reverse(), `key order: ${keys.join(', ')}`);
  const rawKeys = [...n.raw.matchAll(/"([a-z_]+)"\s*:/g)].map((m) => m[1]).filter((k) => keys.includes(k));
  assert.deepEqual(rawKeys.slice(0, keys.length), keys);
  assert.match(n.headers['content-type'], /application\/json/);
  assert.equal(n.headers['user-agent'], 'Veritrans');
}

const dashboardUrl = () => `${mock.url}/__admin/?server_key=${encodeURIComponent(SERVER_KEY)}`;

async function transactionRow(page, orderId) {
  const row = page.locator(`tr.transaction[data-order-id="${orderId}"]`);
  await row.waitFor();
  assert.equal(await row.count(), 1);
  return row;
}

/**
 * Presses a dashboard form button (with JavaScript off: a real form submit) and waits for the page
 * the 303 leads back to.
 */
async function press(page, button, action) {
  const [landed] = await Promise.all([
    page.waitForResponse((r) => {
      const from = r.request().redirectedFrom();
      return r.request().method() === 'GET' && from !== null
        && from.method() === 'POST' && from.url().endsWith(`/${action}`);
    }),
    button.click(),
  ]);
  const post = await landed.request().redirectedFrom().response();
  assert.equal(post.status(), 303);
  assert.equal(landed.status(), 200);
  assert.equal(landed.url(), dashboardUrl(), 'back on the same (filtered) dashboard');
  await page.waitForLoadState('load');
}

/** Submits the PIN form and returns the response the form's POST got (after no redirect). */
async function submitPin(page, pin, url) {
  await page.locator('input[name=pin]').fill(pin);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url() === url),
    page.getByRole('button', { name: 'Pay' }).click(),
  ]);
  return response;
}

// --- set-up and tear-down ------------------------------------------------------------------------

before(async () => {
  receiver = await startMerchant({
    posts: ['/pay', '/notify'],
    pages: {
      '/paid': merchantPage('Thank you for your payment.'),
      '/done': merchantPage('Thank you, your GoPay account is linked.'),
    },
  });
  mock = await startMock([
    '--notification-url', `${receiver.url}/notify`,
    '--payment-notification-url', `${receiver.url}/pay`,
    '--merchant-id', MERCHANT_ID,
    '--gopay-merchant-id', GOPAY_MERCHANT_ID,
    '--retry-schedule', '100ms',
  ]);
  browser = await openBrowser();
});

after(() => stopAll({ browser, mock, merchant: receiver }));

// --- the tests -----------------------------------------------------------------------------------

test('PIN page: a wrong PIN is refused, 112233 settles, redirects to the merchant and notifies it', async () => {
  const phone = '81234567810';
  const account = await linkedAccount(phone);
  const orderId = 'browser-1';
  const charge = await pendingCharge(account.id, account.options.GOPAY_WALLET.token, orderId, 150000);
  assert.equal(charge.gross_amount, '150000.00');
  const page = await browser.context.newPage();

  // The PIN page: merchant, amount, masked phone, payment option, order, and the PIN field.
  // Opening it twice does not use the one-time web link up (prefetches must not).
  for (let i = 0; i < 2; i += 1) {
    const shown = await page.goto(charge.web);
    assert.equal(shown.status(), 200);
  }
  const card = page.locator('main.card');
  await card.waitFor();
  assert.match(await page.locator('h1').innerText(), /Pay with GoPay/);
  assert.equal(await card.locator('dd.merchant').innerText(), GOPAY_MERCHANT_ID);
  assert.equal(await card.locator('dd.amount').innerText(), 'IDR 150000.00');
  assert.equal(await card.locator('dd.phone').innerText(), masked(phone));
  assert.equal(await card.locator('dd.option').innerText(), 'GOPAY_WALLET');
  assert.equal(await card.locator('dd.order').innerText(), orderId);
  assert.ok(!(await card.innerText()).includes(phone), 'the full number is hidden');
  const pin = page.locator('input[name=pin]');
  assert.equal(await pin.getAttribute('type'), 'password');
  assert.ok(await pin.isVisible());
  assert.ok(await page.getByRole('button', { name: 'Pay' }).isVisible());
  await page.screenshot({ path: shotPath('charge-pin-page.png') });

  // A wrong PIN: 422, the error on the same page, nothing changed.
  const wrong = await submitPin(page, '000000', charge.web);
  assert.equal(wrong.status(), 422);
  assert.equal(page.url(), charge.web);
  const error = page.locator('.error');
  await error.waitFor();
  assert.equal(await error.innerText(), 'Wrong PIN. In the sandbox the PIN is 112233.');
  assert.ok(await error.isVisible());
  assert.equal(await card.locator('dd.amount').innerText(), 'IDR 150000.00', 'the page still shows the charge');
  await page.screenshot({ path: shotPath('charge-wrong-pin.png') });
  assert.equal((await transactionStatus(orderId)).transaction_status, 'pending');
  assert.deepEqual(await balances(account.id), { GOPAY_WALLET: '1000000.00', PAY_LATER: '350000.00' });

  // The right PIN: 303 to the callback_url, the merchant's thank-you page.
  const [landed] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/paid'
      && r.url().startsWith(receiver.url)),
    (async () => {
      await pin.fill(SANDBOX_PIN);
      await page.getByRole('button', { name: 'Pay' }).click();
    })(),
  ]);
  const post = landed.request().redirectedFrom();
  assert.ok(post, 'the merchant page was reached through a redirect');
  assert.equal(post.method(), 'POST');
  assert.equal(post.url(), charge.web);
  assert.equal((await post.response()).status(), 303);
  await page.waitForURL((u) => u.href.startsWith(`${receiver.url}/paid`));
  assert.match(await page.locator('h1').innerText(), /thank-you/);
  assert.deepEqual(receiver.visits.filter((v) => v.startsWith('/paid')), ['/paid']);

  // Settled and debited.
  const status = await transactionStatus(orderId);
  assert.equal(status.transaction_status, 'settlement');
  assert.equal(status.status_code, '200');
  assert.equal(status.signature_key, signature(orderId, '200', '150000.00'));
  assert.deepEqual(await balances(account.id), { GOPAY_WALLET: '850000.00', PAY_LATER: '350000.00' });

  // The merchant got "pending" (at the charge), then "settlement", both signed, keys descending.
  const got = await paymentNotifications(orderId, 'settlement');
  assert.deepEqual(got.map((n) => n.body.transaction_status), ['pending', 'settlement']);
  checkPaymentNotification(got[0], {
    orderId, grossAmount: '150000.00', transactionStatus: 'pending', statusCode: '201',
  });
  checkPaymentNotification(got[1], {
    orderId, grossAmount: '150000.00', transactionStatus: 'settlement', statusCode: '200', option: 'GOPAY_WALLET',
  });
  assert.equal(got[1].body.transaction_id, charge.transaction_id);
  assert.ok(got[1].body.settlement_time, JSON.stringify(got[1].body));
  assert.equal(receiver.received['/notify'].filter((n) => n.body && n.body.order_id).length, 0,
    'no payment notification went to the account linking URL');

  // The web link works once: opened again, it says so (410). The app link says the payment is closed.
  const again = await page.goto(charge.web);
  assert.equal(again.status(), 410);
  assert.match(await page.locator('main.card h1').innerText(), /Link already used/);
  await page.screenshot({ path: shotPath('charge-link-used.png') });
  const app = await page.goto(charge.app);
  assert.equal(app.status(), 410);
  assert.match(await page.locator('main.card').innerText(), /Payment closed[\s\S]*settlement/);
  assert.equal(await page.locator('input[name=pin]').count(), 0);

  // The dashboard (this merchant's view): the balance went down, the transaction is settled.
  await page.goto(dashboardUrl());
  const accountRow = page.locator(`tr.account[data-account-id="${account.id}"]`);
  await accountRow.waitFor();
  const cell = await accountRow.locator('td.balances').innerText();
  assert.match(cell, /GOPAY_WALLET:\s+IDR 850000\.00/);
  assert.match(cell, /PAY_LATER:\s+IDR 350000\.00/);
  const row = await transactionRow(page, orderId);
  assert.equal(await row.getAttribute('data-status'), 'settlement');
  assert.equal(await row.getAttribute('data-transaction-id'), charge.transaction_id);
  const rowText = await row.innerText();
  assert.match(rowText, /IDR 150000\.00/);
  assert.match(rowText, /GOPAY_WALLET/);
  assert.match(rowText, /final/);
  assert.equal(await row.locator('button').count(), 0, 'a settled transaction has no buttons');
  const logRows = page.locator('tr.notification', { hasText: orderId });
  assert.equal(await logRows.count(), 2);
  assert.deepEqual(await logRows.evaluateAll((els) => els.map((e) => e.dataset.state)),
    ['delivered', 'delivered']);
  assert.ok((await logRows.first().innerText()).includes(`${receiver.url}/pay`));
  await page.screenshot({ path: shotPath('charge-dashboard.png'), fullPage: true });

  // The unfiltered dashboard shows the same.
  await page.goto(`${mock.url}/__admin/`);
  assert.equal(await (await transactionRow(page, orderId)).getAttribute('data-status'), 'settlement');
  assert.match(await page.locator(`tr.account[data-account-id="${account.id}"] td.balances`).innerText(),
    /GOPAY_WALLET:\s+IDR 850000\.00/);
  await page.close();
});

test('dashboard: "Pay (PIN)" settles one pending charge, "Expire" expires another', async () => {
  const account = await linkedAccount('81234567811');
  const paid = await pendingCharge(account.id, account.options.GOPAY_WALLET.token, 'browser-2', 200000);
  const expired = await pendingCharge(account.id, account.options.PAY_LATER.token, 'browser-3', 120000);
  const page = await browser.context.newPage();
  await page.goto(dashboardUrl());

  // Both pending, each with its PIN links and the three buttons.
  for (const c of [paid, expired]) {
    const row = await transactionRow(page, c.order_id);
    assert.equal(await row.getAttribute('data-status'), 'pending');
    for (const name of ['Pay (PIN)', 'Deny', 'Expire']) {
      assert.ok(await row.getByRole('button', { name, exact: true }).isVisible(), `${c.order_id}: ${name}`);
    }
    assert.equal(await row.locator('td.links a').first().getAttribute('href'), c.web);
  }
  const before = await page.locator(`tr.account[data-account-id="${account.id}"] td.balances`).innerText();
  assert.match(before, /GOPAY_WALLET:\s+IDR 1000000\.00/);
  assert.match(before, /PAY_LATER:\s+IDR 350000\.00/);
  await page.screenshot({ path: shotPath('charge-dashboard-pending.png'), fullPage: true });

  await press(page, (await transactionRow(page, 'browser-2')).getByRole('button', { name: 'Pay (PIN)' }), 'settle');
  let row = await transactionRow(page, 'browser-2');
  assert.equal(await row.getAttribute('data-status'), 'settlement');
  assert.equal(await (await transactionRow(page, 'browser-3')).getAttribute('data-status'), 'pending');

  await press(page, (await transactionRow(page, 'browser-3')).getByRole('button', { name: 'Expire' }), 'expire');
  row = await transactionRow(page, 'browser-3');
  assert.equal(await row.getAttribute('data-status'), 'expire');
  assert.equal(await (await transactionRow(page, 'browser-2')).getAttribute('data-status'), 'settlement');
  for (const orderId of ['browser-2', 'browser-3']) {
    const r = await transactionRow(page, orderId);
    assert.match(await r.locator('td.actions').innerText(), /final/);
    assert.equal(await r.locator('button').count(), 0);
  }

  // The API agrees: browser-2 debited the wallet, browser-3 took nothing from PAY_LATER.
  assert.equal((await transactionStatus('browser-2')).transaction_status, 'settlement');
  assert.equal((await transactionStatus('browser-3')).transaction_status, 'expire');
  assert.deepEqual(await balances(account.id), { GOPAY_WALLET: '800000.00', PAY_LATER: '350000.00' });

  // The merchant was told, signed.
  const settled = await paymentNotifications('browser-2', 'settlement');
  assert.deepEqual(settled.map((n) => n.body.transaction_status), ['pending', 'settlement']);
  checkPaymentNotification(settled[1], {
    orderId: 'browser-2', grossAmount: '200000.00', transactionStatus: 'settlement', statusCode: '200', option: 'GOPAY_WALLET',
  });
  const lapsed = await paymentNotifications('browser-3', 'expire');
  assert.deepEqual(lapsed.map((n) => n.body.transaction_status), ['pending', 'expire']);
  checkPaymentNotification(lapsed[1], {
    orderId: 'browser-3', grossAmount: '120000.00', transactionStatus: 'expire', statusCode: '202', option: 'PAY_LATER',
  });

  // The expired charge's PIN page no longer takes a PIN.
  const closed = await page.goto(expired.app);
  assert.equal(closed.status(), 410);
  assert.match(await page.locator('main.card').innerText(), /Payment closed[\s\S]*expire/);

  await page.goto(dashboardUrl());
  const after = await page.locator(`tr.account[data-account-id="${account.id}"] td.balances`).innerText();
  assert.match(after, /GOPAY_WALLET:\s+IDR 800000\.00/);
  assert.match(after, /PAY_LATER:\s+IDR 350000\.00/);
  await page.screenshot({ path: shotPath('charge-dashboard-after-buttons.png'), fullPage: true });
  await page.close();
});
