//! Writing the state file: atomically, and past the kernel's page cache where the file system
//! allows it.
//!
//! A save writes the whole state (tens of megabytes with 100,000 accounts) every interval while
//! the state keeps changing. Written through the page cache, each save left that much dirty memory
//! for the kernel's writeback threads, whose work slowed the answers served meanwhile (a GET's p99
//! at one connection, four times the figure without a state file; see BENCHMARKS.md, "The state
//! file"). Written with direct I/O (`O_DIRECT` on Linux), the save's own thread hands whole blocks
//! to the disk and waits for them, and nothing is left for anyone else to do.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes what `write` writes over `path` atomically: a temporary file in the same folder, flushed
/// to disk, renamed over the old one. Streamed through a buffer of a megabyte: a large state is
/// never one buffer in memory.
///
/// # Errors
/// Any I/O failure; the old file is then intact.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut Blocks) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "state".into(), |n| n.to_string_lossy().into_owned());
    // One name per write: two servers of one process may save to one file (embedded servers
    // started with the same config), and must not write into one temporary file at once.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let result = (|| {
        let mut out = Blocks::create(tmp.clone())?;
        write(&mut out)?;
        let file = out.finish()?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename itself reaches the disk with the folder.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The size and alignment direct I/O asks of every write (its address, length and offset): 4 KiB
/// covers the logical blocks of the disks Linux supports.
const BLOCK: usize = 4096;
/// Bytes gathered before a write: whole blocks, so that every write but the last is direct.
pub const BUFFER: usize = 1 << 20;

/// A file written in whole, aligned blocks, directly to the disk where the file system takes
/// direct I/O, through the page cache elsewhere.
pub struct Blocks {
    file: File,
    path: PathBuf,
    /// Whether `file` was opened for direct I/O.
    direct: bool,
    /// [`BUFFER`] bytes from `start` on, aligned to [`BLOCK`]; the rest is the room alignment took.
    raw: Vec<u8>,
    start: usize,
    /// Bytes gathered in the buffer, and bytes written to the file before them.
    len: usize,
    written: u64,
}

impl Blocks {
    /// Creates (or empties) the file at `path`.
    ///
    /// # Errors
    /// The file cannot be created.
    pub fn create(path: PathBuf) -> std::io::Result<Self> {
        let (file, direct) = match open_direct(&path) {
            Ok(file) => (file, true),
            // Not every file system takes direct I/O (tmpfs before Linux 6.6, some network and
            // FUSE ones): the page cache then, as any other write.
            Err(_) => (File::create(&path)?, false),
        };
        let raw = vec![0; BUFFER + BLOCK];
        let start = raw.as_ptr().align_offset(BLOCK).min(BLOCK);
        Ok(Self {
            file,
            path,
            direct,
            raw,
            start,
            len: 0,
            written: 0,
        })
    }

    /// Whether the file is written past the page cache.
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    /// Writes what the buffer holds, padded to a whole block, and then cuts the file to what was
    /// written, so that the padding never shows.
    ///
    /// # Errors
    /// Any I/O failure.
    pub fn finish(mut self) -> std::io::Result<File> {
        let end = self.written.saturating_add(self.len as u64);
        if self.len > 0 {
            let padded = self.len.div_ceil(BLOCK).saturating_mul(BLOCK);
            let tail = self.start + self.len..self.start + padded;
            // Spaces: even uncut, the padding would be white space after the JSON document.
            self.raw[tail].fill(b' ');
            self.len = padded;
            self.write_buffer()?;
        }
        self.file.set_len(end)?;
        Ok(self.file)
    }

    fn write_buffer(&mut self) -> std::io::Result<()> {
        let chunk = self.start..self.start + self.len;
        match self.file.write_all(&self.raw[chunk.clone()]) {
            Err(e) if self.direct && e.kind() == std::io::ErrorKind::InvalidInput => {
                // A file system that opened the file for direct I/O but refuses its writes.
                self.write_through_cache()?;
                self.file.write_all(&self.raw[chunk])?;
            }
            other => other?,
        }
        self.written = self.written.saturating_add(self.len as u64);
        self.len = 0;
        Ok(())
    }

