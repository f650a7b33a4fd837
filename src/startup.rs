//! Building and starting the server: the one place that wires config, state and routes together.
//!
//! [`start`] binds first and reads the real address back, which is what makes `port: 0` usable from
//! tests and `--port 0` from scripts. The server then runs in the background (on shared threads, or
//! on its own actix system with `workers`), so it can be embedded in any program or test, async or
//! not, and stopped with its handle.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::thread::JoinHandle;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

use crate::app::AppState;
use crate::config::Config;
use crate::{activation, api, control, embedded, guard, pool, scheduler, verification};

/// The single route table, shared by the server and in-process tests.
pub fn configure_app(cfg: &mut web::ServiceConfig) {
    api::routes(cfg);
    activation::routes(cfg);
    verification::routes(cfg);
    control::routes(cfg);
}

/// The whole app for `state`: the guard in front of the route table. Both ways of serving use it.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(state)
        .app_data(control::query_config())
        .wrap(from_fn(guard::check))
        .configure(configure_app)
        .default_service(web::to(api::unknown_route))
}

/// A running server. Dropping it stops it, or hands it back to the pool if it came from
/// [`pooled`](crate::pooled).
pub struct Server {
    url: String,
    addr: SocketAddr,
    state: web::Data<AppState>,
    running: Running,
    /// The config it was started with, kept by pooled servers to find them again.
    pool_config: Option<Box<Config>>,
}

enum Running {
    /// `workers: Some(n)`: its own actix system and worker threads.
    Threaded {
        handle: actix_web::dev::ServerHandle,
        thread: Option<JoinHandle<io::Result<()>>>,
    },
    /// `workers: None`: a task on a shared thread ([`embedded`]).
    Embedded(embedded::Handle),
    /// Moved into the pool.
    Gone,
}

/// Binds `config.host:config.port` and starts serving in the background.
///
/// With `workers: None` (the default) the server runs on a few threads that every embedded server
/// of the process shares, and costs no thread of its own; with `workers: Some(n)` it gets its own
/// actix system with `n` worker threads, as the binary does.
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
    load_state_file(&state)?;
    let running = match config.workers {
        None => Running::Embedded(embedded::serve(listener, state.clone())?),
        Some(workers) => threaded(listener, state.clone(), workers)?,
    };
    tracing::debug!(%url, "pay-account-mock listening");
    Ok(Server {
        url,
        addr,
        state,
        running,
        pool_config: None,
    })
}

/// Loads the state file into `state` when there is one.
///
/// # Errors
/// `InvalidData` naming the file and what is wrong with it; the file is left as it is.
fn load_state_file(state: &AppState) -> io::Result<()> {
    let Some(file) = &state.state_file else {
        return Ok(());
    };
    let bad = |e: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "state file {}: {e} (the file was left as it is)",
                file.path.display()
            ),
        )
    };
    if let Some(doc) = crate::state_file::read(&file.path).map_err(bad)? {
        let prepared = crate::state_file::prepare(state, doc).map_err(bad)?;
        crate::state_file::import(state, prepared);
        tracing::info!(
            path = %file.path.display(),
            accounts = state.store.len(),
            transactions = state.transactions.len(),
            notifications = state.notifications.len(),
            "state loaded"
        );
    }
    Ok(())
}

fn threaded(
    listener: TcpListener,
    state: web::Data<AppState>,
    workers: usize,
) -> io::Result<Running> {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("pay-account-mock".into())
        .spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let data = state.clone();
                let server = HttpServer::new(move || app(data.clone()))
                    .on_connect(|io, ext| {
                        use std::os::fd::AsRawFd;
                        if let Some(s) = io.downcast_ref::<actix_web::rt::net::TcpStream>() {
                            ext.insert(crate::intercept::ConnectionFd(s.as_raw_fd()));
                        }
                    })
                    .disable_signals()
                    .shutdown_timeout(1)
                    .workers(workers);
                let server = match server.listen(listener) {
                    Ok(s) => s.run(),
                    Err(e) => {
                        let _ = tx.send(Err(io::Error::new(e.kind(), e.to_string())));
                        return Err(e);
                    }
                };
                let _ = tx.send(Ok(server.handle()));
                let scheduler = actix_web::rt::spawn(scheduler::run(state));
                let result = server.await;
                scheduler.abort();
                result
            })
        })?;
    let handle = rx
        .recv()
        .map_err(|_| io::Error::other("the server thread exited before starting"))??;
    Ok(Running::Threaded {
        handle,
        thread: Some(thread),
    })
}

