"""GoPay charges with the official Midtrans Python client (midtransclient 1.4.2, unmodified) against
pay-account-mock: charge, status, notification(), cancel, expire, refund, refundDirect, capture, and
how the client classifies the errors. Run through run.sh, which starts the server and sets MOCK_URL.

Every test links its own account (its own phone number) and uses its own order ids, so the tests
share no state with each other or with test_pay_account.py.
"""
import hashlib
import json
import os
import re
import uuid

import midtransclient
import pytest
import requests
from midtransclient.error_midtrans import MidtransAPIError

SERVER_KEY = "SB-Mid-server-PYCHARGE123"
CALLBACK_URL = "https://merchant.test/done"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
NOT_MODIFIABLE = "Merchant cannot modify the status of the transaction"
INVALID_AMOUNT = "Refund request is rejected due to invalid amount"


def mock():
    return os.environ["MOCK_URL"]


def core():
    """A client pointed at the mock per instance, as in test_pay_account.py."""
    api = midtransclient.CoreApi(is_production=False, server_key=SERVER_KEY,
                                 client_key="SB-Mid-client-PYCHARGE123")
    api.api_config.CORE_SANDBOX_BASE_URL = mock()
    return api


def order_id(label):
    """An order id no other test (or earlier run against the same server) uses."""
    return "py-{0}-{1}".format(label, uuid.uuid4().hex[:8])


def admin(method, path):
    """The control API: plain JSON, no Midtrans authentication."""
    res = requests.request(method, mock() + "/__admin" + path, timeout=10)
    assert res.ok, "control API {0} {1}: HTTP {2} {3}".format(method, path, res.status_code, res.text)
    return res.json()


def link_params(phone):
    return {"payment_type": "gopay",
            "gopay_partner": {"phone_number": phone, "country_code": "62",
                              "redirect_url": "https://www.gojek.com"}}


def linked_account(api, phone):
    """Links a fresh account as the customer would; returns (account_id, GOPAY_WALLET token)."""
    created = api.link_payment_account(link_params(phone))
    assert created["status_code"] == "201"
    assert created["account_status"] == "PENDING"
    account_id = created["account_id"]
    admin("POST", "/accounts/{0}/link?wait=false".format(account_id))
    account = api.get_payment_account(account_id)
    assert account["status_code"] == "200"
    assert account["account_status"] == "ENABLED"
    options = {o["name"]: o for o in account["metadata"]["payment_options"]}
    assert options["GOPAY_WALLET"]["token"]
    return account_id, options["GOPAY_WALLET"]["token"]


def balances(api, account_id):
    """The balances GET /v2/pay/account reports, by payment option name."""
    account = api.get_payment_account(account_id)
    return {o["name"]: o["balance"]["value"] for o in account["metadata"]["payment_options"]}


def charge_params(account_id, token, order, amount, **gopay_extra):
    gopay = {"account_id": account_id, "payment_option_token": token, "callback_url": CALLBACK_URL}
    gopay.update(gopay_extra)
    return {"payment_type": "gopay", "gopay": gopay,
            "transaction_details": {"order_id": order, "gross_amount": amount}}


def assert_body_error(err, code, message):
    """A body error over HTTP 200: MidtransAPIError with http_status_code 200 and the body's code."""
    assert err.value.http_status_code == 200
    assert err.value.api_response_dict["status_code"] == code
    assert err.value.api_response_dict["status_message"] == message
    assert "API status code: `{0}`".format(code) in err.value.message
    assert message in err.value.message


def signature(body):
    raw = body["order_id"] + body["status_code"] + body["gross_amount"] + SERVER_KEY
    return hashlib.sha512(raw.encode()).hexdigest()


