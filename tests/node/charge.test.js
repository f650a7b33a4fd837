// GoPay charges with the official Midtrans Node client (midtrans-client 1.4.3, unmodified) against
// pay-account-mock: charge, status, notification(), cancel, expire, refund, refundDirect, capture,
// and how the client classifies the errors. Started by run.sh, which passes MOCK_URL.
//
// Every test links its own account (its own phone number) and uses its own order ids, so the tests
// share no state with each other or with pay_account.test.js.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const helpers = require('./helpers');

const { MOCK, UUID, gopay, rejection } = helpers;

const SERVER_KEY = 'SB-Mid-server-CHARGE123';
const CLIENT_KEY = 'SB-Mid-client-CHARGE123';
const CALLBACK_URL = 'https://merchant.test/done';
const NOT_MODIFIABLE = 'Merchant cannot modify the status of the transaction';

function client() {
  return helpers.client(SERVER_KEY, CLIENT_KEY);
}

// An order id no other test (or earlier run against the same server) uses.
function orderId(label) {
  return `node-${label}-${crypto.randomUUID().slice(0, 8)}`;
}

// The control API's answer body.
async function admin(method, path) {
  return (await helpers.admin(method, path)).body;
}

// Links a fresh account as the customer would and returns it with its payment option tokens.
async function linkedAccount(core, phone) {
  const created = await core.linkPaymentAccount(gopay(phone));
  assert.equal(created.status_code, '201');
  assert.equal(created.account_status, 'PENDING');
  await admin('POST', `/accounts/${created.account_id}/link?wait=false`);
  const account = await core.getPaymentAccount(created.account_id);
  assert.equal(account.status_code, '200');
  assert.equal(account.account_status, 'ENABLED');
  const option = (name) => account.metadata.payment_options.find((o) => o.name === name);
  assert.ok(option('GOPAY_WALLET').token, 'GOPAY_WALLET has a token');
  return {
    accountId: created.account_id,
    token: option('GOPAY_WALLET').token,
    payLaterToken: option('PAY_LATER').token,
  };
}

// The balances GET /v2/pay/account reports, by payment option name.
async function balances(core, accountId) {
  const account = await core.getPaymentAccount(accountId);
  return Object.fromEntries(account.metadata.payment_options.map((o) => [o.name, o.balance.value]));
}

function chargeParams(account, order, amount, gopayExtra = {}) {
  return {
    payment_type: 'gopay',
    gopay: {
      account_id: account.accountId,
      payment_option_token: account.token,
      callback_url: CALLBACK_URL,
      ...gopayExtra,
    },
    transaction_details: { order_id: order, gross_amount: amount },
  };
}

// A body error over HTTP 200: the client rejects with the body's status_code, a string.
async function bodyError(promise, code, message) {
  const e = await rejection(promise);
  assert.equal(e.httpStatusCode, code);
  assert.equal(typeof e.httpStatusCode, 'string');
  assert.equal(e.rawHttpClientData.status, 200);
  assert.equal(e.ApiResponse.status_code, code);
  assert.equal(e.ApiResponse.status_message, message);
  assert.match(e.message, new RegExp(`HTTP status code: ${code}\\.`));
  return e;
}

function signature(body) {
  return crypto
    .createHash('sha512')
    .update(body.order_id + body.status_code + body.gross_amount + SERVER_KEY)
    .digest('hex');
}

