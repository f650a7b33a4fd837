//! Held embedded servers share a few threads (alone in this test binary, so that the count is
//! this test's own).

use pay_account_mock::{Config, embedded, start};

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

#[test]
fn held_embedded_servers_add_no_thread_each() {
    let before = threads();
    let servers: Vec<_> = (0..50)
        .map(|_| {
            start(Config {
                port: 0,
                ..Config::default()
            })
            .expect("start")
        })
        .collect();
    let added = threads().saturating_sub(before);
    assert!(
        added <= embedded::MAX_THREADS,
        "50 held servers added {added} threads"
    );
    drop(servers);
}
