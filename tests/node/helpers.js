// Shared by the Node tests: the official client pointed at the mock, a create body, the control
// API, and the MidtransError every failure must be. Not a test file (run.sh names the test files).
'use strict';

const assert = require('node:assert/strict');
const midtransClient = require('midtrans-client');

const MOCK = process.env.MOCK_URL;
assert.ok(MOCK, 'run through tests/node/run.sh');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// A client pointed at the mock per instance, the way the reference shows (section 11.2).
function client(serverKey, clientKey, base = MOCK) {
  const core = new midtransClient.CoreApi({ isProduction: false, serverKey, clientKey });
  core.apiConfig.getCoreApiBaseUrl = () => base;
  return core;
}

function gopay(phone, countryCode = '62') {
  return {
    payment_type: 'gopay',
    gopay_partner: {
      phone_number: phone,
      country_code: countryCode,
      redirect_url: 'https://www.gojek.com',
    },
  };
}

// The control API: plain JSON, no Midtrans authentication. Returns the HTTP status and the body.
async function admin(method, path, body) {
  const init = { method };
  if (body !== undefined) {
    init.headers = { 'content-type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  const res = await fetch(`${MOCK}/__admin${path}`, init);
  const text = await res.text();
  assert.ok(res.ok, `control API ${method} ${path}: HTTP ${res.status} ${text}`);
  return { status: res.status, body: JSON.parse(text) };
}

// Awaits a promise that must reject with a MidtransError and returns the error.
async function rejection(promise) {
  try {
    const value = await promise;
    assert.fail(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    assert.equal(e.name, 'MidtransError', String(e));
    return e;
  }
}

module.exports = { MOCK, UUID, client, gopay, admin, rejection };
