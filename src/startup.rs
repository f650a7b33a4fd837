//! Building and starting the server: the one place that wires config, state and routes together.
//!
//! [`start`] binds first and reads the real address back, which is what makes `port: 0` usable from
//! tests and `--port 0` from scripts. The server then runs on a thread of its own (its own actix
//! system), so it can be embedded in any program or test, async or not, and stopped with its handle.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::thread::JoinHandle;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

use crate::app::AppState;
use crate::config::Config;
use crate::{activation, api, control, guard, scheduler, verification};

/// The single route table, shared by the server and in-process tests.
pub fn configure_app(cfg: &mut web::ServiceConfig) {
    api::routes(cfg);
    activation::routes(cfg);
    verification::routes(cfg);
    control::routes(cfg);
}

/// A running server.
pub struct Server {
    url: String,
    addr: SocketAddr,
    state: web::Data<AppState>,
    handle: actix_web::dev::ServerHandle,
    thread: Option<JoinHandle<io::Result<()>>>,
}

/// Binds `config.host:config.port` and starts serving in the background.
///
/// ```no_run
/// let server = pay_account_mock::start(pay_account_mock::Config {
///     port: 0,
///     ..Default::default()
/// })?;
/// println!("BASE_URL={}", server.url());
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
/// A value of `config` is out of its documented range (`InvalidInput`, naming it), the address cannot
/// be bound (naming it), or the HTTP server fails to start.
pub fn start(config: Config) -> io::Result<Server> {
    config
        .validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let listener = TcpListener::bind((config.host.as_str(), config.port)).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot listen on {}:{}: {e}", config.host, config.port),
        )
    })?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}");
    let public_url = config.public_url.clone().unwrap_or_else(|| url.clone());
    let state =
        web::Data::new(AppState::new(&config, public_url, &config.host).map_err(io::Error::other)?);
    let workers = config.workers;
    let (tx, rx) = std::sync::mpsc::channel();
    let app_state = state.clone();
    let thread = std::thread::Builder::new()
        .name("pay-account-mock".into())
        .spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let data = app_state.clone();
                let mut server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .app_data(control::query_config())
                        .wrap(from_fn(guard::check))
                        .configure(configure_app)
                        .default_service(web::to(api::unknown_route))
                })
                .disable_signals()
                .shutdown_timeout(1);
                if let Some(n) = workers {
                    server = server.workers(n);
                }
                let server = match server.listen(listener) {
                    Ok(s) => s.run(),
                    Err(e) => {
                        let _ = tx.send(Err(io::Error::new(e.kind(), e.to_string())));
                        return Err(e);
                    }
                };
                let _ = tx.send(Ok(server.handle()));
                let scheduler = actix_web::rt::spawn(scheduler::run(app_state));
                let result = server.await;
                scheduler.abort();
                result
            })
        })?;
    let handle = rx
        .recv()
        .map_err(|_| io::Error::other("the server thread exited before starting"))??;
    tracing::info!(%url, "pay-account-mock listening");
    Ok(Server {
        url,
        addr,
        state,
        handle,
        thread: Some(thread),
    })
}

impl Drop for Server {
    /// A server dropped without `stop` or `wait` (a finished test) stops at once.
    fn drop(&mut self) {
        if self.thread.is_some() {
            // `stop` sends the command when called; the future it returns only waits for completion.
            #[allow(clippy::let_underscore_future)] // nothing to wait for in a destructor
            let _ = self.handle.stop(false);
        }
    }
}

impl Server {
    /// The base URL clients use, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The shared state, for embedding users who want to look inside.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops accepting, finishes in-flight requests (at most a second), and returns.
    pub async fn stop(mut self) {
        self.handle.stop(true).await;
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    /// Blocks until the server stops (it runs until the process is ended).
    ///
    /// # Errors
    /// The HTTP server failed while running.
    pub fn wait(mut self) -> io::Result<()> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the server thread panicked")),
            None => Ok(()),
        }
    }
}