test('a charge below the PIN threshold settles at once and debits the wallet', async () => {
  const core = client();
  const account = await linkedAccount(core, '81200001001');
  const order = orderId('settle');
  const res = await core.charge(chargeParams(account, order, 10000));
  assert.equal(res.status_code, '200');
  assert.equal(res.status_message, 'Success, GoPay transaction is successful');
  assert.equal(res.transaction_status, 'settlement');
  assert.equal(res.fraud_status, 'accept');
  assert.equal(res.order_id, order);
  assert.match(res.transaction_id, UUID);
  assert.equal(res.gross_amount, '10000.00');
  assert.equal(res.currency, 'IDR');
  assert.equal(res.payment_type, 'gopay');
  assert.equal(res.actions, undefined);
  assert.deepEqual(await balances(core, account.accountId), {
    GOPAY_WALLET: '990000.00',
    PAY_LATER: '350000.00',
  });

  for (const id of [order, res.transaction_id]) {
    const status = await core.transaction.status(id);
    assert.equal(status.status_code, '200');
    assert.equal(status.transaction_status, 'settlement');
    assert.equal(status.transaction_id, res.transaction_id);
    assert.equal(status.order_id, order);
    assert.equal(status.payment_option_type, 'GOPAY_WALLET');
    assert.equal(status.signature_key, signature(status));
  }

  const listed = await admin('GET', `/transactions?account_id=${account.accountId}`);
  assert.deepEqual(
    listed.transactions.map((t) => [t.transaction_id, t.order_id, t.transaction_status, t.gross_amount]),
    [[res.transaction_id, order, 'settlement', '10000.00']],
  );
});

test('a charge from the threshold up is pending with two links, and settles after the PIN', async () => {
  const core = client();
  const account = await linkedAccount(core, '81200001002');
  const order = orderId('pin');
  const res = await core.charge(chargeParams(account, order, 100000));
  assert.equal(res.status_code, '201');
  assert.equal(res.status_message, 'GoPay transaction is created. Action(s) required');
  assert.equal(res.transaction_status, 'pending');
  assert.equal(res.gross_amount, '100000.00');
  assert.deepEqual(
    res.actions.map((a) => [a.name, a.method]),
    [
      ['verification-link-url', 'GET'],
      ['verification-link-app', 'GET'],
    ],
  );
  assert.ok(res.actions[0].url.startsWith(`${MOCK}/v2/gopay/redirect/gppr_`), res.actions[0].url);
  assert.ok(res.actions[1].url.startsWith(`${MOCK}/v2/gopay/redirect/gppd_`), res.actions[1].url);
  assert.equal((await balances(core, account.accountId)).GOPAY_WALLET, '1000000.00');

  const pending = await core.transaction.status(res.transaction_id);
  assert.equal(pending.status_code, '201');
  assert.equal(pending.transaction_status, 'pending');

  // The customer enters the PIN.
  const settled = await admin('POST', `/transactions/${res.transaction_id}/settle?wait=false`);
  assert.equal(settled.transaction.transaction_status, 'settlement');

  const status = await core.transaction.status(order);
  assert.equal(status.status_code, '200');
  assert.equal(status.transaction_status, 'settlement');
  assert.equal(status.transaction_id, res.transaction_id);
  assert.equal((await balances(core, account.accountId)).GOPAY_WALLET, '900000.00');
});

test('notification() reads the status of the transaction a payment notification names', async () => {
  const core = client();
  const account = await linkedAccount(core, '81200001003');
  const order = orderId('notify');
  const res = await core.charge(chargeParams(account, order, 150000));
  assert.equal(res.transaction_status, 'pending');

  // The payment notification the merchant received for the pending charge (recorded by the mock).
  const log = await admin('GET', `/notifications?event=payment&order_id=${order}`);
  assert.equal(log.notifications.length, 1);
  const notification = log.notifications[0].payload;
  assert.equal(notification.transaction_id, res.transaction_id);
  assert.equal(notification.transaction_status, 'pending');
  assert.equal(notification.status_code, '201');
  assert.equal(notification.signature_key, signature(notification));

  const pending = await core.transaction.notification(notification);
  assert.equal(pending.status_code, '201');
  assert.equal(pending.transaction_status, 'pending');

  await admin('POST', `/transactions/${res.transaction_id}/settle?wait=false`);
  for (const body of [notification, JSON.stringify(notification)]) {
    const status = await core.transaction.notification(body);
    assert.equal(status.status_code, '200');
    assert.equal(status.transaction_status, 'settlement');
    assert.equal(status.transaction_id, res.transaction_id);
    assert.equal(status.order_id, order);
    assert.equal(status.gross_amount, '150000.00');
    assert.equal(status.signature_key, signature(status));
  }
});