impl Drop for Server {
    /// A server dropped without `stop` or `wait` (a finished test) stops at once, or goes back to
    /// the pool it came from.
    fn drop(&mut self) {
        if let Some(config) = self.pool_config.take() {
            let server = Server {
                url: std::mem::take(&mut self.url),
                addr: self.addr,
                state: self.state.clone(),
                running: std::mem::replace(&mut self.running, Running::Gone),
                pool_config: None,
            };
            pool::give_back(server, config);
            return;
        }
        match &mut self.running {
            Running::Threaded { handle, thread } => {
                if thread.is_some() {
                    // `stop` sends the command when called; the future only waits for completion.
                    #[allow(clippy::let_underscore_future)] // nothing to wait for in a destructor
                    let _ = handle.stop(false);
                }
            }
            Running::Embedded(handle) => handle.halt(),
            Running::Gone => {}
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

    /// Whether it still serves (false once its thread or task has ended).
    pub fn is_running(&self) -> bool {
        match &self.running {
            Running::Threaded { thread, .. } => thread.as_ref().is_some_and(|t| !t.is_finished()),
            Running::Embedded(handle) => handle.is_running(),
            Running::Gone => false,
        }
    }

    /// The shared state, for embedding users who want to look inside.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops accepting, finishes in-flight requests (at most a second), saves the state file if
    /// there is one, and returns. A pooled server goes back to its pool instead (as when dropped).
    pub async fn stop(self) {
        if let Err(e) = self.shutdown().await {
            tracing::error!("{e}");
        }
    }

    /// [`Server::stop`], telling whether the last save of the state file worked.
    ///
    /// # Errors
    /// The state file could not be written (the message names it).
    pub async fn shutdown(mut self) -> Result<(), String> {
        if self.pool_config.is_some() {
            return Ok(());
        }
        match &mut self.running {
            Running::Threaded { handle, thread } => {
                handle.stop(true).await;
                if let Some(thread) = thread.take() {
                    let _ = tokio::task::spawn_blocking(move || thread.join()).await;
                }
            }
            Running::Embedded(handle) => handle.stop().await,
            Running::Gone => {}
        }
        if self.state.state_file.is_none() {
            return Ok(());
        }
        // Every request has been answered and no attempt runs any more: this save is the last.
        let state = self.state.clone();
        tokio::task::spawn_blocking(move || crate::state_file::save(&state, true))
            .await
            .map_err(|e| format!("the last save of the state file failed: {e}"))?
            .map(|_| ())
    }

    /// Blocks until the server stops (it runs until the process is ended). Not for async code.
    ///
    /// # Errors
    /// The HTTP server failed while running.
    pub fn wait(mut self) -> io::Result<()> {
        match &mut self.running {
            Running::Threaded { thread, .. } => match thread.take().map(JoinHandle::join) {
                Some(Ok(result)) => result,
                Some(Err(_)) => Err(io::Error::other("the server thread panicked")),
                None => Ok(()),
            },
            Running::Embedded(handle) => {
                handle.wait();
                Ok(())
            }
            Running::Gone => Ok(()),
        }
    }

    /// Resets the state (attempts under way cancelled) for the next user; false for a server that
    /// is not reused: one with its own threads, or one still serving a request of the test that
    /// dropped it (a fault rule's delay, a long wait, a reset on the blocking pool), which would
    /// finish on the next test's state.
    pub(crate) fn reset_for_reuse(&self) -> bool {
        match &self.running {
            Running::Embedded(_) if self.state.is_serving() => false,
            Running::Embedded(_) => {
                self.state.reset();
                true
            }
            Running::Threaded { .. } | Running::Gone => false,
        }
    }

    pub(crate) fn into_pooled(mut self, config: Config) -> Self {
        self.pool_config = Some(Box::new(config));
        self
    }
}