def test_a_charge_below_the_pin_threshold_settles_at_once_and_debits_the_wallet():
    api = core()
    account_id, token = linked_account(api, "81200002001")
    order = order_id("settle")
    res = api.charge(charge_params(account_id, token, order, 10000))
    assert res["status_code"] == "200"
    assert res["status_message"] == "Success, GoPay transaction is successful"
    assert res["transaction_status"] == "settlement"
    assert res["fraud_status"] == "accept"
    assert res["order_id"] == order
    assert UUID.match(res["transaction_id"])
    assert res["gross_amount"] == "10000.00"
    assert res["currency"] == "IDR"
    assert res["payment_type"] == "gopay"
    assert "actions" not in res
    assert balances(api, account_id) == {"GOPAY_WALLET": "990000.00", "PAY_LATER": "350000.00"}

    for id_ in (order, res["transaction_id"]):
        status = api.transactions.status(id_)
        assert status["status_code"] == "200"
        assert status["transaction_status"] == "settlement"
        assert status["transaction_id"] == res["transaction_id"]
        assert status["order_id"] == order
        assert status["payment_option_type"] == "GOPAY_WALLET"
        assert status["signature_key"] == signature(status)

    listed = admin("GET", "/transactions?account_id=" + account_id)["transactions"]
    assert [(t["transaction_id"], t["order_id"], t["transaction_status"], t["gross_amount"])
            for t in listed] == [(res["transaction_id"], order, "settlement", "10000.00")]


def test_a_charge_from_the_threshold_up_is_pending_and_settles_after_the_pin():
    api = core()
    account_id, token = linked_account(api, "81200002002")
    order = order_id("pin")
    res = api.charge(charge_params(account_id, token, order, 100000))
    assert res["status_code"] == "201"
    assert res["status_message"] == "GoPay transaction is created. Action(s) required"
    assert res["transaction_status"] == "pending"
    assert res["gross_amount"] == "100000.00"
    assert [(a["name"], a["method"]) for a in res["actions"]] == [
        ("verification-link-url", "GET"), ("verification-link-app", "GET")]
    assert res["actions"][0]["url"].startswith(mock() + "/v2/gopay/redirect/gppr_")
    assert res["actions"][1]["url"].startswith(mock() + "/v2/gopay/redirect/gppd_")
    assert balances(api, account_id)["GOPAY_WALLET"] == "1000000.00"

    pending = api.transactions.status(res["transaction_id"])
    assert pending["status_code"] == "201"
    assert pending["transaction_status"] == "pending"

    # The customer enters the PIN.
    settled = admin("POST", "/transactions/{0}/settle?wait=false".format(res["transaction_id"]))
    assert settled["transaction"]["transaction_status"] == "settlement"

    status = api.transactions.status(order)
    assert status["status_code"] == "200"
    assert status["transaction_status"] == "settlement"
    assert status["transaction_id"] == res["transaction_id"]
    assert balances(api, account_id)["GOPAY_WALLET"] == "900000.00"


def test_notification_reads_the_status_of_the_transaction_a_payment_notification_names():
    api = core()
    account_id, token = linked_account(api, "81200002003")
    order = order_id("notify")
    res = api.charge(charge_params(account_id, token, order, 150000))
    assert res["transaction_status"] == "pending"

    # The payment notification the merchant received for the pending charge (recorded by the mock).
    log = admin("GET", "/notifications?event=payment&order_id=" + order)["notifications"]
    assert len(log) == 1
    notification = log[0]["payload"]
    assert notification["transaction_id"] == res["transaction_id"]
    assert notification["transaction_status"] == "pending"
    assert notification["status_code"] == "201"
    assert notification["signature_key"] == signature(notification)

    pending = api.transactions.notification(notification)
    assert pending["status_code"] == "201"
    assert pending["transaction_status"] == "pending"

    admin("POST", "/transactions/{0}/settle?wait=false".format(res["transaction_id"]))
    for body in (notification, json.dumps(notification)):
        status = api.transactions.notification(body)
        assert status["status_code"] == "200"
        assert status["transaction_status"] == "settlement"
        assert status["transaction_id"] == res["transaction_id"]
        assert status["order_id"] == order
        assert status["gross_amount"] == "150000.00"
        assert status["signature_key"] == signature(status)


