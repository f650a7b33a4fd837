// Fault injection, runtime phone scenarios and the request journal, seen through the official
// Midtrans Node client (midtrans-client 1.4.3, unmodified). Started by run.sh, which passes MOCK_URL.
//
// Every test uses its own server key and scopes each fault rule and scenario to it, so nothing here
// changes what the other tests (in this file or the other suites' files) get from the same server.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { performance } = require('node:perf_hooks');
const helpers = require('./helpers');

const { UUID, gopay, admin, rejection } = helpers;

const CLIENT_KEY = 'SB-Mid-client-NODEFAULT';

// A server key no other test uses.
function key(n) {
  return `SB-Mid-server-NODEFAULT-${n}`;
}

function client(serverKey) {
  return helpers.client(serverKey, CLIENT_KEY);
}

// Adds a fault rule for one server key; returns the rule as the server stored it.
async function addFault(serverKey, rule) {
  const { status, body } = await admin('POST', '/faults', { ...rule, server_key: serverKey });
  assert.equal(status, 201);
  assert.equal(typeof body.id, 'number', JSON.stringify(body));
  assert.equal(body.server_key, serverKey);
  assert.equal(body.fired, 0);
  return body;
}

// Runs fn with the key's fault rules removed afterwards, whatever happens.
async function withFaults(serverKey, fn) {
  try {
    return await fn();
  } finally {
    await admin('DELETE', `/faults?server_key=${encodeURIComponent(serverKey)}`);
  }
}

test('an injected internal_error is a MidtransError with the number 500, once', async () => {
  const sk = key(1);
  await withFaults(sk, async () => {
    const rule = await addFault(sk, {
      method: 'POST',
      path: '/v2/pay/account',
      preset: 'internal_error',
      times: 1,
    });
    assert.equal(rule.remaining, 1);
    const core = client(sk);
    const e = await rejection(core.linkPaymentAccount(gopay('81212345678')));
    assert.equal(e.httpStatusCode, 500);
    assert.equal(e.ApiResponse.status_code, '500');
    assert.equal(
      e.ApiResponse.status_message,
      'Sorry. Our system is recovering from unexpected issues. Please retry.',
    );
    assert.match(e.message, /HTTP status code: 500/);

    // times: 1 — the retry gets the real answer.
    const res = await core.linkPaymentAccount(gopay('81212345678'));
    assert.equal(res.status_code, '201');
    assert.match(res.account_id, UUID);

    const { body } = await admin('GET', `/faults?server_key=${encodeURIComponent(sk)}`);
    assert.equal(body.faults.length, 1);
    assert.equal(body.faults[0].id, rule.id);
    assert.equal(body.faults[0].fired, 1);
    assert.equal(body.faults[0].remaining, 0);
  });
});

test('an injected unavailable is a MidtransError with the number 503', async () => {
  const sk = key(2);
  await withFaults(sk, async () => {
    await addFault(sk, {
      method: 'GET',
      path: '/v2/pay/account/*',
      preset: 'unavailable',
      times: 1,
    });
    const e = await rejection(client(sk).getPaymentAccount('dummy'));
    assert.equal(e.httpStatusCode, 503);
    assert.equal(e.ApiResponse.status_code, '503');
    assert.equal(
      e.ApiResponse.status_message,
      'Service is temporarily unavailable. Please retry.',
    );
    // Once fired, the real answer again: 404 over HTTP 200, reported as the string '404'.
    const real = await rejection(client(sk).getPaymentAccount('dummy'));
    assert.equal(real.httpStatusCode, '404');
  });
});

test('an injected rate_limited is a MidtransError with the number 429 and no status_code', async () => {
  const sk = key(3);
  await withFaults(sk, async () => {
    await addFault(sk, { preset: 'rate_limited', times: 1 });
    const e = await rejection(client(sk).linkPaymentAccount(gopay('81212345678')));
    assert.equal(e.httpStatusCode, 429);
    assert.deepEqual(e.ApiResponse, { message: 'API rate limit exceeded' });
  });
});

test('an injected gopay_timeout over HTTP 200 is a MidtransError with the string 502', async () => {
  const sk = key(4);
  await withFaults(sk, async () => {
    await addFault(sk, { phone_number: '81277700004', preset: 'gopay_timeout', times: 1 });
    const core = client(sk);
    const e = await rejection(core.linkPaymentAccount(gopay('81277700004')));
    assert.equal(e.httpStatusCode, '502');
    assert.equal(e.rawHttpClientData.status, 200);
    assert.equal(e.ApiResponse.status_code, '502');
    assert.equal(e.ApiResponse.status_message, 'Timeout from gopay during creation');
    // The phone_number matcher: another number is not affected.
    const other = await core.linkPaymentAccount(gopay('81277700005'));
    assert.equal(other.status_code, '201');
  });
});

