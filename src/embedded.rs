//! Embedded servers without threads of their own.
//!
//! A test suite that starts a server per test cannot pay for an actix system, an acceptor thread and
//! a worker thread per server. A server started with `workers: None` is instead a task on one of a
//! few process-wide threads (one per core, at most [`MAX_THREADS`], each started only when every
//! existing one already serves a server): its own accept loop feeds actix-web's HTTP service, with
//! the same timeouts `HttpServer` uses. Starting one is binding a socket and sending a job; the
//! socket is listening before [`serve`] returns, so the first request needs no handshake with the
//! thread.

use std::io;
use std::net::TcpListener;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_http::{HttpService, KeepAlive, Protocol};
use actix_service::{IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt, map_config};
use actix_web::dev::AppConfig;
use actix_web::web;
use parking_lot::Mutex;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinSet;

use crate::app::AppState;
use crate::scheduler;

/// Most shared threads a process starts for embedded servers.
pub const MAX_THREADS: usize = 4;
/// Connections one embedded server holds at once (actix-web's default per worker); past it, new
/// connections wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 25_000;
/// How long in-flight requests get to finish when a server stops.
const STOP_GRACE: Duration = Duration::from_secs(1);
/// Pause after a failed accept (out of descriptors, say), so the loop cannot spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// `HttpServer`'s defaults, so that both modes time out alike.
const KEEP_ALIVE: Duration = Duration::from_secs(5);
const CLIENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const CLIENT_DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);

type Job = Box<dyn FnOnce() + Send>;
/// What actix-http's service takes for each accepted connection.
type Connection = (
    tokio::net::TcpStream,
    Protocol,
    Option<std::net::SocketAddr>,
);

/// One shared thread: an actix system that runs the jobs it is sent.
struct Thread {
    jobs: mpsc::UnboundedSender<Job>,
    servers: AtomicUsize,
}

static THREADS: Mutex<Vec<Arc<Thread>>> = Mutex::new(Vec::new());

/// The thread with the fewest servers, or a new one while some existing thread is busy and there
/// are fewer than the cap; counts the new server on it.
fn pick_thread() -> io::Result<Arc<Thread>> {
    let cap = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_THREADS);
    let mut threads = THREADS.lock();
    threads.retain(|t| !t.jobs.is_closed());
    let least = threads
        .iter()
        .min_by_key(|t| t.servers.load(Ordering::Relaxed))
        .cloned();
    let thread = match least {
        Some(t) if t.servers.load(Ordering::Relaxed) == 0 || threads.len() >= cap => t,
        _ => {
            let t = spawn_thread(threads.len())?;
            threads.push(t.clone());
            t
        }
    };
    thread.servers.fetch_add(1, Ordering::Relaxed);
    Ok(thread)
}

fn spawn_thread(index: usize) -> io::Result<Arc<Thread>> {
    let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
    std::thread::Builder::new()
        .name(format!("pay-account-mock-{index}"))
        .spawn(move || {
            SHARED_THREAD.with(|shared| shared.set(true));
            actix_web::rt::System::new().block_on(async move {
                while let Some(job) = rx.recv().await {
                    job();
                }
            });
        })?;
    Ok(Arc::new(Thread {
        jobs,
        servers: AtomicUsize::new(0),
    }))
}

/// What a handle asks of its server's loop.
enum Command {
    /// Stop; the sender hears back once nothing more is accepted or sent.
    Stop(Option<std::sync::mpsc::SyncSender<()>>),
}

thread_local! {
    /// Set on the shared threads, where waiting for a server's own loop would deadlock.
    static SHARED_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// How long a drop waits for the server's loop to acknowledge.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// The handle of a running embedded server.
pub struct Handle {
    commands: mpsc::UnboundedSender<Command>,
    done: Option<oneshot::Receiver<()>>,
}

impl Handle {
    /// Stops the server and returns once it accepts no connection and sends no notification any
    /// more; in-flight requests get their grace period in the background.
    pub fn halt(&self) {
        let (ack, acked) = std::sync::mpsc::sync_channel(1);
        if self.commands.send(Command::Stop(Some(ack))).is_ok() && !on_shared_thread() {
            let _ = acked.recv_timeout(ACK_TIMEOUT);
        }
    }

    /// Asks the server to stop and waits until it has: no longer accepting, in-flight requests
    /// finished or cut after a second (`STOP_GRACE`).
    pub async fn stop(&mut self) {
        let _ = self.commands.send(Command::Stop(None));
        if let Some(done) = self.done.take() {
            let _ = done.await;
        }
    }

    /// Whether the server still runs.
    pub fn is_running(&self) -> bool {
        !self.commands.is_closed()
    }

    /// Blocks the calling thread until the server stops (not from async code).
    pub fn wait(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.blocking_recv();
        }
    }
}

