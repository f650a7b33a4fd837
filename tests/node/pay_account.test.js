// The official Midtrans Node client (midtrans-client 1.4.3, unmodified) against pay-account-mock.
// Started by run.sh, which passes the servers' addresses in MOCK_URL and MOCK_KEYED_URL.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const helpers = require('./helpers');

const { MOCK, UUID, gopay, rejection } = helpers;
const MOCK_KEYED = process.env.MOCK_KEYED_URL;
const KEYED_KEY = process.env.MOCK_KEYED_KEY;
assert.ok(MOCK && MOCK_KEYED && KEYED_KEY, 'run through tests/node/run.sh');

const SERVER_KEY = 'SB-Mid-server-TESTKEY123';
const CLIENT_KEY = 'SB-Mid-client-TESTKEY123';
// The shared fixture account that starts ENABLED (fixtures/accounts.json).
const FIXTURE_ENABLED = '00000269-7836-49e5-bc65-e592afafec14';

function client(serverKey = SERVER_KEY, base = MOCK) {
  return helpers.client(serverKey, CLIENT_KEY, base);
}

test('link creates a PENDING account with two activation links', async () => {
  const res = await client().linkPaymentAccount(gopay('81212345678'));
  assert.equal(res.status_code, '201');
  assert.equal(res.payment_type, 'gopay');
  assert.equal(res.account_status, 'PENDING');
  assert.match(res.account_id, UUID);
  assert.deepEqual(
    res.actions.map((a) => [a.name, a.method]),
    [
      ['activation-link-url', 'GET'],
      ['activation-link-app', 'GET'],
    ],
  );
  assert.ok(res.actions[0].url.startsWith(`${MOCK}/v2/gopay/redirect/gpar_`), res.actions[0].url);
  assert.ok(res.actions[1].url.startsWith(`${MOCK}/v2/gopay/redirect/gpad_`), res.actions[1].url);
});

test('get answers 201 PENDING with the same id', async () => {
  const core = client();
  const created = await core.linkPaymentAccount(gopay('81212345678'));
  const res = await core.getPaymentAccount(created.account_id);
  assert.deepEqual(res, {
    status_code: '201',
    payment_type: 'gopay',
    account_id: created.account_id,
    account_status: 'PENDING',
  });
});

test('unlink of a PENDING account rejects with the string 412', async () => {
  const core = client();
  const created = await core.linkPaymentAccount(gopay('81212345678'));
  const e = await rejection(core.unlinkPaymentAccount(created.account_id));
  assert.equal(e.httpStatusCode, '412');
  assert.equal(e.ApiResponse.status_message, 'Account status cannot be updated.');
  assert.match(e.message, /Account status cannot be updated\./);
});

test('get of a dummy id rejects with the string 404', async () => {
  const e = await rejection(client().getPaymentAccount('dummy'));
  assert.equal(e.httpStatusCode, '404');
  assert.equal(e.ApiResponse.status_message, "Account doesn't exist.");
});

test('unlink of a dummy id rejects with the string 404', async () => {
  const e = await rejection(client().unlinkPaymentAccount('dummy'));
  assert.equal(e.httpStatusCode, '404');
  assert.equal(e.ApiResponse.status_message, "Account doesn't exist.");
});

test('phone 123450001 resolves with 202 User Not Found', async () => {
  const res = await client().linkPaymentAccount(gopay('123450001'));
  assert.deepEqual(res, {
    status_code: '202',
    payment_type: 'gopay',
    channel_response_code: '105',
    channel_response_message: 'User Not Found',
  });
});

test('phone 123450002 rejects with the string 410', async () => {
  const e = await rejection(client().linkPaymentAccount(gopay('123450002')));
  assert.equal(e.httpStatusCode, '410');
  assert.equal(e.ApiResponse.status_message, 'GoPay user is blocked');
});

test('a phone number with a leading 0 rejects with the number 400', async () => {
  const e = await rejection(client().linkPaymentAccount(gopay('081234567891')));
  assert.equal(e.httpStatusCode, 400);
  assert.deepEqual(e.ApiResponse.validation_messages, [
    'gopay_partner.phone_number must be numeric digits and must not begin with 0',
  ]);
  assert.match(
    e.message,
    /gopay_partner\.phone_number must be numeric digits and must not begin with 0/,
  );
});

test('an empty server key rejects with the number 401', async () => {
  const e = await rejection(client('').linkPaymentAccount(gopay('81212345678')));
  assert.equal(e.httpStatusCode, 401);
  assert.equal(e.ApiResponse.status_code, '401');
  assert.equal(e.ApiResponse.status_message, 'Unknown Merchant server_key/id');
});

test('a server started with --server-key refuses any other key with the number 401', async () => {
  const e = await rejection(
    client('SB-Mid-server-WRONG', MOCK_KEYED).getPaymentAccount(FIXTURE_ENABLED),
  );
  assert.equal(e.httpStatusCode, 401);
  assert.equal(e.ApiResponse.status_message, 'Unknown Merchant server_key/id');
  const res = await client(KEYED_KEY, MOCK_KEYED).linkPaymentAccount(gopay('81212345678'));
  assert.equal(res.status_code, '201');
});

test('unlink of an ENABLED account resolves with 204 DISABLED', async () => {
  const core = client();
  const before = await core.getPaymentAccount(FIXTURE_ENABLED);
  assert.equal(before.status_code, '200');
  assert.equal(before.account_status, 'ENABLED');
  const res = await core.unlinkPaymentAccount(FIXTURE_ENABLED);
  assert.deepEqual(res, {
    status_code: '204',
    payment_type: 'gopay',
    account_id: FIXTURE_ENABLED,
    account_status: 'DISABLED',
    channel_response_code: '0',
    channel_response_message: 'Process service request successfully.',
  });
  const after = await core.getPaymentAccount(FIXTURE_ENABLED);
  assert.deepEqual(after, {
    status_code: '204',
    payment_type: 'gopay',
    account_id: FIXTURE_ENABLED,
    account_status: 'DISABLED',
  });
});

test('an account linked through the control API is ENABLED, relinks as 200, and unlinks', async () => {
  const core = client();
  const created = await core.linkPaymentAccount(gopay('8215023424'));
  const link = await fetch(`${MOCK}/__admin/accounts/${created.account_id}/link`, {
    method: 'POST',
  });
  assert.ok(link.ok, `control API link: HTTP ${link.status} ${await link.text()}`);
  const enabled = await core.getPaymentAccount(created.account_id);
  assert.equal(enabled.status_code, '200');
  assert.equal(enabled.account_status, 'ENABLED');
  assert.deepEqual(
    enabled.metadata.payment_options.map((o) => o.name),
    ['GOPAY_WALLET', 'PAY_LATER'],
  );
  const relinked = await core.linkPaymentAccount(gopay('8215023424'));
  assert.deepEqual(relinked, enabled);
  const res = await core.unlinkPaymentAccount(created.account_id);
  assert.deepEqual(res, {
    status_code: '204',
    payment_type: 'gopay',
    account_id: created.account_id,
    account_status: 'DISABLED',
    channel_response_code: '0',
    channel_response_message: 'Process service request successfully.',
  });
});
