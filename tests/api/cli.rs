//! The binary's start-up: bad flags and variables are named in one line on standard error, with
//! exit code 2; boolean variables take the usual spellings.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_pay-account-mock");

/// Runs the binary with `args` and `env` (and nothing else from the environment) and expects it to
/// refuse to start; returns its standard error.
fn refused(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_values_name_the_flag_or_the_variable_they_came_from() {
    for (args, env, expected) in [
        (
            &[][..],
            &[("PAY_ACCOUNT_MOCK_ACTIVATION_TTL", "bogus")][..],
            "PAY_ACCOUNT_MOCK_ACTIVATION_TTL (the variable of --activation-ttl)",
        ),
        (
            &["--activation-ttl", "bogus"],
            &[],
            "for '--activation-ttl <ACTIVATION_TTL>'",
        ),
        (
            &[],
            &[("PAY_ACCOUNT_MOCK_WORKERS", "513")],
            "PAY_ACCOUNT_MOCK_WORKERS must be between 1 and 128, got 513",
        ),
        (
            &["--workers", "513"],
            &[],
            "--workers must be between 1 and 128, got 513",
        ),
        (
            &[],
            &[("PAY_ACCOUNT_MOCK_LEGACY_SANDBOX", "maybe")],
            "PAY_ACCOUNT_MOCK_LEGACY_SANDBOX",
        ),
        (&["--log", "[[["], &[], "--log: invalid log filter '[[['"),
        (
            &[],
            &[("PAY_ACCOUNT_MOCK_LOG", "[[[")],
            "PAY_ACCOUNT_MOCK_LOG: invalid log filter",
        ),
        (&["--fixtures", BIN], &[], "is a file; give the folder"),
        (
            &[],
            &[("PAY_ACCOUNT_MOCK_RETRY_SCHEDULE", "99999999999")],
            "PAY_ACCOUNT_MOCK_RETRY_SCHEDULE: a retry interval must be between 0 and 7d",
        ),
        // Under the clock's step: the state file could not hold them, so a restart would fail.
        (
            &["--retry-schedule", "1s,500us"],
            &[],
            "a retry interval must be 0 or at least 1ms",
        ),
        (
            &["--activation-ttl", "500us"],
            &[],
            "--activation-ttl must be 0 or at least 1ms",
        ),
    ] {
        let stderr = refused(args, env);
        assert!(stderr.contains(expected), "{args:?} {env:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    }
}

/// Starts the binary on a free port with `args` and `env` (and nothing else from the environment);
/// returns it, still running, and the line it printed on standard output. Standard error is piped.
/// `GET /v2/pay/account/x` without credentials from the server whose ready line is `line`; the
/// whole answer.
fn get_unknown_account(line: &str) -> String {
    use std::io::{Read, Write};
    let addr = line.trim().rsplit("http://").next().unwrap();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET /v2/pay/account/x HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

fn started(args: &[&str], env: &[(&str, &str)]) -> (std::process::Child, String) {
    let mut child = Command::new(BIN)
        .args(["--port", "0"])
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

#[test]
fn boolean_variables_take_the_usual_spellings() {
    for value in ["1", "true", "yes", "0", "false", "no"] {
        let (mut child, line) = started(
            &[],
            &[
                ("PAY_ACCOUNT_MOCK_LEGACY_SANDBOX", value),
                ("PAY_ACCOUNT_MOCK_NO_UNBIND_NOTIFICATION", value),
            ],
        );
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            line.starts_with("pay-account-mock listening on http://127.0.0.1:"),
            "{value}: {line}"
        );
    }
}

#[test]
fn debug_logs_one_line_per_request_without_colour_when_not_on_a_terminal() {
    use std::io::Read;
    let (mut child, line) = started(&["--log", "pay_account_mock=debug"], &[]);
    let answer = get_unknown_account(&line);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let _ = child.kill();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    let _ = child.wait();
    assert!(
        log.lines()
            .any(|l| l.contains("request method=GET path=\"/v2/pay/account/x\" status=401")),
        "{log}"
    );
    assert!(!log.contains('\u{1b}'), "no colour codes: {log}");
}

#[test]
fn a_faults_file_is_in_effect_from_the_start_and_a_bad_one_is_named() {
    let dir = std::env::temp_dir().join(format!("pam-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"[{"preset":"unavailable"},{"delay_ms":-1}]"#).unwrap();
    let stderr = refused(&["--faults", bad.to_str().unwrap()], &[]);
    assert!(
        stderr.contains("--faults (") && stderr.contains("bad.json"),
        "{stderr}"
    );
    // An endless file is refused once past the bound, not read until memory runs out.
    let stderr = refused(&["--faults", "/dev/zero"], &[]);
    assert!(
        stderr.contains("--faults (/dev/zero)") && stderr.contains("larger than 335544320 bytes"),
        "{stderr}"
    );
    let wrong = dir.join("wrong.json");
    std::fs::write(&wrong, r#"{"faults":[{"times":0,"preset":"unavailable"}]}"#).unwrap();
    let stderr = refused(&[], &[("PAY_ACCOUNT_MOCK_FAULTS", wrong.to_str().unwrap())]);
    assert!(
        stderr.contains("PAY_ACCOUNT_MOCK_FAULTS") && stderr.contains("rule #1: times"),
        "{stderr}"
    );

    let good = dir.join("good.json");
    std::fs::write(&good, r#"[{"method":"GET","preset":"unavailable"}]"#).unwrap();
    let (mut child, line) = started(&["--faults", good.to_str().unwrap()], &[]);
    let answer = get_unknown_account(&line);
    let _ = child.kill();
    let _ = child.wait();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    let _ = std::fs::remove_dir_all(&dir);
}
