// The dashboard's account and notification pages, a QA day carried across a restart with a state
// file, the layouts at 1280 px and on a phone, and a cross-origin form refused: headless Chromium
// with JavaScript off, as the other browser suites.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  startMerchant, merchantPage, startMock, openBrowser, stopAll, shotPath,
} = require('./harness');

const SERVER_KEY = 'SB-Mid-server-QADAY';

let receiver; // the merchant: notifications at /notify, pages at /done and /evil
let mock; // { url, child }
let browser; // { context, close }
let stateDir;
let mockArgs;

const pages = { '/done': merchantPage('Thank you, your GoPay account is linked.') };

before(async () => {
  receiver = await startMerchant({ posts: ['/notify'], pages });
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pay-account-mock-qa-'));
  mockArgs = [
    '--notification-url', `${receiver.url}/notify`,
    '--state-file', path.join(stateDir, 'qa.json'),
    '--state-save-interval', '100ms',
  ];
  mock = await startMock(mockArgs);
  browser = await openBrowser();
});

after(async () => {
  await stopAll({ browser, mock, merchant: receiver });
  fs.rmSync(stateDir, { recursive: true, force: true });
});

/** Stops the mock as `docker stop` would and starts it again on the same state file. */
async function restart() {
  const exited = new Promise((resolve) => mock.child.once('exit', (code, signal) => resolve({ code, signal })));
  mock.child.kill('SIGTERM');
  const { code, signal } = await exited;
  assert.equal(code, 0, `exit ${code} ${signal}`);
  mock = await startMock(mockArgs);
}

function linkingSignature(body) {
  return crypto.createHash('sha512')
    .update(body.account_id + body.account_status + body.status_code + SERVER_KEY).digest('hex');
}