test('cancel of a pending charge resolves with 200 cancel and frees the order id', async () => {
  const core = client();
  const account = await linkedAccount(core, '81200001004');
  const order = orderId('cancel');
  const res = await core.charge(chargeParams(account, order, 120000));
  assert.equal(res.transaction_status, 'pending');

  const cancelled = await core.transaction.cancel(res.transaction_id);
  assert.equal(cancelled.status_code, '200');
  assert.equal(cancelled.status_message, 'Success, transaction is canceled');
  assert.equal(cancelled.transaction_status, 'cancel');
  assert.equal(cancelled.transaction_id, res.transaction_id);

  const status = await core.transaction.status(res.transaction_id);
  assert.equal(status.status_code, '200');
  assert.equal(status.transaction_status, 'cancel');
  assert.equal((await balances(core, account.accountId)).GOPAY_WALLET, '1000000.00');

  // A charge cancelled while pending does not keep its order id.
  const again = await core.charge(chargeParams(account, order, 1000));
  assert.equal(again.status_code, '200');
  assert.notEqual(again.transaction_id, res.transaction_id);
});

test('expire of a pending charge resolves with 407 (not an error for the client)', async () => {
  const core = client();
  const account = await linkedAccount(core, '81200001005');
  const order = orderId('expire');
  const res = await core.charge(chargeParams(account, order, 100000));
  assert.equal(res.transaction_status, 'pending');

  const expired = await core.transaction.expire(order);
  assert.equal(expired.status_code, '407');
  assert.equal(expired.status_message, 'Success, transaction has expired');
  assert.equal(expired.transaction_status, 'expire');
  assert.equal(expired.transaction_id, res.transaction_id);

  const status = await core.transaction.status(res.transaction_id);
  assert.equal(status.status_code, '407');
  assert.equal(status.transaction_status, 'expire');
  assert.equal(status.signature_key, signature(status));
  assert.equal((await balances(core, account.accountId)).GOPAY_WALLET, '1000000.00');

  // Only a pending charge can be expired.
  await bodyError(core.transaction.expire(res.transaction_id), '412', NOT_MODIFIABLE);
});

test('a partial refund then a direct refund of the rest credit the wallet back', async () => {
  const core = client();
  const account = await linkedAccount(core, '81200001006');
  const order = orderId('refund');
  const res = await core.charge(chargeParams(account, order, 20000));
  assert.equal(res.transaction_status, 'settlement');
  assert.equal((await balances(core, account.accountId)).GOPAY_WALLET, '980000.00');

  const partial = await core.transaction.refund(res.transaction_id, {
    refund_key: 'k1',
    amount: 5000,
    reason: 'one item out of stock',
  });
  assert.equal(partial.status_code, '200');
  assert.equal(partial.status_message, 'Success, refund request is approved');
  assert.equal(partial.transaction_status, 'partial_refund');
  assert.equal(partial.refund_amount, '5000.00');
  assert.equal(partial.refund_key, 'k1');
  assert.equal(partial.gross_amount, '20000.00');
  assert.equal((await balances(core, account.accountId)).GOPAY_WALLET, '985000.00');
  assert.equal((await core.transaction.status(order)).transaction_status, 'partial_refund');

  const rest = await core.transaction.refundDirect(order, {
    refund_key: 'k2',
    amount: 15000,
    reason: 'order cancelled',
  });
  assert.equal(rest.status_code, '200');
  assert.equal(rest.status_message, 'Success, refund request is approved by the bank');
  assert.equal(rest.transaction_status, 'refund');
  assert.equal(rest.refund_amount, '15000.00');
  assert.equal(rest.refund_key, 'k2');
  assert.equal((await balances(core, account.accountId)).GOPAY_WALLET, '1000000.00');

  const status = await core.transaction.status(res.transaction_id);
  assert.equal(status.status_code, '200');
  assert.equal(status.transaction_status, 'refund');
  assert.equal(status.refund_amount, '20000.00');
  assert.deepEqual(
    status.refunds.map((r) => [r.refund_key, r.refund_amount]),
    [
      ['k1', '5000.00'],
      ['k2', '15000.00'],
    ],
  );
});

