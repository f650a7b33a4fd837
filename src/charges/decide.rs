//! Where a charge is decided: the outcome table of reference section 2.2, as a pure function of what
//! the mock knows when the charge arrives.

use crate::accounts::{Account, AccountStatus};
use crate::money::Amount;

use super::{DenyReason, INSUFFICIENT_BALANCE};

/// What the charge request asks for.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub token: &'a str,
    pub amount: Amount,
    pub pre_auth: bool,
    pub recurring: bool,
}

/// What the mock knows about the account and the merchant.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The account, if the merchant may charge it, with its status now.
    pub account: Option<(&'a Account, AccountStatus)>,
    /// The account's phone number is scripted as blocked.
    pub blocked: bool,
    /// The order id is taken by an earlier transaction of this merchant.
    pub order_id_taken: bool,
    /// Amounts from this one up need the customer's PIN.
    pub pin_threshold: Amount,
}

/// The outcome of a charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// `"404"` "GoPay Wallet doesn't exist.": unknown, foreign, or not ENABLED.
    WalletNotFound,
    /// HTTP 400 "GoPay token is invalid for the payment": no active option has the token.
    TokenInvalid,
    /// `"410"` "GoPay user is blocked".
    UserBlocked,
    /// `"406"`: the order id is taken.
    OrderConflict,
    /// `"202"` deny, from the option at this index.
    Deny {
        option: usize,
        reason: &'static DenyReason,
    },
    /// `"200"` settlement at once, debiting the option.
    Settle { option: usize },
    /// `"200"` authorize: the amount is held on the option until capture, cancel or lapse.
    Authorize { option: usize },
    /// `"201"` pending: the customer must enter the PIN.
    Pending { option: usize },
}

/// Checks in the order Midtrans reports them: the wallet, the token, the user, the order id, the
/// balance, then whether the PIN is needed.
pub fn decide(ask: &Ask<'_>, facts: &Facts<'_>) -> Decision {
    let Some((account, AccountStatus::Enabled)) = facts.account else {
        return Decision::WalletNotFound;
    };
    let Some(option) = account
        .payment_options
        .iter()
        .position(|o| o.active && o.has_token(ask.token))
    else {
        return Decision::TokenInvalid;
    };
    if facts.blocked {
        return Decision::UserBlocked;
    }
    if facts.order_id_taken {
        return Decision::OrderConflict;
    }
    let balance = account.payment_options[option].balance.value;
    if ask.amount > balance {
        return Decision::Deny {
            option,
            reason: &INSUFFICIENT_BALANCE,
        };
    }
    if ask.pre_auth {
        Decision::Authorize { option }
    } else if ask.recurring || ask.amount < facts.pin_threshold {
        Decision::Settle { option }
    } else {
        Decision::Pending { option }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{Balance, PaymentOption, Token};
    use std::sync::Arc;
    use uuid::Uuid;

    fn account(balance: &str, active: bool) -> Account {
        let mut a = Account::new(
            Uuid::nil(),
            AccountStatus::Enabled,
            "81",
            crate::accounts::CountryCode::INDONESIA,
            None,
            0,
        );
        a.payment_options = thin_vec::thin_vec![PaymentOption {
            name: Arc::from("GOPAY_WALLET"),
            active,
            balance: Balance {
                value: Amount::parse(balance).unwrap(),
                currency: Arc::from("IDR"),
            },
            token: Token::Given("tok".into()),
        }];
        a
    }

    fn ask(amount: u64) -> Ask<'static> {
        Ask {
            token: "tok",
            amount: Amount::from_units(amount),
            pre_auth: false,
            recurring: false,
        }
    }

    fn facts(account: &Account, status: AccountStatus) -> Facts<'_> {
        Facts {
            account: Some((account, status)),
            blocked: false,
            order_id_taken: false,
            pin_threshold: Amount::from_units(100_000),
        }
    }

    #[test]
    fn the_outcome_table() {
        let a = account("1000000.00", true);
        let f = facts(&a, AccountStatus::Enabled);
        assert_eq!(decide(&ask(99_999), &f), Decision::Settle { option: 0 });
        assert_eq!(decide(&ask(100_000), &f), Decision::Pending { option: 0 });
        assert_eq!(
            decide(
                &Ask {
                    recurring: true,
                    ..ask(500_000)
                },
                &f
            ),
            Decision::Settle { option: 0 }
        );
        assert_eq!(
            decide(
                &Ask {
                    pre_auth: true,
                    ..ask(10_000)
                },
                &f
            ),
            Decision::Authorize { option: 0 }
        );
        assert_eq!(
            decide(&ask(1_000_001), &f),
            Decision::Deny {
                option: 0,
                reason: &INSUFFICIENT_BALANCE
            }
        );
        assert_eq!(
            decide(
                &Ask {
                    token: "other",
                    ..ask(1)
                },
                &f
            ),
            Decision::TokenInvalid
        );
        assert_eq!(
            decide(
                &ask(1),
                &Facts {
                    order_id_taken: true,
                    ..f
                }
            ),
            Decision::OrderConflict
        );
        assert_eq!(
            decide(&ask(1), &Facts { blocked: true, ..f }),
            Decision::UserBlocked
        );
        for status in [
            AccountStatus::Pending,
            AccountStatus::Expired,
            AccountStatus::Disabled,
        ] {
            assert_eq!(
                decide(&ask(1), &facts(&a, status)),
                Decision::WalletNotFound
            );
        }
        assert_eq!(
            decide(&ask(1), &Facts { account: None, ..f }),
            Decision::WalletNotFound
        );
        let inactive = account("1000000.00", false);
        assert_eq!(
            decide(&ask(1), &facts(&inactive, AccountStatus::Enabled)),
            Decision::TokenInvalid
        );
    }
}
