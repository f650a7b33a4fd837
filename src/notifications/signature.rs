//! Notification signatures: plain concatenation, SHA-512, lowercase hex.
//! - Pay Account notifications: `account_id + account_status + status_code + server_key`.
//! - Transaction notifications and status answers: `order_id + status_code + gross_amount +
//!   server_key`, with `gross_amount` as sent (`"100000.00"`).

use sha2::{Digest, Sha512};

pub fn signature_key(
    account_id: &str,
    account_status: &str,
    status_code: &str,
    server_key: &str,
) -> String {
    sha512_hex([account_id, account_status, status_code, server_key])
}

/// The signature of a transaction notification or status answer.
pub fn transaction_signature_key(
    order_id: &str,
    status_code: &str,
    gross_amount: &str,
    server_key: &str,
) -> String {
    sha512_hex([order_id, status_code, gross_amount, server_key])
}

fn sha512_hex(parts: [&str; 4]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hasher = Sha512::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    let mut out = [0u8; 128];
    for (i, b) in hasher.finalize().iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 15)];
    }
    // Hex digits: always UTF-8.
    String::from_utf8(out.to_vec()).unwrap_or_default()
}

/// Whether a notification's `signature_key` matches; what a merchant's handler checks.
pub fn verify(
    account_id: &str,
    account_status: &str,
    status_code: &str,
    server_key: &str,
    signature: &str,
) -> bool {
    signature_key(account_id, account_status, status_code, server_key) == signature
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known-answer vectors from the reference (section 8.2), computed with Python's hashlib.
    #[test]
    fn matches_the_reference_vectors() {
        let key = "SB-Mid-server-TESTKEY123";
        let id = "00000269-7836-49e5-bc65-e592afafec14";
        assert_eq!(
            signature_key(id, "ENABLED", "200", key),
            "60229dfacac1c690bd9ded0b4bbc1cf51825fb49fa388ce5ac464cfc30aeb95958d3f17d42a9251a6dbfeaa5f19758b80f860bfa029648296554e6abaad9cd9a"
        );
        assert_eq!(
            signature_key(id, "DISABLED", "204", key),
            "a09278c2d666f9c7046a60137067e901956b0b59a18e838e7a3166bb43ed90345b3d46b2a824479d9bfe97697003ff0a0b80a70cd182bb8ed4650937ad39690b"
        );
        assert!(verify(
            id,
            "DISABLED",
            "204",
            key,
            &signature_key(id, "DISABLED", "204", key)
        ));
        assert!(!verify(
            id,
            "DISABLED",
            "204",
            "other",
            &signature_key(id, "DISABLED", "204", key)
        ));
    }

    /// The three vectors of the charge reference (section 6.3).
    #[test]
    fn transaction_signatures_match_the_reference_vectors() {
        let key = "SB-Mid-server-TESTKEY123";
        for (code, expected) in [
            (
                "200",
                "eff1178c0818d863fe7fadc70b7b52b5f07aba54f5fb056628d946f76606840d84f157dac8201d94ac588eaeb99bcccbbbb90838ccb4521dd6b5c0882cb32685",
            ),
            (
                "201",
                "c1331ea4ef4e65ad1d4951812cdb3bf2ca360dc98b8adf000dd5baff738914b7171e8cfd32a28fa40f03b181590b957e9ae4c470cd69a1e4029693443cef5b04",
            ),
            (
                "202",
                "59c5ea3402d2dbbc764b94d5b05a038484e63603bb1c8658c1e18f578bc787cf335c98418bd17b41c3b8310db79ca4dbbbf20c76318f5643ffcadea4dc21412c",
            ),
        ] {
            assert_eq!(
                transaction_signature_key("order-1234", code, "100000.00", key),
                expected
            );
        }
    }
}
