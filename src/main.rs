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
    let config = match cli.into_config() {
        Ok(config) => config,
        Err(message) => fail(&message),
    };
    let server = match pay_account_mock::start(config) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("pay-account-mock: cannot start: {e}");
            std::process::exit(1);
        }
    };
    println!("pay-account-mock listening on {}", server.url());
    if let Err(e) = server.wait() {
        eprintln!("pay-account-mock: {e}");
        std::process::exit(1);
    }
}

fn fail(message: &str) -> ! {
    eprintln!("pay-account-mock: {message}");
    std::process::exit(2);
}