def test_cancel_of_a_pending_charge_is_200_cancel_and_frees_the_order_id():
    api = core()
    account_id, token = linked_account(api, "81200002004")
    order = order_id("cancel")
    res = api.charge(charge_params(account_id, token, order, 120000))
    assert res["transaction_status"] == "pending"

    cancelled = api.transactions.cancel(res["transaction_id"])
    assert cancelled["status_code"] == "200"
    assert cancelled["status_message"] == "Success, transaction is canceled"
    assert cancelled["transaction_status"] == "cancel"
    assert cancelled["transaction_id"] == res["transaction_id"]

    status = api.transactions.status(res["transaction_id"])
    assert status["status_code"] == "200"
    assert status["transaction_status"] == "cancel"
    assert balances(api, account_id)["GOPAY_WALLET"] == "1000000.00"

    # A charge cancelled while pending does not keep its order id.
    again = api.charge(charge_params(account_id, token, order, 1000))
    assert again["status_code"] == "200"
    assert again["transaction_id"] != res["transaction_id"]


def test_expire_of_a_pending_charge_is_407_and_does_not_raise():
    api = core()
    account_id, token = linked_account(api, "81200002005")
    order = order_id("expire")
    res = api.charge(charge_params(account_id, token, order, 100000))
    assert res["transaction_status"] == "pending"

    expired = api.transactions.expire(order)
    assert expired["status_code"] == "407"
    assert expired["status_message"] == "Success, transaction has expired"
    assert expired["transaction_status"] == "expire"
    assert expired["transaction_id"] == res["transaction_id"]

    status = api.transactions.status(res["transaction_id"])
    assert status["status_code"] == "407"
    assert status["transaction_status"] == "expire"
    assert status["signature_key"] == signature(status)
    assert balances(api, account_id)["GOPAY_WALLET"] == "1000000.00"

    # Only a pending charge can be expired.
    with pytest.raises(MidtransAPIError) as err:
        api.transactions.expire(res["transaction_id"])
    assert_body_error(err, "412", NOT_MODIFIABLE)


def test_a_partial_refund_then_a_direct_refund_of_the_rest_credit_the_wallet_back():
    api = core()
    account_id, token = linked_account(api, "81200002006")
    order = order_id("refund")
    res = api.charge(charge_params(account_id, token, order, 20000))
    assert res["transaction_status"] == "settlement"
    assert balances(api, account_id)["GOPAY_WALLET"] == "980000.00"

    partial = api.transactions.refund(res["transaction_id"], {
        "refund_key": "k1", "amount": 5000, "reason": "one item out of stock"})
    assert partial["status_code"] == "200"
    assert partial["status_message"] == "Success, refund request is approved"
    assert partial["transaction_status"] == "partial_refund"
    assert partial["refund_amount"] == "5000.00"
    assert partial["refund_key"] == "k1"
    assert partial["gross_amount"] == "20000.00"
    assert balances(api, account_id)["GOPAY_WALLET"] == "985000.00"
    assert api.transactions.status(order)["transaction_status"] == "partial_refund"

    rest = api.transactions.refundDirect(order, {
        "refund_key": "k2", "amount": 15000, "reason": "order cancelled"})
    assert rest["status_code"] == "200"
    assert rest["status_message"] == "Success, refund request is approved by the bank"
    assert rest["transaction_status"] == "refund"
    assert rest["refund_amount"] == "15000.00"
    assert rest["refund_key"] == "k2"
    assert balances(api, account_id)["GOPAY_WALLET"] == "1000000.00"

    status = api.transactions.status(res["transaction_id"])
    assert status["status_code"] == "200"
    assert status["transaction_status"] == "refund"
    assert status["refund_amount"] == "20000.00"
    assert [(r["refund_key"], r["refund_amount"]) for r in status["refunds"]] == [
        ("k1", "5000.00"), ("k2", "15000.00")]


