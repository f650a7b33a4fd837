//! Lists that grow without copying what they hold: the stores' creation-order lists and the
//! accounts' expiry queue.
//!
//! A `Vec` doubles by copying every element into a new buffer twice the size. With a million ids
//! that is 16 MB copied and 32 MB of fresh memory touched in one push, under the store's lock:
//! every request in flight waited for it (see BENCHMARKS.md). These lists keep their elements in
//! chunks of a fixed size instead, and a full chunk is followed by a new one; only the small list
//! of chunk pointers is ever copied.

/// Elements per chunk: 64 KiB of 16-byte ids, so a new chunk is a few dozen pages.
const CHUNK: usize = 4096;

/// A list that grows a chunk at a time. The first chunk grows as a `Vec` does (a store with one
/// account, or a server key with three, does not hold a whole chunk); every chunk but the last
/// holds exactly [`CHUNK`] elements, so an index finds its chunk by division.
pub struct ChunkedVec<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for ChunkedVec<T> {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> ChunkedVec<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, value: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => last.push(value),
            _ => {
                let mut chunk = if self.chunks.is_empty() {
                    Vec::new()
                } else {
                    Vec::with_capacity(CHUNK)
                };
                chunk.push(value);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    /// Takes the last element off. A chunk emptied stays until the next pop, so that a queue
    /// whose length moves back and forth across a chunk's end does not allocate at every push.
    pub fn pop(&mut self) -> Option<T> {
        if self.chunks.last().is_some_and(Vec::is_empty) {
            self.chunks.pop();
        }
        let value = self.chunks.last_mut()?.pop();
        self.len = self.len.saturating_sub(usize::from(value.is_some()));
        value
    }

    pub fn get(&self, index: usize) -> Option<&T> {
        self.chunks.get(index / CHUNK)?.get(index % CHUNK)
    }

    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        self.chunks.get_mut(index / CHUNK)?.get_mut(index % CHUNK)
    }

    /// Swaps two elements; an index past the end changes nothing.
    pub fn swap(&mut self, a: usize, b: usize) {
        let (ca, cb) = (a / CHUNK, b / CHUNK);
        if ca == cb {
            if let Some(chunk) = self.chunks.get_mut(ca)
                && a % CHUNK < chunk.len()
                && b % CHUNK < chunk.len()
            {
                chunk.swap(a % CHUNK, b % CHUNK);
            }
            return;
        }
        let (low, high, il, ih) = if ca < cb {
            (ca, cb, a % CHUNK, b % CHUNK)
        } else {
            (cb, ca, b % CHUNK, a % CHUNK)
        };
        if high >= self.chunks.len() {
            return;
        }
        let (head, tail) = self.chunks.split_at_mut(high);
        if let (Some(x), Some(y)) = (
            head.get_mut(low).and_then(|c| c.get_mut(il)),
            tail.first_mut().and_then(|c| c.get_mut(ih)),
        ) {
            std::mem::swap(x, y);
        }
    }

    /// The elements from `start` to `end` (clamped to the list), in order.
    pub fn range(&self, start: usize, end: usize) -> impl DoubleEndedIterator<Item = &T> {
        let end = end.min(self.len);
        let start = start.min(end);
        let first = start / CHUNK;
        let last = end.div_ceil(CHUNK).max(first);
        self.chunks
            .get(first..last)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .flat_map(move |(i, chunk)| {
                let base = (first + i) * CHUNK;
                let lo = start.saturating_sub(base).min(chunk.len());
                let hi = end.saturating_sub(base).min(chunk.len());
                chunk.get(lo..hi).unwrap_or_default().iter()
            })
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.range(0, self.len)
    }

    /// The index of the first element for which `pred` is false, where `pred` holds for a prefix
    /// of the list (as [`slice::partition_point`]).
    pub fn partition_point(&self, pred: impl Fn(&T) -> bool) -> usize {
        // The chunk where the prefix ends, by each chunk's last element; then within it.
        let chunk = self.chunks.partition_point(|c| c.last().is_some_and(&pred));
        match self.chunks.get(chunk) {
            Some(c) => chunk * CHUNK + c.partition_point(pred),
            None => self.len,
        }
    }

    /// Keeps the elements for which `keep` is true, in order, in place: the kept ones move down
    /// over those dropped, and the tail is popped.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let mut write = 0;
        for read in 0..self.len {
            if self.get(read).is_some_and(&mut keep) {
                self.swap(read, write);
                write += 1;
            }
        }
        while self.len > write {
            self.pop();
        }
    }
}

impl<T> FromIterator<T> for ChunkedVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut list = Self::default();
        for item in items {
            list.push(item);
        }
        list
    }
}

/// A queue that gives its smallest element first (a binary heap), kept in a [`ChunkedVec`].
pub struct MinHeap<T> {
    items: ChunkedVec<T>,
}

impl<T> Default for MinHeap<T> {
    fn default() -> Self {
        Self {
            items: ChunkedVec::default(),
        }
    }
}

impl<T: Ord> MinHeap<T> {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn peek(&self) -> Option<&T> {
        self.items.get(0)
    }

    pub fn push(&mut self, value: T) {
        self.items.push(value);
        let mut at = self.items.len() - 1;
        while at > 0 {
            let parent = (at - 1) / 2;
            if self.items.get(at) >= self.items.get(parent) {
                break;
            }
            self.items.swap(at, parent);
            at = parent;
        }
    }