test('a dropped connection rejects the call instead of hanging', { timeout: 10000 }, async () => {
  const sk = key(5);
  await withFaults(sk, async () => {
    await addFault(sk, { drop_connection: true, times: 1 });
    const e = await rejection(client(sk).linkPaymentAccount(gopay('81212345678')));
    // No HTTP response at all: the client's connection-failure branch.
    assert.equal(e.httpStatusCode, null);
    assert.equal(e.ApiResponse, null);
    assert.match(e.message, /HTTP response not found/);
  });
});

test('a delay_ms rule of 300 delays the real answer by at least 300 ms', { timeout: 10000 }, async () => {
  const sk = key(6);
  await withFaults(sk, async () => {
    await addFault(sk, { method: 'POST', path: '/v2/pay/account', delay_ms: 300, times: 1 });
    const started = performance.now();
    const res = await client(sk).linkPaymentAccount(gopay('81212345678'));
    const elapsed = performance.now() - started;
    assert.equal(res.status_code, '201');
    assert.ok(elapsed >= 300, `the call took ${elapsed} ms`);
  });
});

test('a runtime user_blocked scenario for one key rejects with the string 410 for that key only', async () => {
  const sk = key(7);
  const other = key(8);
  const phone = '81277700007';
  const { status, body } = await admin('PUT', `/phone-numbers/${phone}`, {
    outcome: 'user_blocked',
    server_key: sk,
  });
  try {
    assert.equal(status, 201);
    assert.equal(body.phone_number, phone);
    assert.equal(body.outcome, 'user_blocked');
    assert.equal(body.server_key, sk);
    assert.equal(body.source, 'runtime');

    const listed = await admin('GET', `/phone-numbers?server_key=${encodeURIComponent(sk)}`);
    assert.ok(
      listed.body.phone_numbers.some((p) => p.phone_number === phone && p.source === 'runtime'),
      JSON.stringify(listed.body),
    );

    const e = await rejection(client(sk).linkPaymentAccount(gopay(phone)));
    assert.equal(e.httpStatusCode, '410');
    assert.equal(e.ApiResponse.status_message, 'GoPay user is blocked');

    const res = await client(other).linkPaymentAccount(gopay(phone));
    assert.equal(res.status_code, '201');
    assert.equal(res.account_status, 'PENDING');
  } finally {
    await admin('DELETE', `/phone-numbers/${phone}?server_key=${encodeURIComponent(sk)}`);
  }
  // Removed: the number links normally for the key again.
  const res = await client(sk).linkPaymentAccount(gopay(phone));
  assert.equal(res.status_code, '201');
});

test('the journal records exactly one unbind with the client User-Agent', async () => {
  const sk = key(9);
  const core = client(sk);
  const created = await core.linkPaymentAccount(gopay('81277700009'));
  await admin('POST', `/accounts/${created.account_id}/link?wait=false`);
  const res = await core.unlinkPaymentAccount(created.account_id);
  assert.equal(res.status_code, '204');
  assert.equal(res.account_status, 'DISABLED');

  const matcher = { path: `/v2/pay/account/${created.account_id}/unbind`, server_key: sk };
  const count = await admin('POST', '/requests/count', matcher);
  assert.deepEqual(count.body, { count: 1 });

  const found = await admin('POST', '/requests/find', matcher);
  assert.equal(found.body.requests.length, 1);
  const entry = found.body.requests[0];
  assert.equal(entry.method, 'POST');
  assert.equal(entry.path, `/v2/pay/account/${created.account_id}/unbind`);
  assert.equal(entry.server_key, sk);
  assert.equal(entry.headers['user-agent'], 'midtransclient-nodejs/1.4.3');
  assert.equal(entry.status, 200);
  assert.equal(entry.status_code, '204');
  assert.equal(entry.fault, null);

  // A pattern with * for the account id counts the same single unbind of this key.
  const any = await admin('POST', '/requests/count', {
    method: 'POST',
    path: '/v2/pay/account/*/unbind',
    server_key: sk,
  });
  assert.deepEqual(any.body, { count: 1 });
});
