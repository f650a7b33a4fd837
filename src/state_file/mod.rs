//! The state file (`--state-file`): the whole state of a server as one JSON document, saved while it
//! runs and loaded when it starts, so that a QA session survives a restart. `GET /__admin/state`
//! exports the same document and `PUT /__admin/state` imports it.
//!
//! # What it holds, and what not
//! Accounts (balances, tokens, links used), transactions with their refunds, the notification log
//! with its attempts and pending retries, the phone scenarios changed at run time, the runtime
//! config, the clock's offset, and the id counters (and, with `--seed`, the id generator's place).
//! Not the request journal, the fault rules (those of `--faults` come back with the flag), or
//! idempotency replays: they belong to a CI run, not a QA session.
//!
//! # Saving
//! Every request that may change state (any method but GET, HEAD and OPTIONS) and every change the
//! scheduler makes moves [`AppState::revision`]. The saver wakes every `--state-save-interval`
//! and, when the revision moved, reads the state in pieces of [`CHUNK`] items (each under its lock
//! for a moment, never across I/O) and writes each piece as it is read (the document is never whole
//! in memory; what a save under load holds: `export.rs`) to a temporary file in the same folder
//! (with direct I/O where the file system takes it: `disk.rs`), flushes it to disk and renames it
//! over the old file. A save runs on a thread of its own, never on a worker.
//!
//! # Format versions
//! The document carries `format` and `version`. A file of another format, or of a newer version, is
//! refused and left as it is. When the format changes, [`VERSION`] goes up and [`upgrade`] gains a
//! step that turns a document of the version before into the new one, so old files keep loading.

mod disk;
mod document;
mod export;
mod import;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::app::AppState;

pub use disk::write_atomic;
pub use document::*;
pub use export::{ExportError, Exported, Interrupted, TRIES, export, retrying};
pub use import::{Prepared, import, parse, prepare, upgrade};

/// What the `format` field says.
pub const FORMAT: &str = "pay-account-mock-state";
/// The version this build writes, and the newest it reads.
pub const VERSION: u32 = 1;
/// Items read under one lock while saving: small, so a write that queues behind a piece (and the
/// reads queued behind that write) waits a fraction of a millisecond.
pub const CHUNK: usize = 250;
/// The largest document `PUT /__admin/state` takes, and the largest file read at start.
pub const MAX_BYTES: u64 = 1 << 30;

/// Where a server keeps its state file, and how far it has saved.
pub struct StateFile {
    pub path: PathBuf,
    pub interval: Duration,
    /// The [`AppState::revision`] the file holds.
    saved: AtomicU64,
    /// One save at a time.
    saving: parking_lot::Mutex<()>,
}

impl StateFile {
    pub fn new(path: PathBuf, interval: Duration) -> Self {
        Self {
            path,
            interval,
            saved: AtomicU64::new(0),
            saving: parking_lot::Mutex::new(()),
        }
    }
}

/// Reads the state file at start: `None` when there is none yet.
///
/// # Errors
/// It cannot be read, or is not a valid document; the message names the problem (the caller names
/// the file).
pub fn read(path: &Path) -> Result<Option<Document>, String> {
    let bytes = match crate::limits::read_at_most(path, MAX_BYTES) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => return Err(e.to_string()),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    parse(&bytes).map(Some)
}

/// Saves the state when it changed since the last save (or always, with `force`). Returns whether it
/// wrote. Blocking: call it from a blocking thread.
///
/// # Errors
/// The document could not be written; the message names the file.
pub fn save(app: &AppState, force: bool) -> Result<bool, String> {
    let Some(file) = app.state_file.as_ref() else {
        return Ok(false);
    };
    let _one = file.saving.lock();
    let revision = app.revision();
    if !force && file.saved.load(Ordering::Acquire) == revision {
        return Ok(false);
    }
    let started = std::time::Instant::now();
    let written = retrying(|| {
        let mut written = None;
        let mut interrupted = false;
        let saved = write_atomic(&file.path, |f| {
            let mut out = Paced::new(f);
            match export(app, &mut out) {
                Ok(counts) => written = Some(counts),
                // An error, so that the temporary file goes and the old one stays.
                Err(e @ Interrupted) => {
                    interrupted = true;
                    return Err(std::io::Error::other(e.to_string()));
                }
                Err(ExportError::Io(e)) => return Err(e),
            }
            out.flush()
        });
        match saved {
            Ok(()) => Ok(written.unwrap_or_default()),
            Err(_) if interrupted => Err(Interrupted),
            Err(e) => Err(ExportError::Io(e)),
        }
    })
    .map_err(|e| format!("cannot save the state to {}: {e}", file.path.display()))?;
    let Some(written) = written else {
        // The revision moved with each replacement: the next interval tries again.
        tracing::warn!(
            path = %file.path.display(),
            "the state was reset or replaced at each of {TRIES} tries to save it; not saved this time"
        );
        return Ok(false);
    };
    file.saved.store(revision, Ordering::Release);
    tracing::debug!(
        path = %file.path.display(),
        accounts = written.accounts,
        ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "state saved"
    );
    Ok(true)
}