    /// Goes on writing through the page cache from where the direct writes stopped.
    fn write_through_cache(&mut self) -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new().write(true).open(&self.path)?;
        file.seek(SeekFrom::Start(self.written))?;
        self.file = file;
        self.direct = false;
        Ok(())
    }
}

impl Write for Blocks {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len().min(BUFFER - self.len);
        let at = self.start + self.len;
        self.raw[at..at + n].copy_from_slice(&buf[..n]);
        self.len += n;
        if self.len == BUFFER {
            self.write_buffer()?;
        }
        Ok(n)
    }

    /// Writes only whole buffers: the last, partial one waits for [`Blocks::finish`].
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_: &Path) -> std::io::Result<File> {
    Err(std::io::ErrorKind::Unsupported.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pam-disk-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| b'a' + (i % 26) as u8).collect()
    }

    /// Writes `bytes` in uneven pieces, switching to the page cache after `switch_at` bytes.
    fn written(path: &Path, bytes: &[u8], switch_at: Option<usize>) -> Vec<u8> {
        let mut out = Blocks::create(path.to_path_buf()).unwrap();
        for (i, piece) in bytes.chunks(7919).enumerate() {
            if switch_at.is_some_and(|at| i * 7919 >= at) && out.is_direct() {
                out.write_through_cache().unwrap();
            }
            out.write_all(piece).unwrap();
        }
        drop(out.finish().unwrap());
        std::fs::read(path).unwrap()
    }

    /// Two saves of one file at once (two servers of one process with one state file) each write
    /// a temporary file of their own: the file ends as one of them wrote it, never a mix.
    #[test]
    fn saves_of_one_file_at_once_do_not_mix() {
        let dir = scratch();
        let path = dir.join("state.json");
        let documents: Vec<Vec<u8>> = [b'x', b'y']
            .iter()
            .map(|&b| vec![b; 3 * BUFFER + 12_345])
            .collect();
        for _ in 0..5 {
            std::thread::scope(|s| {
                for document in &documents {
                    let path = &path;
                    s.spawn(move || {
                        write_atomic(path, |out| {
                            for piece in document.chunks(7919) {
                                out.write_all(piece)?;
                            }
                            Ok(())
                        })
                        .unwrap();
                    });
                }
            });
            let saved = std::fs::read(&path).unwrap();
            assert!(
                documents.contains(&saved),
                "a save of {} bytes mixed",
                saved.len()
            );
        }
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_holds_exactly_what_was_written_whatever_its_length() {
        let dir = scratch();
        let path = dir.join("state.json");
        let lengths = [
            0,
            1,
            BLOCK - 1,
            BLOCK,
            BLOCK + 1,
            BUFFER - 1,
            BUFFER,
            BUFFER + 1,
            3 * BUFFER + 5,
        ];
        for len in lengths {
            let bytes = pattern(len);
            assert_eq!(written(&path, &bytes, None), bytes, "{len} bytes");
        }
        // A longer file before does not leave its end behind.
        let short = pattern(10);
        written(&path, &pattern(2 * BUFFER), None);
        assert_eq!(written(&path, &short, None), short);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_write_that_goes_on_through_the_page_cache_loses_nothing() {
        let dir = scratch();
        let path = dir.join("state.json");
        let bytes = pattern(2 * BUFFER + 3 * BLOCK + 11);
        for switch_at in [0, BUFFER, 2 * BUFFER] {
            assert_eq!(written(&path, &bytes, Some(switch_at)), bytes);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn write_atomic_replaces_the_file_and_leaves_no_temporary() {
        let dir = scratch();
        let path = dir.join("qa.json");
        write_atomic(&path, |f| f.write_all(b"one")).unwrap();
        write_atomic(&path, |f| f.write_all(b"two")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(names.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