    pub fn pop(&mut self) -> Option<T> {
        let last = self.items.len().checked_sub(1)?;
        self.items.swap(0, last);
        let smallest = self.items.pop();
        let len = self.items.len();
        let mut at = 0;
        loop {
            let (left, right) = (2 * at + 1, 2 * at + 2);
            let mut least = at;
            if left < len && self.items.get(left) < self.items.get(least) {
                least = left;
            }
            if right < len && self.items.get(right) < self.items.get(least) {
                least = right;
            }
            if least == at {
                break;
            }
            self.items.swap(at, least);
            at = least;
        }
        smallest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chunked list agrees with a `Vec` through pushes, pops, swaps, ranges, binary searches and
    /// retains, across chunk boundaries.
    #[test]
    fn a_chunked_list_agrees_with_a_vec() {
        let mut list = ChunkedVec::default();
        let mut vec = Vec::new();
        let n = 3 * CHUNK + 17;
        for i in 0..n {
            list.push(i * 2);
            vec.push(i * 2);
        }
        assert_eq!(list.len(), vec.len());
        assert_eq!(list.chunks.len(), 4);
        assert!(list.chunks[..3].iter().all(|c| c.len() == CHUNK));
        for (a, b) in [
            (0, 1),
            (5, CHUNK + 3),
            (2 * CHUNK + 1, 7),
            (n - 1, 0),
            (9, 9),
        ] {
            list.swap(a, b);
            vec.swap(a, b);
        }
        list.swap(0, n);
        assert_eq!(list.iter().copied().collect::<Vec<_>>(), vec);
        assert_eq!(list.iter().rev().copied().collect::<Vec<_>>(), {
            let mut v = vec.clone();
            v.reverse();
            v
        });
        for (start, end) in [
            (0, 0),
            (0, n),
            (3, CHUNK),
            (CHUNK - 1, CHUNK + 1),
            (CHUNK, 2 * CHUNK),
            (2 * CHUNK + 5, n + 100),
            (n, n),
            (n + 3, 2),
        ] {
            let want: Vec<usize> = vec
                .get(start.min(end.min(n))..end.min(n))
                .unwrap_or_default()
                .to_vec();
            assert_eq!(
                list.range(start, end).copied().collect::<Vec<_>>(),
                want,
                "{start}..{end}"
            );
            let back: Vec<usize> = list.range(start, end).rev().copied().collect();
            assert_eq!(back, want.iter().rev().copied().collect::<Vec<_>>());
        }
        let mut sorted = ChunkedVec::default();
        for i in 0..n {
            sorted.push(i * 2);
        }
        let sorted_vec: Vec<usize> = (0..n).map(|i| i * 2).collect();
        for x in [0, 1, 2, 2 * CHUNK, 2 * CHUNK + 1, 2 * n - 2, 2 * n, 5 * n] {
            assert_eq!(
                sorted.partition_point(|v| *v < x),
                sorted_vec.partition_point(|v| *v < x),
                "{x}"
            );
        }
        list.retain(|v| v % 3 != 0);
        vec.retain(|v| v % 3 != 0);
        assert_eq!(list.len(), vec.len());
        assert_eq!(list.iter().copied().collect::<Vec<_>>(), vec);
        let full = list.chunks.len() - 1;
        assert!(list.chunks[..full].iter().all(|c| c.len() == CHUNK));
        while let Some(v) = list.pop() {
            assert_eq!(Some(v), vec.pop());
            assert_eq!(list.len(), vec.len());
        }
        assert!(vec.is_empty() && list.is_empty());
        assert!(list.chunks.len() <= 1);
        assert_eq!(list.get(0), None);
        list.push(1);
        assert_eq!(list.get(0), Some(&1));
    }

    /// A chunk emptied by a pop stays, empty, at the end: nothing reads past the elements.
    #[test]
    fn an_emptied_last_chunk_is_not_read() {
        let mut list: ChunkedVec<usize> = (0..=CHUNK).collect();
        assert_eq!(list.pop(), Some(CHUNK));
        assert_eq!((list.chunks.len(), list.len()), (2, CHUNK));
        assert_eq!(list.get(CHUNK), None);
        assert_eq!(list.range(0, CHUNK + 5).count(), CHUNK);
        assert_eq!(list.range(CHUNK - 2, CHUNK + 5).rev().count(), 2);
        assert_eq!(list.partition_point(|v| *v < 10), 10);
        assert_eq!(list.partition_point(|_| true), CHUNK);
        list.swap(0, CHUNK);
        assert_eq!(list.get(0), Some(&0));
        list.push(7);
        assert_eq!((list.chunks.len(), list.get(CHUNK)), (2, Some(&7)));
    }

    /// The heap gives what `std`'s `BinaryHeap` of `Reverse` gives, in the same order.
    #[test]
    fn the_heap_agrees_with_std() {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let mut heap = MinHeap::default();
        let mut std_heap = BinaryHeap::new();
        let mut x: u64 = 1;
        for step in 0..(3 * CHUNK) {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let value = (x >> 40) % 5_000;
            heap.push((value, step));
            std_heap.push(Reverse((value, step)));
            if step % 3 == 0 {
                assert_eq!(heap.pop(), std_heap.pop().map(|Reverse(v)| v));
            }
            assert_eq!(heap.peek(), std_heap.peek().map(|Reverse(v)| v));
            assert_eq!(heap.len(), std_heap.len());
        }
        while let Some(Reverse(v)) = std_heap.pop() {
            assert_eq!(heap.pop(), Some(v));
        }
        assert_eq!(heap.pop(), None);
        assert!(heap.is_empty());
    }
}
