//! Asking the CPU to fetch memory ahead of the code that reads it, for the few places where a
//! request waits on memory last touched long before (see BENCHMARKS.md): the journal's oldest
//! entry, a table's buckets for the next id a store draws and for the entries it moves next.

/// Fetches the cache lines of `len` bytes from `start` (at most 4 KiB of them: past that, a buffer
/// is not worth fetching whole). A hint only: elsewhere than on x86-64 it does nothing.
pub fn lines(start: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        const MOST: usize = 4096;
        for at in (0..len.min(MOST)).step_by(64) {
            // SAFETY: a prefetch is a hint: it reads nothing the program sees and never faults,
            // whatever the address (a table's worked-out places may be stale).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(at).cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (start, len);
}

/// Fetches the cache lines of `len` bytes from `address`, which need not be a live allocation's (an
/// address worked out from a table's layout, see `table.rs`).
pub fn address(address: usize, len: usize) {
    lines(std::ptr::without_provenance(address), len);
}
