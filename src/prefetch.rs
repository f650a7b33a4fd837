//! Asking the CPU to fetch memory ahead of the code that reads it, for the few places where a
//! request waits on memory last touched long before (see BENCHMARKS.md): the journal's oldest
//! entry, the records a growing table moves next.

/// Fetches the cache lines of `len` bytes from `start` (at most 4 KiB of them: past that, a buffer
/// is not worth fetching whole). A hint only: elsewhere than on x86-64 it does nothing.
pub fn lines(start: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        const MOST: usize = 4096;
        for at in (0..len.min(MOST)).step_by(64) {
            // SAFETY: a prefetch is a hint: it reads nothing the program sees and never faults,
            // whatever the address. Callers pass live allocations anyway.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(at).cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (start, len);
}

/// Fetches what `value` covers.
pub fn value<T>(value: &T) {
    lines(std::ptr::from_ref(value).cast(), std::mem::size_of::<T>());
}