fn on_shared_thread() -> bool {
    SHARED_THREAD.with(std::cell::Cell::get)
}

/// Serves `state` on `listener` (already bound and listening) from a shared thread.
///
/// # Errors
/// No shared thread could be started, or the one picked has stopped.
pub fn serve(listener: TcpListener, state: web::Data<AppState>) -> io::Result<Handle> {
    listener.set_nonblocking(true)?;
    let (commands, rx) = mpsc::unbounded_channel();
    let (done_tx, done) = oneshot::channel();
    let thread = pick_thread()?;
    let job: Job = {
        let thread = thread.clone();
        Box::new(move || {
            actix_web::rt::spawn(async move {
                run(listener, state, rx).await;
                thread.servers.fetch_sub(1, Ordering::Relaxed);
                let _ = done_tx.send(());
            });
        })
    };
    if thread.jobs.send(job).is_err() {
        thread.servers.fetch_sub(1, Ordering::Relaxed);
        return Err(io::Error::other("the embedded server thread has stopped"));
    }
    Ok(Handle {
        commands,
        done: Some(done),
    })
}

async fn run(
    listener: TcpListener,
    state: web::Data<AppState>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "embedded server: cannot register the listener");
            return;
        }
    };
    let local_addr = listener.local_addr().ok();
    let draining = Rc::new(Notify::new());
    let mut http = HttpService::build()
        .keep_alive(KeepAlive::Timeout(KEEP_ALIVE))
        .client_request_timeout(CLIENT_REQUEST_TIMEOUT)
        .client_disconnect_timeout(CLIENT_DISCONNECT_TIMEOUT)
        .h1_allow_half_closed(true)
        .on_connect_ext(
            |io: &tokio::net::TcpStream, ext: &mut actix_http::Extensions| {
                use std::os::fd::AsRawFd;
                ext.insert(crate::intercept::ConnectionFd(io.as_raw_fd()));
            },
        )
        .graceful_shutdown_signal({
            let draining = draining.clone();
            move || {
                let draining = draining.clone();
                async move { draining.notified().await }
            }
        });
    if let Some(addr) = local_addr {
        http = http.local_addr(addr);
    }
    let app = crate::startup::app(state.clone())
        .into_factory()
        .map_err(|e| e.error_response());
    // Connections are handed over with the peer address `accept` already gave.
    let factory = http.finish(map_config(app, |()| AppConfig::default()));
    let service = match factory.new_service(()).await {
        Ok(s) => Rc::new(s),
        Err(()) => {
            tracing::error!("embedded server: the app failed to start");
            return;
        }
    };
    // A task of its own: polled inline in the loop below, it was polled again at every wake-up of
    // the loop (each connection accepted or ended).
    let scheduler = actix_web::rt::spawn(scheduler::run(state.clone()));
    let mut connections = JoinSet::new();
    let stopped = loop {
        tokio::select! {
            biased;
            command = commands.recv() => match command {
                Some(Command::Stop(ack)) => break ack,
                None => break None,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept(), if connections.len() < MAX_CONNECTIONS => match accepted {
                Ok((stream, peer)) => {
                    let service = service.clone();
                    connections.spawn_local(async move {
                        let ready = std::future::poll_fn(|cx| {
                            Service::<Connection>::poll_ready(&*service, cx)
                        });
                        if ready.await.is_ok() {
                            let _ = service.call((stream, Protocol::Http1, Some(peer))).await;
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "embedded server: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    };
    drop(listener);
    // Dropped before the acknowledgement, so that no attempt is made after it.
    scheduler.abort();
    let _ = scheduler.await;
    if let Some(ack) = stopped {
        let _ = ack.send(());
    }
    draining.notify_waiters();
    let _ = tokio::time::timeout(STOP_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.shutdown().await;
}