def test_a_pre_auth_charge_authorizes_holds_the_amount_and_captures_to_settlement():
    api = core()
    account_id, token = linked_account(api, "81200002007")
    order = order_id("preauth")
    res = api.charge(charge_params(account_id, token, order, 50000, pre_auth=True))
    assert res["status_code"] == "200"
    assert res["transaction_status"] == "authorize"
    assert res["channel_response_code"] == "0"
    assert balances(api, account_id)["GOPAY_WALLET"] == "950000.00"
    assert api.transactions.status(order)["transaction_status"] == "authorize"

    captured = api.capture({"transaction_id": res["transaction_id"], "gross_amount": 50000})
    assert captured["status_code"] == "200"
    assert captured["status_message"] == "Success, GoPay transaction is successful"
    assert captured["transaction_status"] == "settlement"
    assert captured["transaction_id"] == res["transaction_id"]

    status = api.transactions.status(order)
    assert status["status_code"] == "200"
    assert status["transaction_status"] == "settlement"
    assert balances(api, account_id)["GOPAY_WALLET"] == "950000.00"


def test_cancel_of_an_authorization_releases_the_hold():
    api = core()
    account_id, token = linked_account(api, "81200002008")
    res = api.charge(charge_params(account_id, token, order_id("release"), 30000, pre_auth=True))
    assert res["transaction_status"] == "authorize"
    assert balances(api, account_id)["GOPAY_WALLET"] == "970000.00"
    cancelled = api.transactions.cancel(res["transaction_id"])
    assert cancelled["status_code"] == "200"
    assert cancelled["transaction_status"] == "cancel"
    assert balances(api, account_id)["GOPAY_WALLET"] == "1000000.00"


def test_a_charge_over_the_balance_is_202_deny_not_an_error():
    api = core()
    # The sandbox number whose balances are 0.00 once linked.
    account_id, token = linked_account(api, "8242014881")
    assert balances(api, account_id)["GOPAY_WALLET"] == "0.00"
    res = api.charge(charge_params(account_id, token, order_id("deny"), 10000))
    assert res["status_code"] == "202"
    assert res["status_message"] == "GoPay transaction is denied"
    assert res["transaction_status"] == "deny"
    assert res["channel_response_code"] == "201"
    assert res["channel_response_message"] == "Insufficient Balance"
    status = api.transactions.status(res["transaction_id"])
    assert status["status_code"] == "202"
    assert status["transaction_status"] == "deny"


def test_a_reused_order_id_is_406_over_http_200():
    api = core()
    account_id, token = linked_account(api, "81200002009")
    order = order_id("dup")
    assert api.charge(charge_params(account_id, token, order, 10000))["status_code"] == "200"
    with pytest.raises(MidtransAPIError) as err:
        api.charge(charge_params(account_id, token, order, 10000))
    assert_body_error(err, "406", "The request could not be completed due to a conflict with the "
                      "current state of the target resource, please try again")
    # Nothing was charged twice.
    assert balances(api, account_id)["GOPAY_WALLET"] == "990000.00"


def test_a_charge_to_an_unknown_or_not_yet_linked_wallet_is_404_over_http_200():
    api = core()
    token = "eyJ0eXBlIjogIkdPUEFZX1dBTExFVCJ9"
    with pytest.raises(MidtransAPIError) as err:
        api.charge(charge_params(str(uuid.uuid4()), token, order_id("nowallet"), 10000))
    assert_body_error(err, "404", "GoPay Wallet doesn't exist.")

    created = api.link_payment_account(link_params("81200002010"))
    assert created["account_status"] == "PENDING"
    with pytest.raises(MidtransAPIError) as err:
        api.charge(charge_params(created["account_id"], token, order_id("pending"), 10000))
    assert_body_error(err, "404", "GoPay Wallet doesn't exist.")


