//! Starting a server per test and talking to it.

use pay_account_mock::{Config, Server};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The server key most tests use (the one in the reference's signature vectors).
pub const KEY: &str = "SB-Mid-server-TESTKEY123";
pub const OTHER_KEY: &str = "SB-Mid-server-OTHER456";
/// The `"413"` message of a body that is not a JSON object.
pub const MALFORMED: &str =
    "The request cannot be processed due to malformed syntax in the request body";

pub struct TestApp {
    pub server: Server,
    pub url: String,
    pub client: reqwest::Client,
}

/// A server with the shipped fixtures, on a free port.
pub fn spawn_app() -> TestApp {
    spawn_app_with(|_| {})
}

/// A server with a config adjusted by `f` (the port is always 0).
pub fn spawn_app_with(f: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = Config {
        port: 0,
        ..Config::default()
    };
    f(&mut config);
    config.port = 0;
    let server = pay_account_mock::start(config).expect("server starts");
    TestApp {
        url: server.url().to_string(),
        server,
        client: reqwest::Client::new(),
    }
}

/// A response: HTTP status, JSON body (Null when the body is not JSON), raw body.
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
    pub content_type: Option<String>,
}

pub fn gopay(phone: &str) -> Value {
    json!({
        "payment_type": "gopay",
        "gopay_partner": {"phone_number": phone, "country_code": "62", "redirect_url": "https://www.gojek.com"}
    })
}

