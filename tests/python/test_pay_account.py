"""The official Midtrans Python client (midtransclient 1.4.2, unmodified) against pay-account-mock.

The assertions are the ones the client's own tests/test_tokenization.py makes against the sandbox.
Run through run.sh, which starts the servers and sets MOCK_URL and MOCK_LEGACY_URL.
"""
import os

import midtransclient
import pytest
from midtransclient.error_midtrans import MidtransAPIError

SERVER_KEY = "SB-Mid-server-PYTHON123"


def core(base=None):
    """A client pointed at the mock per instance, as the reference shows (section 11.1)."""
    api = midtransclient.CoreApi(is_production=False, server_key=SERVER_KEY,
                                 client_key="SB-Mid-client-PYTHON123")
    api.api_config.CORE_SANDBOX_BASE_URL = base or os.environ["MOCK_URL"]
    return api


def params(phone):
    return {"payment_type": "gopay",
            "gopay_partner": {"phone_number": phone, "country_code": "62",
                              "redirect_url": "https://www.gojek.com"}}


def test_link_get_and_unlink_a_pending_account():
    api = core()
    created = api.link_payment_account(params("81234567891"))
    assert created["status_code"] == "201"
    assert created["account_status"] == "PENDING"
    account_id = created["account_id"]
    assert [a["name"] for a in created["actions"]] == ["activation-link-url", "activation-link-app"]

    fetched = api.get_payment_account(account_id)
    assert fetched == {"status_code": "201", "payment_type": "gopay",
                       "account_id": account_id, "account_status": "PENDING"}

    with pytest.raises(MidtransAPIError) as err:
        api.unlink_payment_account(account_id)
    assert "412" in err.value.message
    assert "Account status cannot be updated." in err.value.message
    assert err.value.http_status_code == 200
    assert err.value.api_response_dict["status_code"] == "412"


def test_user_not_found_is_a_result_not_an_error():
    res = core().link_payment_account(params("123450001"))
    assert res == {"status_code": "202", "payment_type": "gopay",
                   "channel_response_code": "105", "channel_response_message": "User Not Found"}


def test_blocked_user_is_410_now_and_202_on_the_legacy_sandbox():
    with pytest.raises(MidtransAPIError) as err:
        core().link_payment_account(params("123450002"))
    assert "410" in err.value.message
    assert err.value.api_response_dict["status_message"] == "GoPay user is blocked"

    legacy = core(os.environ["MOCK_LEGACY_URL"]).link_payment_account(params("123450002"))
    assert legacy["status_code"] == "202"
    assert legacy["channel_response_message"] == "Wallet is Blocked"


def test_phone_starting_with_0_is_a_validation_error():
    with pytest.raises(MidtransAPIError) as err:
        core().link_payment_account(params("081234567891"))
    assert "400" in err.value.message
    assert "gopay_partner.phone_number must be numeric digits and must not begin with 0" in err.value.message
    assert err.value.http_status_code == 400


def test_unknown_account_is_404_over_http_200():
    for call in (core().get_payment_account, core().unlink_payment_account):
        with pytest.raises(MidtransAPIError) as err:
            call("dummy")
        assert err.value.http_status_code == 200
        assert err.value.api_response_dict["status_code"] == "404"
        assert err.value.api_response_dict["status_message"] == "Account doesn't exist."


def test_unbind_of_an_enabled_account():
    res = core().unlink_payment_account("00000269-7836-49e5-bc65-e592afafec14")
    assert res == {"status_code": "204", "payment_type": "gopay",
                   "account_id": "00000269-7836-49e5-bc65-e592afafec14",
                   "account_status": "DISABLED", "channel_response_code": "0",
                   "channel_response_message": "Process service request successfully."}


def test_an_empty_server_key_is_401():
    api = midtransclient.CoreApi(is_production=False, server_key="", client_key="")
    api.api_config.CORE_SANDBOX_BASE_URL = os.environ["MOCK_URL"]
    with pytest.raises(MidtransAPIError) as err:
        api.get_payment_account("00000269-7836-49e5-bc65-e592afafec14")
    assert err.value.http_status_code == 401
    assert err.value.api_response_dict["status_message"] == "Unknown Merchant server_key/id"