def test_status_of_an_unknown_id_is_404_over_http_200():
    with pytest.raises(MidtransAPIError) as err:
        core().transactions.status(order_id("unknown"))
    assert_body_error(err, "404", "Transaction doesn't exist.")


def test_cancel_or_expire_of_a_settled_charge_and_refund_of_a_pending_one_are_412():
    api = core()
    account_id, token = linked_account(api, "81200002011")
    settled = api.charge(charge_params(account_id, token, order_id("settled"), 10000))
    assert settled["transaction_status"] == "settlement"
    with pytest.raises(MidtransAPIError) as err:
        api.transactions.cancel(settled["transaction_id"])
    assert_body_error(err, "412", NOT_MODIFIABLE)
    with pytest.raises(MidtransAPIError) as err:
        api.transactions.expire(settled["order_id"])
    assert_body_error(err, "412", NOT_MODIFIABLE)

    pending = api.charge(charge_params(account_id, token, order_id("pending"), 100000))
    assert pending["transaction_status"] == "pending"
    with pytest.raises(MidtransAPIError) as err:
        api.transactions.refund(pending["transaction_id"],
                                {"refund_key": "k1", "amount": 5000, "reason": "early"})
    assert_body_error(err, "412", NOT_MODIFIABLE)
    # Nothing changed.
    assert api.transactions.status(settled["transaction_id"])["transaction_status"] == "settlement"
    assert api.transactions.status(pending["transaction_id"])["transaction_status"] == "pending"


def test_a_refund_over_what_is_left_is_414_and_a_repeated_refund_key_406():
    api = core()
    account_id, token = linked_account(api, "81200002012")
    res = api.charge(charge_params(account_id, token, order_id("overrefund"), 10000))
    assert res["transaction_status"] == "settlement"
    with pytest.raises(MidtransAPIError) as err:
        api.transactions.refund(res["transaction_id"],
                                {"refund_key": "k0", "amount": 10001, "reason": "too much"})
    assert_body_error(err, "414", INVALID_AMOUNT)

    partial = api.transactions.refund(res["transaction_id"],
                                      {"refund_key": "k1", "amount": 5000, "reason": "half"})
    assert partial["transaction_status"] == "partial_refund"
    with pytest.raises(MidtransAPIError) as err:
        api.transactions.refundDirect(res["transaction_id"],
                                      {"refund_key": "k2", "amount": 6000, "reason": "more than left"})
    assert_body_error(err, "414", INVALID_AMOUNT)
    with pytest.raises(MidtransAPIError) as err:
        api.transactions.refund(res["transaction_id"],
                                {"refund_key": "k1", "amount": 1000, "reason": "again"})
    assert_body_error(err, "406", "Duplicate refund ID")

    status = api.transactions.status(res["transaction_id"])
    assert status["transaction_status"] == "partial_refund"
    assert status["refund_amount"] == "5000.00"
    assert balances(api, account_id)["GOPAY_WALLET"] == "995000.00"


def test_an_invalid_charge_is_a_validation_error_over_http_400():
    api = core()
    account_id, token = linked_account(api, "81200002013")
    with pytest.raises(MidtransAPIError) as err:
        api.charge(charge_params(account_id, token, order_id("zero"), 0))
    assert err.value.http_status_code == 400
    assert "400" in err.value.message
    assert "transaction_details.gross_amount must be greater than or equal to 0.01" in err.value.message
    assert err.value.api_response_dict["status_code"] == "400"
    assert err.value.api_response_dict["status_message"] == \
        "One or more parameters in the payload is invalid."
    assert err.value.api_response_dict["validation_messages"] == [
        "transaction_details.gross_amount must be greater than or equal to 0.01"]

    with pytest.raises(MidtransAPIError) as err:
        api.charge(charge_params(account_id, "not-a-token", order_id("token"), 1000))
    assert err.value.http_status_code == 400
    assert err.value.api_response_dict["validation_messages"] == [
        "GoPay token is invalid for the payment"]
    assert balances(api, account_id)["GOPAY_WALLET"] == "1000000.00"
