"""Fault injection, runtime phone scenarios and the request journal, seen through the official
Midtrans Python client (midtransclient 1.4.2, unmodified). Run through run.sh, which starts the
server and sets MOCK_URL.

Every test uses its own server key and scopes each fault rule and scenario to it, so nothing here
changes what the other tests (in this file or the other suites' files) get from the same server.
"""
import os
import threading
import time
from contextlib import contextmanager
from urllib.parse import quote

import midtransclient
import pytest
import requests
from midtransclient.error_midtrans import MidtransAPIError


def mock():
    return os.environ["MOCK_URL"]


def key(n):
    """A server key no other test uses."""
    return "SB-Mid-server-PYFAULT-{0}".format(n)


def core(server_key):
    """A client pointed at the mock per instance, as in test_pay_account.py."""
    api = midtransclient.CoreApi(is_production=False, server_key=server_key,
                                 client_key="SB-Mid-client-PYFAULT")
    api.api_config.CORE_SANDBOX_BASE_URL = mock()
    return api


def params(phone):
    return {"payment_type": "gopay",
            "gopay_partner": {"phone_number": phone, "country_code": "62",
                              "redirect_url": "https://www.gojek.com"}}


def admin(method, path, body=None):
    """The control API: plain JSON, no Midtrans authentication. Returns (HTTP status, body)."""
    res = requests.request(method, mock() + "/__admin" + path, json=body, timeout=10)
    assert res.ok, "control API {0} {1}: HTTP {2} {3}".format(method, path, res.status_code, res.text)
    return res.status_code, res.json()


@contextmanager
def faults(server_key, *rules):
    """Adds fault rules scoped to one server key; removes all of the key's rules afterwards."""
    try:
        added = []
        for rule in rules:
            status, body = admin("POST", "/faults", dict(rule, server_key=server_key))
            assert status == 201
            assert isinstance(body["id"], int)
            assert body["server_key"] == server_key
            assert body["fired"] == 0
            added.append(body)
        yield added
    finally:
        admin("DELETE", "/faults?server_key=" + quote(server_key, safe=""))


def within(seconds, call):
    """Runs call() in a thread and returns ("ok", value) or ("error", exception); fails the test
    instead of hanging when it has not finished in time (the client sets no timeout itself)."""
    outcome = []

    def run():
        try:
            outcome.append(("ok", call()))
        except BaseException as e:  # noqa: B902 - handed back to the test
            outcome.append(("error", e))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert outcome, "the call did not finish within {0} s".format(seconds)
    return outcome[0]


def test_injected_internal_error_is_http_500_once():
    sk = key(1)
    with faults(sk, {"method": "POST", "path": "/v2/pay/account", "preset": "internal_error",
                     "times": 1}) as (rule,):
        assert rule["remaining"] == 1
        api = core(sk)
        with pytest.raises(MidtransAPIError) as err:
            api.link_payment_account(params("81212345678"))
        assert err.value.http_status_code == 500
        assert err.value.api_response_dict["status_code"] == "500"
        assert err.value.api_response_dict["status_message"] == \
            "Sorry. Our system is recovering from unexpected issues. Please retry."

        # times: 1 - the retry gets the real answer.
        res = api.link_payment_account(params("81212345678"))
        assert res["status_code"] == "201"

        _, listed = admin("GET", "/faults?server_key=" + quote(sk, safe=""))
        assert [(f["id"], f["fired"], f["remaining"]) for f in listed["faults"]] == \
            [(rule["id"], 1, 0)]


def test_injected_unavailable_is_http_503():
    sk = key(2)
    with faults(sk, {"method": "GET", "path": "/v2/pay/account/*", "preset": "unavailable",
                     "times": 1}):
        with pytest.raises(MidtransAPIError) as err:
            core(sk).get_payment_account("dummy")
        assert err.value.http_status_code == 503
        assert err.value.api_response_dict["status_code"] == "503"
        assert err.value.api_response_dict["status_message"] == \
            "Service is temporarily unavailable. Please retry."

        # Once fired, the real answer again: 404 over HTTP 200.
        with pytest.raises(MidtransAPIError) as err:
            core(sk).get_payment_account("dummy")
        assert err.value.http_status_code == 200
        assert err.value.api_response_dict["status_code"] == "404"


