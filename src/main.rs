//! The `pay-account-mock` binary: flags → `Config` → a running server.

use clap::Parser;
use pay_account_mock::cli::Cli;
use tracing_subscriber::EnvFilter;

fn main() {
    let cli = Cli::parse();
    let filter = EnvFilter::try_new(&cli.log).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let config = match cli.into_config() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("pay-account-mock: {message}");
            std::process::exit(2);
        }
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
