//! Which host names this server answers to: the rule behind the `Host` check in `guard.rs` (DNS
//! rebinding), built once at start from the config.

use crate::config::Config;

/// The host names a request may be addressed to.
#[derive(Debug, Clone, Default)]
pub struct Hosts {
    /// `--allowed-host '*'`: no check at all.
    any: bool,
    /// Listening on every address: any IP literal names this server.
    any_ip: bool,
    names: Vec<String>,
    /// The `host:port` of the public URL, which most requests carry: checked first, as is.
    usual: String,
    /// The public URL's origin (`https://qa.example`), which pages behind a proxy send as their
    /// `Origin` while the proxy sends another `Host`.
    public_origin: String,
}

/// The hosts this server answers to (see the module comment).
pub fn allowed_hosts(config: &Config, public_url: &str, listen_host: &str) -> Hosts {
    let listen = listen_host.trim_start_matches('[').trim_end_matches(']');
    let any_ip = listen
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified());
    let usual = authority(public_url).unwrap_or_default();
    let public_origin = reqwest::Url::parse(public_url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1", listen]
        .into_iter()
        .map(str::to_ascii_lowercase)
        .collect();
    if let Some(host) = reqwest::Url::parse(public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
    {
        names.push(
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase(),
        );
    }
    names.extend(config.allowed_hosts.iter().map(|h| {
        h.trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase()
    }));
    Hosts {
        any: config.allowed_hosts.iter().any(|h| h == "*"),
        any_ip,
        names,
        usual,
        public_origin,
    }
}

impl Hosts {
    /// Whether a `Host` header value (with or without its port) names this server.
    pub fn allows(&self, host: &str) -> bool {
        if self.any || (!self.usual.is_empty() && host == self.usual) {
            return true;
        }
        let name = host_name(host);
        (self.any_ip && name.parse::<std::net::IpAddr>().is_ok())
            || self.names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// Whether a browser's `Origin` is this server's: plain HTTP to the `Host` the request was
    /// sent to (the server speaks nothing else), or the public URL's origin (a proxy in front may
    /// send another `Host`). `Origin: null` and other schemes are not.
    pub fn same_origin(&self, origin: &str, host: Option<&str>) -> bool {
        let Ok(url) = reqwest::Url::parse(origin.trim()) else {
            return false;
        };
        if !self.public_origin.is_empty()
            && url.origin().ascii_serialization() == self.public_origin
        {
            return true;
        }
        url.scheme() == "http"
            && host.is_some_and(|host| {
                authority_of(&url).is_some_and(|o| o.eq_ignore_ascii_case(host.trim()))
            })
    }
}

/// The `host[:port]` of a URL as a `Host` header carries it (no port when it is the default).
pub fn authority(url: &str) -> Option<String> {
    authority_of(&reqwest::Url::parse(url).ok()?)
}

fn authority_of(u: &reqwest::Url) -> Option<String> {
    let host = u.host_str()?;
    Some(match u.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    })
}

/// The name part of a `Host` value: `[::1]:80` → `::1`, `a.test:80` → `a.test`.
fn host_name(host: &str) -> &str {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.contains(':') => {
            name
        }
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(listen: &str, public_url: &str, allowed: &[&str]) -> Hosts {
        let config = Config {
            allowed_hosts: allowed.iter().map(|h| h.to_string()).collect(),
            ..Config::default()
        };
        allowed_hosts(&config, public_url, listen)
    }

    #[test]
    fn host_names_are_read_without_their_port() {
        assert_eq!(host_name("localhost:8080"), "localhost");
        assert_eq!(host_name("[::1]:8080"), "::1");
        assert_eq!(host_name("[::1]"), "::1");
        assert_eq!(host_name("a.test"), "a.test");
        assert_eq!(host_name("::1"), "::1");
    }

    #[test]
    fn an_origin_is_this_servers_over_plain_http_to_its_host_or_as_the_public_url() {
        let h = hosts("127.0.0.1", "https://qa.example", &[]);
        for (origin, host, same) in [
            ("http://localhost:8080", Some("localhost:8080"), true),
            ("http://LOCALHOST:8080", Some("localhost:8080"), true),
            ("http://localhost", Some("localhost"), true),
            ("http://localhost:80", Some("localhost"), true),
            ("https://localhost:8080", Some("localhost:8080"), false),
            ("http://localhost:8081", Some("localhost:8080"), false),
            ("https://qa.example", Some("mock:8080"), true),
            ("https://qa.example:443", None, true),
            ("http://qa.example", Some("mock:8080"), false),
            ("http://localhost:8080", None, false),
            ("null", Some("localhost:8080"), false),
            ("", Some("localhost:8080"), false),
        ] {
            assert_eq!(h.same_origin(origin, host), same, "{origin} to {host:?}");
        }
    }

    #[test]
    fn only_this_servers_names_are_allowed() {
        let h = hosts("127.0.0.1", "http://mock.internal:9000", &["ci-mock"]);
        for ok in [
            "localhost",
            "LOCALHOST:1",
            "127.0.0.1:8080",
            "[::1]:80",
            "mock.internal",
            "ci-mock:80",
        ] {
            assert!(h.allows(ok), "{ok}");
        }
        for bad in [
            "attacker.example",
            "attacker.example:8080",
            "10.0.0.1",
            "localhost.attacker.example",
        ] {
            assert!(!h.allows(bad), "{bad}");
        }
        let wildcard = hosts("0.0.0.0", "http://0.0.0.0:8080", &[]);
        assert!(wildcard.allows("192.168.1.5:8080"));
        assert!(!wildcard.allows("attacker.example"));
        assert!(hosts("127.0.0.1", "http://127.0.0.1", &["*"]).allows("anything.test"));
    }
}