def test_injected_rate_limit_is_http_429_without_a_status_code():
    sk = key(3)
    with faults(sk, {"preset": "rate_limited", "times": 1}):
        with pytest.raises(MidtransAPIError) as err:
            core(sk).link_payment_account(params("81212345678"))
        assert err.value.http_status_code == 429
        assert err.value.api_response_dict == {"message": "API rate limit exceeded"}


def test_injected_gopay_timeout_is_502_over_http_200():
    sk = key(4)
    with faults(sk, {"phone_number": "81277700004", "preset": "gopay_timeout", "times": 1}):
        api = core(sk)
        with pytest.raises(MidtransAPIError) as err:
            api.link_payment_account(params("81277700004"))
        assert err.value.http_status_code == 200
        assert err.value.api_response_dict["status_code"] == "502"
        assert err.value.api_response_dict["status_message"] == "Timeout from gopay during creation"
        # The phone_number matcher: another number is not affected.
        assert api.link_payment_account(params("81277700005"))["status_code"] == "201"


def test_a_dropped_connection_raises_instead_of_hanging():
    sk = key(5)
    with faults(sk, {"drop_connection": True, "times": 1}):
        kind, value = within(10, lambda: core(sk).link_payment_account(params("81212345678")))
        assert kind == "error", "expected an exception, got {0!r}".format(value)
        assert isinstance(value, requests.exceptions.ConnectionError), repr(value)


def test_a_delay_rule_delays_the_real_answer():
    sk = key(6)
    with faults(sk, {"method": "POST", "path": "/v2/pay/account", "delay_ms": 300, "times": 1}):
        started = time.monotonic()
        kind, value = within(10, lambda: core(sk).link_payment_account(params("81212345678")))
        elapsed = time.monotonic() - started
        assert kind == "ok", repr(value)
        assert value["status_code"] == "201"
        assert elapsed >= 0.3, "the call took {0} s".format(elapsed)


def test_a_runtime_blocked_scenario_applies_to_its_key_only():
    sk, other, phone = key(7), key(8), "81277700007"
    status, body = admin("PUT", "/phone-numbers/" + phone,
                         {"outcome": "user_blocked", "server_key": sk})
    try:
        assert status == 201
        assert (body["phone_number"], body["outcome"], body["server_key"], body["source"]) == \
            (phone, "user_blocked", sk, "runtime")

        with pytest.raises(MidtransAPIError) as err:
            core(sk).link_payment_account(params(phone))
        assert err.value.http_status_code == 200
        assert err.value.api_response_dict["status_code"] == "410"
        assert err.value.api_response_dict["status_message"] == "GoPay user is blocked"

        res = core(other).link_payment_account(params(phone))
        assert res["status_code"] == "201"
        assert res["account_status"] == "PENDING"
    finally:
        admin("DELETE", "/phone-numbers/{0}?server_key={1}".format(phone, quote(sk, safe="")))
    # Removed: the number links normally for the key again.
    assert core(sk).link_payment_account(params(phone))["status_code"] == "201"


def test_the_journal_counts_one_unbind():
    sk = key(9)
    api = core(sk)
    created = api.link_payment_account(params("81277700009"))
    account_id = created["account_id"]
    admin("POST", "/accounts/{0}/link?wait=false".format(account_id))
    res = api.unlink_payment_account(account_id)
    assert res["status_code"] == "204"
    assert res["account_status"] == "DISABLED"

    matcher = {"path": "/v2/pay/account/{0}/unbind".format(account_id), "server_key": sk}
    assert admin("POST", "/requests/count", matcher)[1] == {"count": 1}
    _, found = admin("POST", "/requests/find", matcher)
    (entry,) = found["requests"]
    assert entry["method"] == "POST"
    assert entry["server_key"] == sk
    assert entry["headers"]["user-agent"] == "midtransclient-python/1.4.2"
    assert entry["status"] == 200
    assert entry["status_code"] == "204"
    assert entry["fault"] is None