test('a pre-auth charge authorizes, holds the amount, and captures to settlement', async () => {
  const core = client();
  const account = await linkedAccount(core, '81200001007');
  const order = orderId('preauth');
  const res = await core.charge(chargeParams(account, order, 50000, { pre_auth: true }));
  assert.equal(res.status_code, '200');
  assert.equal(res.transaction_status, 'authorize');
  assert.equal(res.channel_response_code, '0');
  assert.equal((await balances(core, account.accountId)).GOPAY_WALLET, '950000.00');
  assert.equal((await core.transaction.status(order)).transaction_status, 'authorize');

  const captured = await core.capture({ transaction_id: res.transaction_id, gross_amount: 50000 });
  assert.equal(captured.status_code, '200');
  assert.equal(captured.status_message, 'Success, GoPay transaction is successful');
  assert.equal(captured.transaction_status, 'settlement');
  assert.equal(captured.transaction_id, res.transaction_id);

  const status = await core.transaction.status(order);
  assert.equal(status.status_code, '200');
  assert.equal(status.transaction_status, 'settlement');
  assert.equal((await balances(core, account.accountId)).GOPAY_WALLET, '950000.00');
});

test('cancel of an authorization releases the hold', async () => {
  const core = client();
  const account = await linkedAccount(core, '81200001008');
  const res = await core.charge(chargeParams(account, orderId('release'), 30000, { pre_auth: true }));
  assert.equal(res.transaction_status, 'authorize');
  assert.equal((await balances(core, account.accountId)).GOPAY_WALLET, '970000.00');
  const cancelled = await core.transaction.cancel(res.transaction_id);
  assert.equal(cancelled.status_code, '200');
  assert.equal(cancelled.transaction_status, 'cancel');
  assert.equal((await balances(core, account.accountId)).GOPAY_WALLET, '1000000.00');
});

test('a charge over the balance resolves with 202 deny', async () => {
  const core = client();
  // The sandbox number whose balances are 0.00 once linked.
  const account = await linkedAccount(core, '8242014881');
  assert.equal((await balances(core, account.accountId)).GOPAY_WALLET, '0.00');
  const res = await core.charge(chargeParams(account, orderId('deny'), 10000));
  assert.equal(res.status_code, '202');
  assert.equal(res.status_message, 'GoPay transaction is denied');
  assert.equal(res.transaction_status, 'deny');
  assert.equal(res.channel_response_code, '201');
  assert.equal(res.channel_response_message, 'Insufficient Balance');
  const status = await core.transaction.status(res.transaction_id);
  assert.equal(status.status_code, '202');
  assert.equal(status.transaction_status, 'deny');
});

test('a reused order id rejects with the string 406', async () => {
  const core = client();
  const account = await linkedAccount(core, '81200001009');
  const order = orderId('dup');
  const first = await core.charge(chargeParams(account, order, 10000));
  assert.equal(first.status_code, '200');
  await bodyError(
    core.charge(chargeParams(account, order, 10000)),
    '406',
    'The request could not be completed due to a conflict with the current state of the target resource, please try again',
  );
  // Nothing was charged twice.
  assert.equal((await balances(core, account.accountId)).GOPAY_WALLET, '990000.00');
});

test('a charge to an unknown or not yet linked wallet rejects with the string 404', async () => {
  const core = client();
  const unknown = { accountId: crypto.randomUUID(), token: 'eyJ0eXBlIjogIkdPUEFZX1dBTExFVCJ9' };
  await bodyError(core.charge(chargeParams(unknown, orderId('nowallet'), 10000)), '404', "GoPay Wallet doesn't exist.");

  const created = await core.linkPaymentAccount({
    payment_type: 'gopay',
    gopay_partner: { phone_number: '81200001010', country_code: '62', redirect_url: 'https://www.gojek.com' },
  });
  assert.equal(created.account_status, 'PENDING');
  const pending = { accountId: created.account_id, token: unknown.token };
  await bodyError(core.charge(chargeParams(pending, orderId('pending'), 10000)), '404', "GoPay Wallet doesn't exist.");
});

