//! The `pay-account-mock` binary: flags → `Config` → a running server.

use std::io::IsTerminal;

use pay_account_mock::cli::Cli;
use tracing_subscriber::EnvFilter;

fn main() {
    let cli = match Cli::parse_args(std::env::args_os()) {
        Ok(Ok(cli)) => cli,
        Ok(Err(message)) => fail(&message),
        Err(e) => e.exit(),
    };
    let filter = match EnvFilter::try_new(&cli.log) {
        Ok(filter) => filter,
        Err(e) => fail(&format!(
            "{}: invalid log filter '{}': {e}",
            cli.source("--log"),
            cli.log
        )),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let state_flag = cli.source("--state-file");
    let config = match cli.into_config() {
        Ok(config) => config,
        Err(message) => fail(&message),
    };
    let state_file = config.state_file.clone();
    let server = match pay_account_mock::start(config) {
        Ok(server) => server,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            fail(&format!("{state_flag}: {e}"))
        }
        Err(e) => {
            eprintln!("pay-account-mock: cannot start: {e}");
            std::process::exit(1);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => fail(&format!("cannot wait for signals: {e}")),
    };
    // Caught from before the ready line: a SIGTERM sent the moment it appears still saves.
    let signals = {
        let _runtime = runtime.enter();
        match Signals::catch() {
            Ok(signals) => signals,
            Err(e) => fail(&format!("cannot catch signals: {e}")),
        }
    };
    println!("pay-account-mock listening on {}", server.url());
    let signal = match runtime.block_on(until_stopped(&server, signals)) {
        Ok(signal) => signal,
        Err(e) => {
            // The server ended by itself.
            eprintln!("pay-account-mock: {e}");
            let code = if server.wait().is_err() { 1 } else { 0 };
            std::process::exit(code);
        }
    };
    let started = std::time::Instant::now();
    let saved = runtime.block_on(server.shutdown());
    let ms = started.elapsed().as_millis();
    match (saved, state_file) {
        (Ok(()), Some(path)) => println!(
            "pay-account-mock stopped on {signal} in {ms} ms; state saved to {}",
            path.display()
        ),
        (Ok(()), None) => println!("pay-account-mock stopped on {signal} in {ms} ms"),
        (Err(e), _) => {
            eprintln!("pay-account-mock: stopped on {signal}, but {e}");
            std::process::exit(1);
        }
    }
}

/// SIGTERM and SIGINT (Ctrl-C, `docker stop`), caught instead of ending the process.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    /// Must run inside the runtime that will wait for them.
    fn catch() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }
}

/// Waits for SIGTERM or SIGINT and names it; or fails if the server stops by itself.
async fn until_stopped(
    server: &pay_account_mock::Server,
    Signals { mut term, mut int }: Signals,
) -> Result<&'static str, String> {
    let mut check = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = term.recv() => return Ok("SIGTERM"),
            _ = int.recv() => return Ok("SIGINT"),
            _ = check.tick() => if !server.is_running() {
                return Err("the server stopped".into());
            },
        }
    }
}

fn fail(message: &str) -> ! {
    eprintln!("pay-account-mock: {message}");
    std::process::exit(2);
}