async function waitFor(what, check, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether anything on the page reaches past the right edge of a `width`-px viewport. */
async function overflows(page, width) {
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  return wide > width;
}

let accountId;

test('a QA day from the dashboard alone: create, approve, change a balance, read the notification, restart, carry on', async () => {
  const page = await browser.context.newPage();
  await page.goto(`${mock.url}/__admin/`);
  const form = page.locator('form.create');
  if (!(await form.isVisible())) await page.locator('details.create summary').click();
  await form.locator('input[name=server_key]').fill(SERVER_KEY);
  await form.locator('input[name=phone_number]').fill('81234567811');
  await form.locator('input[name=redirect_url]').fill(`${receiver.url}/done`);
  await form.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(/created=/);
  accountId = await page.locator('section.created').getAttribute('data-account-id');
  await page.locator('section.created a.created-web').click();
  await page.getByRole('button', { name: 'Approve' }).click();
  await page.waitForURL(`${receiver.url}/done`);
  const sent = await waitFor('account_linked', () => receiver.received['/notify'].find(
    (n) => n.body && n.body.account_id === accountId));

  // The account's id in the list opens its page.
  await page.goto(`${mock.url}/__admin/?server_key=${SERVER_KEY}`);
  await page.locator(`tr.account[data-account-id="${accountId}"] a.id`).click();
  await page.waitForURL(/\/__admin\/ui\/accounts\//);
  const getBody = JSON.parse(await page.locator('#get-body').innerText());
  assert.equal(getBody.account_status, 'ENABLED');
  assert.equal(getBody.account_id, accountId);
  const option = getBody.metadata.payment_options[0].name;

  // Change a balance from the page; the merchant's GET sees it.
  const row = page.locator(`table.options tr[data-option="${option}"]`);
  await row.locator('input[name=balance]').fill('4321.00');
  await row.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(/\/__admin\/ui\/accounts\//);
  const afterSave = JSON.parse(await page.locator('#get-body').innerText());
  assert.equal(afterSave.metadata.payment_options[0].balance.value, '4321.00');
  await page.screenshot({ path: shotPath('account-page.png'), fullPage: true });

  // Its notification: the exact payload the merchant got, the signature the merchant checks.
  await waitFor('a delivered row', async () => {
    await page.reload();
    return (await page.locator('tr.notification[data-state="delivered"]').count()) > 0;
  });
  await page.locator('tr.notification a.id').first().click();
  await page.waitForURL(/\/__admin\/ui\/notifications\//);
  assert.equal(await page.locator('pre.payload.exact').innerText(), sent.raw);
  assert.match(await page.locator('pre.http').innerText(), /^User-Agent: Veritrans$/m);
  const signatureKey = linkingSignature(sent.body);
  assert.equal(sent.body.signature_key, signatureKey, 'the merchant would accept it');
  assert.ok((await page.content()).includes(signatureKey));
  assert.match(await page.locator('body').innerText(), /matches/);
  assert.equal(await page.getByRole('button', { name: 'Retry now' }).count(), 0, 'delivered: no retry');
  await page.screenshot({ path: shotPath('notification-page.png'), fullPage: true });
  const notificationPath = new URL(page.url()).pathname;

  // A restart (SIGTERM, start again on the same file): everything is where it was.
  await restart();
  await page.goto(`${mock.url}/__admin/ui/accounts/${accountId}`);
  const restored = JSON.parse(await page.locator('#get-body').innerText());
  assert.deepEqual(restored, afterSave);
  await page.goto(`${mock.url}${notificationPath}`);
  assert.equal(await page.locator('pre.payload.exact').innerText(), sent.raw);
  // The config form's newer fields: the key's own payment URL, the PIN threshold, a charge TTL.
  await page.goto(`${mock.url}/__admin/?server_key=${SERVER_KEY}`);
  await page.locator('details.config summary').click();
  const config = page.locator('form.config');
  await config.locator('input[name=key_payment_url]').fill(`${receiver.url}/notify`);
  await config.locator('input[name=pin_threshold]').fill('50000');
  await config.locator('input[name=transaction_ttl]').fill('30m');
  await config.getByRole('button', { name: 'Save config' }).click();
  await page.waitForURL(/server_key=/);
  const settings = await fetch(`${mock.url}/__admin/config`).then((r) => r.json());
  assert.equal(settings.payment_notification_urls[SERVER_KEY], `${receiver.url}/notify`);
  assert.equal(settings.pin_threshold, '50000.00');
  assert.equal(settings.transaction_ttl, '30m');
  // And the day goes on: Unbind from the account page, which comes back to it.
  await page.goto(`${mock.url}/__admin/ui/accounts/${accountId}`);
  await page.getByRole('button', { name: 'Unbind (merchant)' }).click();
  await page.waitForURL(/\/__admin\/ui\/accounts\//);
  assert.equal(JSON.parse(await page.locator('#get-body').innerText()).account_status, 'DISABLED');
  await page.close();
});

for (const [width, height, name] of [[1280, 800, '1280'], [390, 844, 'phone']]) {
  test(`layout at ${width} px: nothing runs off the right edge, every action button is on screen`, async () => {
    // Enough rows for every column to be filled: a pending account with a long redirect URL.
    const page = await browser.context.newPage();
    await page.setViewportSize({ width, height });
    await page.goto(`${mock.url}/__admin/`);
    const form = page.locator('form.create');
    if (!(await form.isVisible())) await page.locator('details.create summary').click();
    await form.locator('input[name=server_key]').fill(SERVER_KEY);
    await form.locator('input[name=phone_number]').fill('81234567822');
    await form.locator('input[name=redirect_url]').fill(
      `${receiver.url}/done/a-rather-long-path-that-a-merchant-might-use?order=ORDER-2026-11-21-0001&session=abcdef0123456789abcdef0123456789`);
    await form.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(/created=/);
    await page.goto(`${mock.url}/__admin/`);

    for (const [where, url] of [
      ['dashboard', `${mock.url}/__admin/`],
      ['account', `${mock.url}/__admin/ui/accounts/${accountId}`],
      ['notification', `${mock.url}/__admin/ui/notifications/1`],
    ]) {
      await page.goto(url);
      assert.equal(await overflows(page, width), false, `${where} at ${width} px is wider than the screen`);
      const buttons = page.locator('td.actions button, td[data-label="Actions"] button');
      for (let i = 0; i < await buttons.count(); i += 1) {
        const box = await buttons.nth(i).boundingBox();
        assert.ok(box && box.x >= 0 && box.x + box.width <= width,
          `${where}: button ${i} at ${JSON.stringify(box)} is off a ${width}-px screen`);
      }
      await page.screenshot({ path: shotPath(`${where}-${name}.png`), fullPage: true });
    }
    await page.close();
  });
}

test('a form on another origin cannot reset the mock or move the clock through the browser', async () => {
  pages['/evil'] = '<!DOCTYPE html><title>Not the dashboard</title>'
    + `<form method="post" action="${mock.url}/__admin/reset" enctype="text/plain">`
    + '<input type="hidden" name="{}" value=""><button id="reset">Win a prize</button></form>'
    + `<form method="post" action="${mock.url}/__admin/ui/clock">`
    + '<input type="hidden" name="by" value="1d"><button id="clock">Another prize</button></form>';
  const before = await fetch(`${mock.url}/__admin/accounts?server_key=${SERVER_KEY}`).then((r) => r.json());
  assert.ok(before.accounts.length > 0);
  const page = await browser.context.newPage();
  for (const button of ['#reset', '#clock']) {
    await page.goto(`${receiver.url}/evil`);
    const [response] = await Promise.all([
      page.waitForNavigation(),
      page.locator(button).click(),
    ]);
    assert.equal(response.status(), 403, `${button}: ${await page.content()}`);
  }
  await page.screenshot({ path: shotPath('cross-origin-refused.png') });
  const afterPosts = await fetch(`${mock.url}/__admin/accounts?server_key=${SERVER_KEY}`).then((r) => r.json());
  assert.equal(afterPosts.accounts.length, before.accounts.length, 'nothing was reset');
  const clock = await fetch(`${mock.url}/__admin/clock`).then((r) => r.json());
  assert.equal(clock.offset_ms, 0, `the clock did not move: ${JSON.stringify(clock)}`);
  await page.close();
});
