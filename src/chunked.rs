//! Lists that grow without copying what they hold: the stores' creation-order lists, the
//! accounts' expiry queue and the notification log.
//!
//! A `Vec` doubles by copying every element into a new buffer twice the size. With a million ids
//! that is 16 MB copied and 32 MB of fresh memory touched in one push, under the store's lock:
//! every request in flight waited for it (see BENCHMARKS.md). These lists keep their elements in
//! chunks of a fixed size instead, and a full chunk is followed by a new one; only the small list
//! of chunk pointers is ever copied.

use std::collections::VecDeque;

/// Elements per chunk: 64 KiB of 16-byte ids, so a new chunk is a few dozen pages (more for the
/// notification log's larger entries, whose emptied chunks are reused).
const CHUNK: usize = 4096;

/// A list that grows a chunk at a time. The first chunk grows as a `Vec` does (a store with one
/// account, or a server key with three, does not hold a whole chunk); every chunk but the last
/// holds exactly `CHUNK` (4,096) elements, so an index finds its chunk by division.
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
    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.retain_from(0, keep);
    }

    /// As [`Self::retain`], for the elements from `start` on: those before it are kept unread.
    pub fn retain_from(&mut self, start: usize, mut keep: impl FnMut(&T) -> bool) {
        let start = start.min(self.len);
        let mut write = start;
        for read in start..self.len {
            if self.get(read).is_some_and(&mut keep) {
                self.swap(read, write);
                write += 1;
            }
        }
        while self.len > write {
            self.pop();
        }
    }

    /// Takes the elements of `theirs` out of this list, sorted by `pos` (one server key's list out
    /// of a store's creation order, which orders them alike): a binary search for the first, then
    /// one walk beside `theirs`, with no lookup per element. False when some of `theirs` were not
    /// met in that order (the lists disagree; what was met is gone, nothing else).
    pub fn remove_in_order(&mut self, theirs: &Self, pos: impl Fn(&T) -> u64) -> bool
    where
        T: PartialEq,
    {
        let Some(first) = theirs.get(0) else {
            return true;
        };
        let first = pos(first);
        let start = self.partition_point(|t| pos(t) < first);
        let mut theirs = theirs.iter().peekable();
        // Kept unless it is the next of theirs.
        self.retain_from(start, |t| theirs.next_if_eq(&t).is_none());
        theirs.peek().is_none()
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

/// A queue that grows a chunk at a time at the back and gives chunks back from the front: the
/// notification log, which adds its newest and drops its oldest. Every chunk but the first and the
/// last holds exactly `CHUNK` elements (the first has lost some from its front), so an index
/// past the first chunk finds its chunk by division.
pub struct ChunkedDeque<T> {
    chunks: VecDeque<VecDeque<T>>,
    /// The last full-sized chunk emptied from the front, for the next chunk at the back: a full log
    /// that adds one and drops one goes on using the same memory instead of new pages.
    spare: Option<VecDeque<T>>,
    len: usize,
}

impl<T> Default for ChunkedDeque<T> {
    fn default() -> Self {
        Self {
            chunks: VecDeque::new(),
            spare: None,
            len: 0,
        }
    }
}

impl<T> ChunkedDeque<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push_back(&mut self, value: T) {
        match self.chunks.back_mut() {
            Some(last) if last.len() < CHUNK => last.push_back(value),
            _ => {
                // The first chunk grows as a `VecDeque` does, so that a short log stays small.
                let mut chunk = match self.spare.take() {
                    Some(spare) => spare,
                    None if self.chunks.is_empty() => VecDeque::new(),
                    None => VecDeque::with_capacity(CHUNK),
                };
                chunk.push_back(value);
                self.chunks.push_back(chunk);
            }
        }
        self.len += 1;
    }

    pub fn pop_front(&mut self) -> Option<T> {
        let first = self.chunks.front_mut()?;
        let value = first.pop_front();
        if first.is_empty()
            && let Some(emptied) = self.chunks.pop_front()
            && emptied.capacity() >= CHUNK
        {
            self.spare = Some(emptied);
        }
        self.len = self.len.saturating_sub(usize::from(value.is_some()));
        value
    }

    pub fn back(&self) -> Option<&T> {
        self.chunks.back()?.back()
    }

    pub fn get(&self, index: usize) -> Option<&T> {
        let first = self.chunks.front()?;
        match index.checked_sub(first.len()) {
            None => first.get(index),
            Some(past) => self.chunks.get(1 + past / CHUNK)?.get(past % CHUNK),
        }
    }

    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        let first_len = self.chunks.front()?.len();
        match index.checked_sub(first_len) {
            None => self.chunks.front_mut()?.get_mut(index),
            Some(past) => self.chunks.get_mut(1 + past / CHUNK)?.get_mut(past % CHUNK),
        }
    }

    /// The elements from `start` to `end` (clamped to the queue), in order.
    pub fn range(&self, start: usize, end: usize) -> impl DoubleEndedIterator<Item = &T> {
        let end = end.min(self.len);
        (start.min(end)..end).filter_map(|i| self.get(i))
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.range(0, self.len)
    }

    /// The index of the first element for which `pred` is false, where `pred` holds for a prefix
    /// of the queue (as [`slice::partition_point`]).
    pub fn partition_point(&self, pred: impl Fn(&T) -> bool) -> usize {
        let (mut low, mut high) = (0, self.len);
        while low < high {
            let middle = low + (high - low) / 2;
            if self.get(middle).is_some_and(&pred) {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }

    /// Where the element whose key is `key` is, in a queue ordered by that key.
    pub fn position_by_key<K: Ord>(&self, key: &K, key_of: impl Fn(&T) -> K) -> Option<usize> {
        let at = self.partition_point(|x| key_of(x) < *key);
        self.get(at).filter(|x| key_of(x) == *key).map(|_| at)
    }

    /// Keeps the elements for which `keep` is true, in order (into new chunks: O(n), as a
    /// `VecDeque`'s is).
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let old = std::mem::take(self);
        for value in old.chunks.into_iter().flatten() {
            if keep(&value) {
                self.push_back(value);
            }
        }
    }

    /// Drops every element, and the memory that held them.
    pub fn clear(&mut self) {
        *self = Self::default();
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
        self.sift_down(0);
        smallest
    }

    /// Keeps the elements for which `keep` is true, and puts them back in heap order (bottom up:
    /// linear in the length).
    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.items.retain(keep);
        for at in (0..self.items.len() / 2).rev() {
            self.sift_down(at);
        }
    }

    /// Moves the element at `at` down until neither child is smaller.
    fn sift_down(&mut self, mut at: usize) {
        let len = self.items.len();
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
        // From an index on: those before it stay even where `keep` would drop them.
        let start = CHUNK + 5;
        list.retain_from(start, |v| v % 4 != 0);
        let (head, tail) = vec.split_at(start);
        vec = head
            .iter()
            .chain(tail.iter().filter(|v| *v % 4 != 0))
            .copied()
            .collect();
        assert_eq!(list.iter().copied().collect::<Vec<_>>(), vec);
        list.retain_from(vec.len() + 10, |_| false);
        assert_eq!(list.len(), vec.len());
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

    /// A key's list out of a store's order: exactly its elements go, wherever they start and
    /// across chunks; a list the order does not hold in that order is told, and only elements of
    /// it ever go.
    #[test]
    fn a_sublist_in_the_same_order_is_taken_out_in_one_walk() {
        let n = 3 * CHUNK + 7;
        let pos = |v: &usize| *v as u64;
        let whole: Vec<usize> = (0..n).collect();
        for (from, step) in [
            (0, 1),
            (0, 5),
            (CHUNK - 1, 3),
            (n - 1, 1),
            (2 * CHUNK, 4096),
        ] {
            let mut list: ChunkedVec<usize> = whole.iter().copied().collect();
            let theirs: ChunkedVec<usize> = (from..n).step_by(step).collect();
            assert!(list.remove_in_order(&theirs, pos));
            let left: Vec<usize> = whole
                .iter()
                .copied()
                .filter(|v| *v < from || (v - from) % step != 0)
                .collect();
            assert_eq!(
                list.iter().copied().collect::<Vec<_>>(),
                left,
                "{from} {step}"
            );
            assert_eq!(list.len(), left.len());
        }
        let mut list: ChunkedVec<usize> = whole.iter().copied().collect();
        assert!(list.remove_in_order(&ChunkedVec::default(), pos));
        assert_eq!(list.len(), n);
        // 11 is not there (the list holds 10 and 12 only around it): 10 goes, and the walk then
        // waits for 11 in vain, so 12 and 13 stay.
        let mut list: ChunkedVec<usize> = whole.iter().copied().filter(|v| *v != 11).collect();
        let theirs: ChunkedVec<usize> = [10, 11, 12, 13].into_iter().collect();
        assert!(!list.remove_in_order(&theirs, pos));
        assert_eq!(list.len(), n - 2);
        assert_eq!(list.get(10), Some(&12));
    }

    /// A chunked queue agrees with a `VecDeque` through a log's life: filling past several chunks,
    /// adding one and dropping the oldest at the bound, lookups, ranges, retains and a clear.
    #[test]
    fn a_chunked_queue_agrees_with_a_vecdeque() {
        fn check(queue: &ChunkedDeque<usize>, model: &VecDeque<usize>) {
            assert_eq!(queue.len(), model.len());
            assert_eq!(queue.back(), model.back());
            assert!(queue.iter().eq(model.iter()));
            assert!(queue.iter().rev().eq(model.iter().rev()));
            let n = model.len();
            for i in [
                0,
                1,
                CHUNK - 1,
                CHUNK,
                CHUNK + 1,
                n / 2,
                n.saturating_sub(1),
                n,
                n + 1,
            ] {
                assert_eq!(queue.get(i), model.get(i), "get {i}");
            }
            for (start, end) in [
                (0, n),
                (1, CHUNK + 2),
                (CHUNK - 3, 2 * CHUNK + 3),
                (n, n + 5),
            ] {
                let want: Vec<_> = model.range(start.min(end.min(n))..end.min(n)).collect();
                assert!(
                    queue.range(start, end).eq(want.iter().copied()),
                    "{start}..{end}"
                );
                assert!(queue.range(start, end).rev().eq(want.iter().rev().copied()));
            }
            // Kept ascending: every value, its neighbours and the ends are looked for.
            let probes = model
                .iter()
                .flat_map(|&v| [v, v + 1])
                .chain([0, usize::MAX]);
            for x in probes.step_by(97) {
                assert_eq!(
                    queue.partition_point(|v| *v < x),
                    model.partition_point(|v| *v < x),
                    "{x}"
                );
                assert_eq!(
                    queue.position_by_key(&x, |v| *v),
                    model.binary_search(&x).ok()
                );
            }
        }
        let (mut queue, mut model) = (ChunkedDeque::default(), VecDeque::new());
        let mut next = 0;
        let mut push = |queue: &mut ChunkedDeque<usize>, model: &mut VecDeque<usize>| {
            next += 3;
            queue.push_back(next);
            model.push_back(next);
        };
        for _ in 0..3 * CHUNK + 5 {
            push(&mut queue, &mut model);
        }
        check(&queue, &model);
        // At a bound of 3 chunks and a half: one in, one out, past several chunks' ends.
        let bound = 3 * CHUNK + CHUNK / 2;
        for round in 0..4 * CHUNK {
            push(&mut queue, &mut model);
            while model.len() > bound {
                assert_eq!(queue.pop_front(), model.pop_front());
            }
            if round % (CHUNK / 2) == 0 {
                check(&queue, &model);
            }
        }
        check(&queue, &model);
        assert!(queue.chunks.len() <= 5, "emptied chunks are given back");
        // A full chunk emptied from the front is the next chunk at the back.
        assert!(queue.spare.is_some() || queue.chunks.back().is_some_and(|c| c.len() < CHUNK));
        if let Some(x) = queue.get_mut(CHUNK + 7) {
            *x += 1;
        }
        if let Some(x) = model.get_mut(CHUNK + 7) {
            *x += 1;
        }
        queue.retain(|v| v % 2 == 0);
        model.retain(|v| v % 2 == 0);
        check(&queue, &model);
        while let Some(v) = model.pop_front() {
            assert_eq!(queue.pop_front(), Some(v));
        }
        assert_eq!(queue.pop_front(), None);
        check(&queue, &model);
        push(&mut queue, &mut model);
        check(&queue, &model);
        queue.clear();
        model.clear();
        check(&queue, &model);
        assert!(queue.chunks.is_empty() && queue.spare.is_none());
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

    /// The heap gives what `std`'s `BinaryHeap` of `Reverse` gives, in the same order, through
    /// pushes, pops and retains.
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
            if step % 997 == 0 {
                let keep = |&(value, _): &(u64, usize)| value % 7 != step as u64 % 7;
                heap.retain(keep);
                std_heap.retain(|Reverse(v)| keep(v));
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