impl TestApp {
    /// Any request; `key` becomes Basic auth with an empty password.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<String>,
    ) -> Reply {
        let mut req = self.client.request(method, format!("{}{}", self.url, path));
        if let Some(key) = key {
            req = req.basic_auth(key, Some(""));
        }
        if let Some(body) = body {
            req = req.header("Content-Type", "application/json").body(body);
        }
        reply(req.send().await.expect("request sent")).await
    }

    pub async fn create(&self, key: &str, body: &Value) -> Reply {
        self.request(
            Method::POST,
            "/v2/pay/account",
            Some(key),
            Some(body.to_string()),
        )
        .await
    }

    /// Creates a PENDING account for `phone` and returns its id.
    pub async fn create_pending(&self, key: &str, phone: &str) -> String {
        let r = self.create(key, &gopay(phone)).await;
        assert_eq!(r.body["status_code"], "201", "{}", r.text);
        r.body["account_id"]
            .as_str()
            .expect("account_id")
            .to_string()
    }

    pub async fn get(&self, key: &str, id: &str) -> Reply {
        self.request(
            Method::GET,
            &format!("/v2/pay/account/{id}"),
            Some(key),
            None,
        )
        .await
    }

    pub async fn unbind(&self, key: &str, id: &str) -> Reply {
        self.request(
            Method::POST,
            &format!("/v2/pay/account/{id}/unbind"),
            Some(key),
            Some("{}".into()),
        )
        .await
    }

    pub async fn charge(&self, key: &str, body: &Value) -> Reply {
        self.request(
            Method::POST,
            "/v2/charge",
            Some(key),
            Some(body.to_string()),
        )
        .await
    }

    /// Writes `pieces` on a raw connection of its own, `pause` apart (a body that arrives in parts,
    /// bytes no HTTP client would send), and returns everything the server answered until it
    /// closed the connection.
    pub async fn exchange(&self, pieces: &[&[u8]], pause: std::time::Duration) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.server.addr())
            .await
            .expect("connected");
        stream.set_nodelay(true).expect("no delay");
        for (i, piece) in pieces.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(pause).await;
            }
            stream.write_all(piece).await.expect("written");
        }
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    }

    /// `POST /__admin/accounts/{id}/{action}`: link, expire, unbind, unlink or notify.
    pub async fn act(&self, id: &str, action: &str) -> Reply {
        self.admin(
            Method::POST,
            &format!("/__admin/accounts/{id}/{action}"),
            None,
        )
        .await
    }

    /// This server's state (`GET /__admin/state`) put into `other` (`PUT /__admin/state`, which may
    /// be this one); the put's answer.
    pub async fn export_into(&self, other: &TestApp) -> Reply {
        let saved = self.admin(Method::GET, "/__admin/state", None).await;
        assert_eq!(saved.status, 200, "{}", saved.text);
        other
            .admin(Method::PUT, "/__admin/state", Some(saved.body))
            .await
    }

    /// `POST /__admin/reset` on a task of its own, to act while it runs; the reset's status.
    pub fn reset_in_background(&self) -> tokio::task::JoinHandle<reqwest::StatusCode> {
        let client = self.client.clone();
        let url = format!("{}/__admin/reset", self.url);
        tokio::spawn(async move { client.post(url).send().await.expect("reset sent").status() })
    }

    /// A control API call (no Midtrans auth).
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.request(method, path, None, body.map(|b| b.to_string()))
            .await
    }

    /// Moves the mock clock forward by `seconds` (`POST /__admin/clock/advance`).
    pub async fn advance_clock(&self, seconds: u64) -> Reply {
        self.admin(
            Method::POST,
            "/__admin/clock/advance",
            Some(serde_json::json!({ "seconds": seconds })),
        )
        .await
    }

    /// A request with exactly these headers and this body: nothing is added.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let mut req = self.client.request(method, format!("{}{}", self.url, path));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.body(body);
        }
        reply(req.send().await.expect("request sent")).await
    }

    /// Links a PENDING account as the customer approving it would (through the control API).
    pub async fn link(&self, id: &str) {
        let r = self
            .admin(
                Method::POST,
                &format!("/__admin/accounts/{id}/link?wait=false"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "link {id}: {}", r.text);
    }

    /// The token of a linked account's first payment option (its GoPay wallet), as a charge sends it.
    pub async fn wallet_token(&self, key: &str, id: &str) -> String {
        let account = self.get(key, id).await;
        account.body["metadata"]["payment_options"][0]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("account {id} has no payment option token: {}", account.text))
            .to_string()
    }

    /// How many accounts the server holds (`/__admin/health`).
    pub async fn account_count(&self) -> u64 {
        let r = self.admin(Method::GET, "/__admin/health", None).await;
        r.body["accounts"].as_u64().expect("health counts accounts")
    }

    /// Transactions the server holds (up to 1,000: one page of the control API's list).
    pub async fn transaction_count(&self) -> usize {
        let r = self
            .admin(Method::GET, "/__admin/transactions?limit=1000", None)
            .await;
        r.body["transactions"].as_array().expect("a list").len()
    }

    /// The notification log (first page, up to 1,000), with an optional query such as
    /// `account_id=...`.
    pub async fn notifications(&self, query: &str) -> Vec<Value> {
        let r = self
            .admin(
                Method::GET,
                &format!("/__admin/notifications?limit=1000&{query}"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["notifications"]
            .as_array()
            .expect("a list of notifications")
            .clone()
    }

    /// The accounts a server key owns (first page, up to 1,000).
    pub async fn accounts_of(&self, key: &str) -> Vec<Value> {
        let r = self
            .admin(
                Method::GET,
                &format!("/__admin/accounts?limit=1000&server_key={key}"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["accounts"]
            .as_array()
            .expect("a list of accounts")
            .clone()
    }
}

pub async fn reply(r: reqwest::Response) -> Reply {
    let status = r.status();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = r.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        body,
        text,
        content_type,
    }
}

/// Asserts a Midtrans error envelope: exactly status_code, status_message (and validation_messages),
/// and a UUID id.
pub fn assert_envelope(r: &Reply, http: u16, code: &str, message: &str) {
    assert_eq!(r.status.as_u16(), http, "{}", r.text);
    let obj = r
        .body
        .as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {}", r.text));
    let id = obj.get("id").and_then(Value::as_str).unwrap_or_default();
    assert!(
        uuid::Uuid::parse_str(id).is_ok(),
        "id is a UUID: {}",
        r.text
    );
    let mut expected = json!({"status_code": code, "status_message": message});
    if let Some(v) = obj.get("validation_messages") {
        expected["validation_messages"] = v.clone();
    }
    expected["id"] = json!(id);
    assert_eq!(r.body, expected);
}

/// The malformed-body `"413"`: exactly the documented body, which has no `id`.
pub fn assert_malformed(r: &Reply, http: u16) {
    assert_eq!(r.status.as_u16(), http, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"status_code": "413", "status_message": MALFORMED}),
        "{}",
        r.text
    );
}

/// `Authorization` header value for a server key (Basic, empty password).
pub fn basic(key: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
    )
}

/// Asserts a `"400"` validation envelope with HTTP 400 and exactly these messages.
pub fn assert_validation(r: &Reply, messages: &[&str]) {
    assert_envelope(
        r,
        400,
        "400",
        "One or more parameters in the payload is invalid.",
    );
    assert_eq!(r.body["validation_messages"], json!(messages), "{}", r.text);
}

/// Asserts the body is served as `application/json`.
pub fn assert_json(r: &Reply) {
    assert_eq!(
        r.content_type.as_deref(),
        Some("application/json"),
        "{}",
        r.text
    );
}

/// A wiremock server of this test's own. wiremock's pooled servers (`MockServer::start`) pass from
/// test to test on the same port, so a request a finished test's mock still had on the wire could
/// be recorded by the next test's receiver.
pub async fn own_server() -> wiremock::MockServer {
    wiremock::MockServer::builder().start().await
}

/// A notification receiver that answers every POST with `status` and records it.
pub async fn receiver(status: u16) -> wiremock::MockServer {
    let server = own_server().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}