test('status of an unknown id rejects with the string 404', async () => {
  await bodyError(client().transaction.status(orderId('unknown')), '404', "Transaction doesn't exist.");
});

test('cancel or expire of a settled charge, and refund of a pending one, reject with the string 412', async () => {
  const core = client();
  const account = await linkedAccount(core, '81200001011');
  const settled = await core.charge(chargeParams(account, orderId('settled'), 10000));
  assert.equal(settled.transaction_status, 'settlement');
  await bodyError(core.transaction.cancel(settled.transaction_id), '412', NOT_MODIFIABLE);
  await bodyError(core.transaction.expire(settled.order_id), '412', NOT_MODIFIABLE);

  const pending = await core.charge(chargeParams(account, orderId('pending'), 100000));
  assert.equal(pending.transaction_status, 'pending');
  await bodyError(
    core.transaction.refund(pending.transaction_id, { refund_key: 'k1', amount: 5000, reason: 'early' }),
    '412',
    NOT_MODIFIABLE,
  );
  // Nothing changed.
  assert.equal((await core.transaction.status(settled.transaction_id)).transaction_status, 'settlement');
  assert.equal((await core.transaction.status(pending.transaction_id)).transaction_status, 'pending');
});

test('a refund over what is left rejects with the string 414, a repeated refund key with 406', async () => {
  const core = client();
  const account = await linkedAccount(core, '81200001012');
  const res = await core.charge(chargeParams(account, orderId('overrefund'), 10000));
  assert.equal(res.transaction_status, 'settlement');
  await bodyError(
    core.transaction.refund(res.transaction_id, { refund_key: 'k0', amount: 10001, reason: 'too much' }),
    '414',
    'Refund request is rejected due to invalid amount',
  );
  const partial = await core.transaction.refund(res.transaction_id, { refund_key: 'k1', amount: 5000, reason: 'half' });
  assert.equal(partial.transaction_status, 'partial_refund');
  await bodyError(
    core.transaction.refundDirect(res.transaction_id, { refund_key: 'k2', amount: 6000, reason: 'more than left' }),
    '414',
    'Refund request is rejected due to invalid amount',
  );
  await bodyError(
    core.transaction.refund(res.transaction_id, { refund_key: 'k1', amount: 1000, reason: 'again' }),
    '406',
    'Duplicate refund ID',
  );
  const status = await core.transaction.status(res.transaction_id);
  assert.equal(status.transaction_status, 'partial_refund');
  assert.equal(status.refund_amount, '5000.00');
  assert.equal((await balances(core, account.accountId)).GOPAY_WALLET, '995000.00');
});

test('an invalid charge rejects with the number 400 and its validation messages', async () => {
  const core = client();
  const account = await linkedAccount(core, '81200001013');
  const e = await rejection(core.charge(chargeParams(account, orderId('zero'), 0)));
  assert.equal(e.httpStatusCode, 400);
  assert.equal(e.ApiResponse.status_code, '400');
  assert.equal(e.ApiResponse.status_message, 'One or more parameters in the payload is invalid.');
  assert.deepEqual(e.ApiResponse.validation_messages, [
    'transaction_details.gross_amount must be greater than or equal to 0.01',
  ]);
  assert.match(e.message, /HTTP status code: 400\./);

  const bad = await rejection(core.charge(chargeParams({ ...account, token: 'not-a-token' }, orderId('token'), 1000)));
  assert.equal(bad.httpStatusCode, 400);
  assert.deepEqual(bad.ApiResponse.validation_messages, ['GoPay token is invalid for the payment']);
  assert.equal((await balances(core, account.accountId)).GOPAY_WALLET, '1000000.00');
});