/// Lets other threads run between two pieces of a long job, such as a save: a save thread in the
/// idle class that the scheduler picks while a worker waits keeps the core for a whole time slice
/// (milliseconds) unless it gives it back, and every request in flight waits that long.
pub fn pace() {
    std::thread::yield_now();
}

/// A writer that calls [`pace`] every [`PACE_BYTES`] written: serialising a large state is one long
/// computation otherwise.
struct Paced<W> {
    inner: W,
    since: usize,
}

/// About a tenth of a millisecond of serialising.
const PACE_BYTES: usize = 32 << 10;

impl<W> Paced<W> {
    fn new(inner: W) -> Self {
        Self { inner, since: 0 }
    }
}

impl<W: Write> Write for Paced<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.since = self.since.saturating_add(n);
        if self.since >= PACE_BYTES {
            self.since = 0;
            pace();
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Saves the state every `--state-save-interval` when it changed; runs until dropped with the
/// server. A failed save is logged and tried again at the next interval.
pub async fn keep_saved(app: actix_web::web::Data<AppState>) {
    let Some(interval) = app.state_file.as_ref().map(|f| f.interval) else {
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep(interval).await;
        if app
            .state_file
            .as_ref()
            .is_some_and(|f| f.saved.load(Ordering::Acquire) == app.revision())
        {
            continue;
        }
        let (done, result) = tokio::sync::oneshot::channel();
        let saver = app.clone();
        // A thread of its own in the idle class: the workers always go first, so a save of a large
        // state does not show in the latency of the requests served meanwhile.
        let spawned = std::thread::Builder::new()
            .name("pay-account-mock-save".into())
            .spawn(move || {
                lower_priority();
                let _ = done.send(save(&saver, false));
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the state save");
            continue;
        }
        match result.await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!("{e}"),
            Err(_) => tracing::error!("the state save ended without an outcome"),
        }
    }
}

/// Puts the calling thread in the idle scheduling class (Linux `SCHED_IDLE`): it runs when the
/// workers leave a core idle, and a worker that wakes takes the core from it at once, so a save
/// never competes with a request. Under a load that keeps every core busy the save waits for a
/// quiet moment; a lock it holds then blocks the workers only until they are idle, which lets it
/// run. Where that class is refused, a nice value of 10; elsewhere, the normal priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: sched_setscheduler reads the parameter we pass by reference and nothing else;
    // gettid and setpriority take and return plain integers.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(0, libc::SCHED_IDLE, &raw const param) != 0 {
            let tid = libc::syscall(libc::SYS_gettid);
            if let Ok(tid) = libc::id_t::try_from(tid) {
                libc::setpriority(libc::PRIO_PROCESS, tid, 10);
            }
        }
    }
}

/// Documents from this size up are followed by [`crate::app::give_back_memory`].
pub const GIVE_BACK_FROM_BYTES: usize = 16 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_formats_and_newer_versions_are_refused() {
        let refusal = |bytes: &[u8]| parse(bytes).err().unwrap_or_default();
        assert!(refusal(b"{}").contains("not a state document"));
        assert!(refusal(b"[1]").contains("not a state document"));
        let newer = format!(r#"{{"format": "{FORMAT}", "version": {}}}"#, VERSION + 1);
        assert!(refusal(newer.as_bytes()).contains("newer"));
        let truncated = format!(r#"{{"format": "{FORMAT}", "version": 1, "acc"#);
        assert!(!refusal(truncated.as_bytes()).is_empty());
    }
}
