//! Pages of long lists (accounts, notifications): every list the control API and the dashboard show
//! is read a page at a time, so no request copies a whole store.
//!
//! A page holds at most `limit` items ([`DEFAULT_LIMIT`] unless asked, at most [`MAX_LIMIT`]) and
//! looks at no more than [`SCAN_BUDGET`] entries to fill it, so a filter that matches little cannot
//! make one request scan everything: it may then return fewer items than asked with a cursor, and
//! the next page goes on from there. `next_cursor` is `null` on the last page.

use crate::chunked::ChunkedVec;

/// Items per page when the request does not say.
pub const DEFAULT_LIMIT: usize = 100;
/// The most items one page holds.
pub const MAX_LIMIT: usize = 1000;
/// Entries a page may examine before it stops and hands out a cursor.
pub const SCAN_BUDGET: usize = 20_000;

/// Which way a page runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    OldestFirst,
    NewestFirst,
}

/// A cursor as the API writes it: an opaque string (a position in the list).
pub fn cursor_string(position: Option<u64>) -> Option<String> {
    position.map(|p| p.to_string())
}

/// Reads a cursor back.
///
/// # Errors
/// A message when it is not one this server wrote.
pub fn parse_cursor(cursor: Option<&str>) -> Result<Option<u64>, String> {
    cursor
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse().map_err(|_| {
                format!("invalid cursor '{c}': pass the next_cursor of a previous page")
            })
        })
        .transpose()
}

/// The page size a request asks for.
///
/// # Errors
/// A message when it is 0 or over [`MAX_LIMIT`].
pub fn limit(asked: Option<usize>) -> Result<usize, String> {
    match asked {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(format!("limit must be between 1 and {MAX_LIMIT}, got {n}")),
    }
}

/// The page size and start a list request asks for (`limit`, `cursor`).
///
/// # Errors
/// A message for a limit out of range or a cursor this server did not write.
pub fn request(
    limit_asked: Option<usize>,
    cursor: Option<&str>,
) -> Result<(usize, Option<u64>), String> {
    Ok((limit(limit_asked)?, parse_cursor(cursor)?))
}

/// A page as JSON, `{"<name>": [...], "next_cursor": ...}`, that ends early, with a cursor after the
/// last item written, once it holds [`crate::limits::PAGE_BYTES`]: a thousand large items would
/// otherwise make one answer of hundreds of megabytes. `next` is the cursor when every item fits.
///
/// # Errors
/// An item that fails to serialise.
pub fn write_bounded<T>(
    name: &str,
    items: &[T],
    mut next: Option<u64>,
    position: impl Fn(&T) -> u64,
    mut write: impl FnMut(&mut Vec<u8>, &T) -> Result<(), serde_json::Error>,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    out.extend_from_slice(b"{");
    serde_json::to_writer(&mut out, name)?;
    out.extend_from_slice(b":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(&mut out, item)?;
        if out.len() >= crate::limits::PAGE_BYTES && i + 1 < items.len() {
            next = Some(position(item));
            break;
        }
    }
    out.extend_from_slice(br#"],"next_cursor":"#);
    serde_json::to_writer(&mut out, &cursor_string(next))?;
    out.push(b'}');
    Ok(out)
}

/// The positions of `items` (sorted by position) after `after` in `order`, at most [`SCAN_BUDGET`]
/// of them; `pos` reads an item's position.
pub fn after<T>(
    items: &ChunkedVec<T>,
    after: Option<u64>,
    order: Order,
    pos: impl Fn(&T) -> u64,
) -> Box<dyn Iterator<Item = &T> + '_> {
    match order {
        Order::OldestFirst => {
            let start = after.map_or(0, |a| items.partition_point(|t| pos(t) <= a));
            Box::new(items.range(start, items.len()))
        }
        Order::NewestFirst => {
            let end = after.map_or(items.len(), |a| items.partition_point(|t| pos(t) < a));
            Box::new(items.range(0, end).rev())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_after_a_cursor_in_either_order() {
        let items: ChunkedVec<u64> = [2u64, 4, 6, 8].into_iter().collect();
        let ids =
            |after_, order| -> Vec<u64> { after(&items, after_, order, |x| *x).copied().collect() };
        assert_eq!(ids(None, Order::OldestFirst), [2, 4, 6, 8]);
        assert_eq!(ids(Some(4), Order::OldestFirst), [6, 8]);
        assert_eq!(ids(Some(5), Order::OldestFirst), [6, 8]);
        assert_eq!(ids(None, Order::NewestFirst), [8, 6, 4, 2]);
        assert_eq!(ids(Some(6), Order::NewestFirst), [4, 2]);
        assert_eq!(ids(Some(1), Order::NewestFirst), Vec::<u64>::new());
    }

    #[test]
    fn limits_and_cursors_are_checked() {
        assert_eq!(limit(None), Ok(DEFAULT_LIMIT));
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(MAX_LIMIT + 1)).is_err());
        assert_eq!(parse_cursor(Some("42")), Ok(Some(42)));
        assert_eq!(parse_cursor(Some("")), Ok(None));
        assert!(parse_cursor(Some("x")).is_err());
    }
}
