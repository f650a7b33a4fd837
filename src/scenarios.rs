//! The phone number scenarios in effect: the fixtures' (`phone_numbers.json`), plus those a test
//! adds or replaces while the server runs, for every merchant or for one server key, so that a
//! test can script "this number is blocked" for itself alone. A scenario for the caller's key wins
//! over one for everybody, which wins over the fixtures'. A full reset brings back the fixtures'.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::RwLock;
use serde::Serialize;

use crate::fixtures::{PhoneScenario, pick};
use crate::paging::SCAN_BUDGET;
use rustc_hash::{FxHashMap, FxHashSet};

/// Scenarios that may be added at run time, at most.
pub const MAX_RUNTIME: usize = 10_000;

/// Where a scenario in effect comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Fixtures,
    Runtime,
}

/// A scenario as the control API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub scenario: PhoneScenario,
    /// `null`: every merchant's.
    pub server_key: Option<String>,
    pub source: Source,
}

impl Listed {
    fn added(a: &Added) -> Self {
        Self {
            scenario: a.scenario.clone(),
            server_key: a.key.clone(),
            source: Source::Runtime,
        }
    }

    fn fixture(s: &PhoneScenario) -> Self {
        Self {
            scenario: s.clone(),
            server_key: None,
            source: Source::Fixtures,
        }
    }
}

pub struct Scenarios {
    fixtures: Arc<[PhoneScenario]>,
    /// The fixtures' positions sorted by phone number (file order among equal numbers): a lookup is
    /// a binary search, however many numbers the file holds.
    by_number: Box<[usize]>,
    runtime: RwLock<Runtime>,
    /// Anything changed at run time; until then a lookup reads the fixtures without a lock.
    changed: AtomicBool,
}

/// Checks changes made at run time (a state document's) against the ranges of those made by the
/// control API.
///
/// # Errors
/// The first entry out of range, more than [`MAX_RUNTIME`] added, or more hidden than a fixture
/// file can hold.
pub fn check_runtime((added, hidden): &RuntimeChanges) -> Result<(), String> {
    if added.len() > MAX_RUNTIME {
        return Err(format!(
            "at most {MAX_RUNTIME} phone scenarios can be added"
        ));
    }
    // Each fixture number is hidden once at most, whatever was added.
    if hidden.len() > crate::fixtures::MAX_ENTRIES {
        return Err(format!(
            "at most {} fixture phone numbers can be hidden",
            crate::fixtures::MAX_ENTRIES
        ));
    }
    for (key, s) in added {
        if let Some(key) = key {
            crate::limits::check_server_key("server_key", key)?;
        }
        crate::fixtures::check_scenario(s)
            .map_err(|e| format!("phone number {}: {e}", s.phone_number.escape_debug()))?;
    }
    for (number, cc) in hidden {
        crate::fixtures::check_phone(number)?;
        if let Some(cc) = cc {
            crate::fixtures::check_country_code(cc)?;
        }
    }
    Ok(())
}

/// See [`Scenarios::runtime`].
pub type RuntimeChanges = (
    Vec<(Option<String>, PhoneScenario)>,
    Vec<(String, Option<String>)>,
);

#[derive(Default)]
struct Runtime {
    /// In the order they were added (`seq` increasing).
    added: Vec<Added>,
    /// Fixture scenarios removed until the next reset: (phone number, country code).
    hidden: Vec<(String, Option<String>)>,
    /// The positions in the fixtures of the hidden ones: a lookup, not a scan of `hidden`.
    hidden_at: FxHashSet<usize>,
    /// How many added scenarios each phone number has: a create for a number with none (the usual
    /// case) looks at none of them.
    numbers: FxHashMap<String, u32>,
    /// The `seq` of the last one added.
    last_seq: u64,
}

/// A scenario added at run time, for one server key or (`None`) everybody.
struct Added {
    /// Its place in the list's pages: kept when it is replaced, never reused, so that a cursor
    /// stays good while scenarios come and go.
    seq: u64,
    key: Option<String>,
    scenario: PhoneScenario,
}

/// Where the fixtures' entries start among the list's positions: added scenarios have theirs below
/// (one per addition, which a server never makes 2^40 of), fixture `i` is at `FIXTURES_AT + i`.
const FIXTURES_AT: u64 = 1 << 40;

impl Runtime {
    /// Keeps the added scenarios `keep` says to, and their count by number.
    fn retain_added(&mut self, keep: impl Fn(&Added) -> bool) {
        self.added.retain(|a| keep(a));
        self.numbers.clear();
        for a in &self.added {
            *self
                .numbers
                .entry(a.scenario.phone_number.clone())
                .or_default() += 1;
        }
    }

    /// Numbered after `last_seq`.
    fn with_added(
        last_seq: u64,
        added: Vec<(Option<String>, PhoneScenario)>,
        hidden: Vec<(String, Option<String>)>,
    ) -> Self {
        let mut rt = Self {
            hidden,
            last_seq,
            ..Self::default()
        };
        for (key, scenario) in added {
            rt.push(key, scenario);
        }
        rt
    }

    fn push(&mut self, key: Option<String>, scenario: PhoneScenario) {
        *self
            .numbers
            .entry(scenario.phone_number.clone())
            .or_default() += 1;
        self.last_seq = (self.last_seq + 1).min(FIXTURES_AT - 1);
        self.added.push(Added {
            seq: self.last_seq,
            key,
            scenario,
        });
    }
}

fn same(a: &PhoneScenario, number: &str, country_code: Option<&str>) -> bool {
    a.phone_number == number && a.country_code.as_deref() == country_code
}

impl Scenarios {
    pub fn new(fixtures: Arc<[PhoneScenario]>) -> Self {
        let mut by_number: Vec<usize> = (0..fixtures.len()).collect();
        by_number.sort_by_key(|&i| fixtures.get(i).map(|s| s.phone_number.as_str()));
        Self {
            fixtures,
            by_number: by_number.into(),
            runtime: RwLock::new(Runtime::default()),
            changed: AtomicBool::new(false),
        }
    }

    /// The fixtures' scenarios of one phone number, in file order.
    fn fixtures_of<'a>(&'a self, number: &'a str) -> impl Iterator<Item = &'a PhoneScenario> {
        self.fixtures_at(number).map(|(_, s)| s)
    }

    /// The same, with their positions in the file.
    fn fixtures_at<'a>(
        &'a self,
        number: &'a str,
    ) -> impl Iterator<Item = (usize, &'a PhoneScenario)> {
        let at = |i: &usize| self.fixtures.get(*i);
        let start = self
            .by_number
            .partition_point(|i| at(i).is_some_and(|s| s.phone_number.as_str() < number));
        self.by_number[start..]
            .iter()
            .map_while(move |i| at(i).filter(|s| s.phone_number == number).map(|s| (*i, s)))
    }

    /// The positions of the fixture entries that `hidden` names.
    fn positions_of(&self, hidden: &[(String, Option<String>)]) -> FxHashSet<usize> {
        hidden
            .iter()
            .flat_map(|(n, cc)| {
                self.fixtures_at(n)
                    .filter(move |(_, s)| s.country_code == *cc)
                    .map(|(i, _)| i)
            })
            .collect()
    }

    /// Calls `f` with the scenario for a phone number as `server_key` sees it.
    pub fn with<R>(
        &self,
        server_key: Option<&str>,
        phone_number: &str,
        country_code: &str,
        f: impl FnOnce(Option<&PhoneScenario>) -> R,
    ) -> R {
        if !self.changed.load(Ordering::Acquire) {
            return f(pick(
                self.fixtures_of(phone_number),
                phone_number,
                country_code,
            ));
        }
        let rt = self.runtime.read();
        let scripted = rt.numbers.contains_key(phone_number);
        let runtime_for = |key: Option<&str>| {
            if !scripted {
                return None;
            }
            pick(
                rt.added
                    .iter()
                    .filter(|a| a.key.as_deref() == key)
                    .map(|a| &a.scenario),
                phone_number,
                country_code,
            )
        };
        let found = server_key
            .and_then(|k| runtime_for(Some(k)))
            .or_else(|| runtime_for(None))
            .or_else(|| {
                pick(
                    self.fixtures_at(phone_number)
                        .filter(|(i, _)| !rt.hidden_at.contains(i))
                        .map(|(_, s)| s),
                    phone_number,
                    country_code,
                )
            });
        f(found)
    }

    /// Adds or replaces the scenario of (number, country code) for `server_key` (or everybody);
    /// returns whether it is new.
    ///
    /// # Errors
    /// [`MAX_RUNTIME`] scenarios are held already.
    pub fn put(&self, server_key: Option<String>, scenario: PhoneScenario) -> Result<bool, String> {
        let mut rt = self.runtime.write();
        let existing = rt.added.iter_mut().find(|a| {
            a.key == server_key
                && same(
                    &a.scenario,
                    &scenario.phone_number,
                    scenario.country_code.as_deref(),
                )
        });
        let new = match existing {
            Some(a) => {
                a.scenario = scenario;
                false
            }
            None => {
                if rt.added.len() >= MAX_RUNTIME {
                    return Err(format!(
                        "{MAX_RUNTIME} scenarios were added already: remove some, or reset"
                    ));
                }
                rt.push(server_key, scenario);
                true
            }
        };
        self.changed.store(true, Ordering::Release);
        Ok(new)
    }

    /// Removes the scenarios of a phone number (of one country code, when given) added for
    /// `server_key` (or for everybody); without a key and with none added, hides the fixtures' until
    /// the next reset. Returns how many went.
    pub fn remove(
        &self,
        server_key: Option<&str>,
        number: &str,
        country_code: Option<&str>,
    ) -> usize {
        let mut rt = self.runtime.write();
        let matches = |s: &PhoneScenario| {
            s.phone_number == number
                && country_code.is_none_or(|cc| s.country_code.as_deref() == Some(cc))
        };
        let before = rt.added.len();
        rt.retain_added(|a| !(a.key.as_deref() == server_key && matches(&a.scenario)));
        let mut removed = before - rt.added.len();
        if removed == 0 && server_key.is_none() {
            let hide: Vec<(usize, &PhoneScenario)> = self
                .fixtures_at(number)
                .filter(|(i, s)| matches(s) && !rt.hidden_at.contains(i))
                .collect();
            removed = hide.len();
            for (i, s) in hide {
                rt.hidden_at.insert(i);
                rt.hidden
                    .push((s.phone_number.clone(), s.country_code.clone()));
            }
        }
        self.changed.store(true, Ordering::Release);
        removed
    }

    /// Up to `limit` scenarios in effect for `server_key` (`None`: all of them), added ones first,
    /// then the fixtures' in file order, after position `after` (a cursor); with the position to
    /// go on from when there may be more. A page looks at no more than [`SCAN_BUDGET`] entries.
    pub fn page(
        &self,
        server_key: Option<&str>,
        after: Option<u64>,
        limit: usize,
    ) -> (Vec<Listed>, Option<u64>) {
        let rt = self.runtime.read();
        let after = after.unwrap_or(0);
        let start = rt.added.partition_point(|a| a.seq <= after);
        let mine =
            |a: &Added| server_key.is_none() || a.key.is_none() || a.key.as_deref() == server_key;
        let added = rt.added[start..]
            .iter()
            .map(|a| (a.seq, mine(a).then_some(a).map(Listed::added)));
        // The first fixture after the cursor (all of them after a cursor among the added ones).
        let from = match after.checked_sub(FIXTURES_AT) {
            Some(i) => usize::try_from(i).map_or(usize::MAX, |i| i.saturating_add(1)),
            None => 0,
        };
        let fixtures = self.fixtures.iter().enumerate().skip(from).map(|(i, s)| {
            let shown = !rt.hidden_at.contains(&i);
            (
                FIXTURES_AT.saturating_add(i as u64),
                shown.then(|| Listed::fixture(s)),
            )
        });
        // Every entry looked at counts against the budget, listed or skipped (another key's, a
        // hidden fixture), and moves the cursor past it.
        let mut found = Vec::new();
        let mut last = None;
        for (scanned, (at, listed)) in added.chain(fixtures).enumerate() {
            if found.len() >= limit || scanned >= SCAN_BUDGET {
                return (found, last);
            }
            last = Some(at);
            found.extend(listed);
        }
        (found, None)
    }

    /// The scenarios of one phone number in effect for `server_key` (`None`: all of them), added
    /// ones first.
    pub fn of_number(&self, server_key: Option<&str>, number: &str) -> Vec<Listed> {
        let rt = self.runtime.read();
        rt.added
            .iter()
            .filter(|a| {
                (server_key.is_none() || a.key.is_none() || a.key.as_deref() == server_key)
                    && a.scenario.phone_number == number
            })
            .map(Listed::added)
            .chain(
                self.fixtures_at(number)
                    .filter(|(i, _)| !rt.hidden_at.contains(i))
                    .map(|(_, s)| Listed::fixture(s)),
            )
            .collect()
    }

    /// What was changed at run time: the scenarios added (with their key), and the fixtures' phone
    /// numbers hidden (with their country code).
    pub fn runtime(&self) -> RuntimeChanges {
        let rt = self.runtime.read();
        let added = rt.added.iter().map(|a| (a.key.clone(), a.scenario.clone()));
        (added.collect(), rt.hidden.clone())
    }

    /// Replaces what was changed at run time (the state file).
    ///
    /// # Errors
    /// A scenario out of its ranges, or more than [`MAX_RUNTIME`] entries; nothing changes.
    pub fn restore(&self, changes: RuntimeChanges) -> Result<(), String> {
        check_runtime(&changes)?;
        let (added, hidden) = changes;
        let changed = !added.is_empty() || !hidden.is_empty();
        let hidden_at = self.positions_of(&hidden);
        let mut rt = self.runtime.write();
        *rt = Runtime {
            hidden_at,
            ..Runtime::with_added(rt.last_seq, added, hidden)
        };
        // Under the lock: a scenario added just after it must not find the flag cleared.
        self.changed.store(changed, Ordering::Release);
        Ok(())
    }

    /// Back to the fixtures' scenarios only.
    pub fn reset(&self) {
        let mut rt = self.runtime.write();
        // Sequence numbers go on counting: a cursor from before never skips what comes after.
        *rt = Runtime {
            last_seq: rt.last_seq,
            ..Runtime::default()
        };
        // Under the lock, as in `restore`.
        self.changed.store(false, Ordering::Release);
    }

    /// Forgets the scenarios added for one key.
    pub fn reset_key(&self, server_key: &str) {
        self.runtime
            .write()
            .retain_added(|a| a.key.as_deref() != Some(server_key));
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::fixtures::Outcome;

    fn scenario(number: &str, cc: Option<&str>, outcome: Outcome) -> PhoneScenario {
        PhoneScenario {
            phone_number: number.into(),
            country_code: cc.map(Into::into),
            outcome,
            description: None,
            payment_options: None,
        }
    }

    fn outcome(s: &Scenarios, key: Option<&str>, number: &str) -> Option<Outcome> {
        s.with(key, number, "62", |found| found.map(|f| f.outcome))
    }

    #[test]
    fn a_key_s_own_scenario_wins_over_everybody_s_over_the_fixtures() {
        let s = Scenarios::new(Arc::from([scenario("811", None, Outcome::UserNotFound)]));
        assert_eq!(outcome(&s, Some("a"), "811"), Some(Outcome::UserNotFound));
        s.put(None, scenario("811", Some("62"), Outcome::Pending))
            .unwrap();
        assert_eq!(outcome(&s, Some("a"), "811"), Some(Outcome::Pending));
        assert!(
            s.put(
                Some("a".into()),
                scenario("811", None, Outcome::UserBlocked)
            )
            .unwrap()
        );
        assert!(
            !s.put(
                Some("a".into()),
                scenario("811", None, Outcome::UserBlocked)
            )
            .unwrap()
        );
        assert_eq!(outcome(&s, Some("a"), "811"), Some(Outcome::UserBlocked));
        assert_eq!(outcome(&s, Some("b"), "811"), Some(Outcome::Pending));
        assert_eq!(s.page(Some("b"), None, 1000).0.len(), 2);
        assert_eq!(s.of_number(None, "811").len(), 3);
        s.reset_key("a");
        assert_eq!(outcome(&s, Some("a"), "811"), Some(Outcome::Pending));
        assert_eq!(s.remove(None, "811", None), 1);
        assert_eq!(outcome(&s, Some("a"), "811"), Some(Outcome::UserNotFound));
        // Nothing added for everybody any more: the fixture's is hidden.
        assert_eq!(s.remove(None, "811", None), 1);
        assert_eq!(outcome(&s, None, "811"), None);
        assert_eq!(s.remove(None, "811", None), 0);
        s.reset();
        assert_eq!(outcome(&s, None, "811"), Some(Outcome::UserNotFound));
    }

    /// The index finds what a scan of the whole file finds: the entry with the country code, else the
    /// first without one, among numbers that repeat in any order; hidden ones are skipped.
    #[test]
    fn the_fixture_index_agrees_with_a_scan() {
        let outcomes = [
            Outcome::Pending,
            Outcome::UserNotFound,
            Outcome::UserBlocked,
        ];
        let ccs = [None, Some("62"), Some("65")];
        let mut rng = StdRng::seed_from_u64(7);
        let file: Vec<PhoneScenario> = (0..400)
            .map(|_| {
                scenario(
                    &format!("81{}", rng.gen_range(0..60)),
                    ccs[rng.gen_range(0..3)],
                    outcomes[rng.gen_range(0..3)],
                )
            })
            .collect();
        let s = Scenarios::new(Arc::from(file.clone()));
        let hidden: Vec<String> = (0..10).map(|i| format!("81{}", i * 7)).collect();
        for pass in 0..2 {
            for n in 0..70 {
                let number = format!("81{n}");
                for cc in ["62", "65", "1"] {
                    let hidden_now = pass == 1 && hidden.contains(&number);
                    let scanned =
                        pick(file.iter().filter(|_| !hidden_now), &number, cc).map(|f| f.outcome);
                    let found = s.with(None, &number, cc, |f| f.map(|f| f.outcome));
                    assert_eq!(found, scanned, "{number} {cc} pass {pass}");
                }
            }
            for number in &hidden {
                s.remove(None, number, None);
            }
        }
        let (listed, _) = s.page(None, None, 1000);
        assert_eq!(
            listed.len(),
            file.iter()
                .filter(|f| !hidden.contains(&f.phone_number))
                .count()
        );
        assert!(s.of_number(None, "817").is_empty(), "817 is hidden");
    }

    /// Lookups through the indexes (added numbers, hidden positions) agree with plain scans of
    /// what was added and hidden, through random puts, removals, key resets and restores.
    #[test]
    fn lookups_agree_with_a_plain_model_through_changes() {
        let outcomes = [
            Outcome::Pending,
            Outcome::UserNotFound,
            Outcome::UserBlocked,
        ];
        let ccs = [None, Some("62"), Some("65")];
        let keys = [None, Some("a"), Some("b")];
        let mut rng = StdRng::seed_from_u64(11);
        let file: Vec<PhoneScenario> = (0..200)
            .map(|_| {
                scenario(
                    &format!("81{}", rng.gen_range(0..30)),
                    ccs[rng.gen_range(0..3)],
                    outcomes[rng.gen_range(0..3)],
                )
            })
            .collect();
        let s = Scenarios::new(Arc::from(file.clone()));
        let mut added: Vec<(Option<String>, PhoneScenario)> = Vec::new();
        let mut hidden: Vec<(String, Option<String>)> = Vec::new();
        for step in 0..1_000 {
            let number = format!("81{}", rng.gen_range(0..30));
            let cc = ccs[rng.gen_range(0..3)];
            let key = keys[rng.gen_range(0..3)];
            match rng.gen_range(0..20) {
                0..=8 => {
                    let new = scenario(&number, cc, outcomes[rng.gen_range(0..3)]);
                    let key = key.map(str::to_string);
                    s.put(key.clone(), new.clone()).unwrap();
                    match added
                        .iter_mut()
                        .find(|(k, a)| *k == key && same(a, &number, cc))
                    {
                        Some(entry) => entry.1 = new,
                        None => added.push((key, new)),
                    }
                }
                9..=16 => {
                    let matches = |a: &PhoneScenario| {
                        a.phone_number == number
                            && cc.is_none_or(|cc| a.country_code.as_deref() == Some(cc))
                    };
                    let before = added.len();
                    added.retain(|(k, a)| !(k.as_deref() == key && matches(a)));
                    let mut removed = before - added.len();
                    if removed == 0 && key.is_none() {
                        // Each fixture entry not hidden before this removal.
                        let before = hidden.clone();
                        for f in file.iter().filter(|f| matches(f)) {
                            let entry = (f.phone_number.clone(), f.country_code.clone());
                            if !before.contains(&entry) {
                                hidden.push(entry);
                                removed += 1;
                            }
                        }
                    }
                    assert_eq!(s.remove(key, &number, cc), removed, "step {step}");
                }
                17 => {
                    if let Some(key) = key {
                        s.reset_key(key);
                        added.retain(|(k, _)| k.as_deref() != Some(key));
                    }
                }
                18 => s.restore(s.runtime()).unwrap(),
                _ => {
                    s.reset();
                    added.clear();
                    hidden.clear();
                }
            }
            for n in 0..32 {
                let number = format!("81{n}");
                for asking in keys {
                    for cc in ["62", "65", "1"] {
                        let runtime_for = |k: Option<&str>| {
                            let of_key = added.iter().filter(|(ak, _)| ak.as_deref() == k);
                            pick(of_key.map(|(_, a)| a), &number, cc)
                        };
                        let shown = file
                            .iter()
                            .filter(|f| !hidden.iter().any(|(hn, hc)| same(f, hn, hc.as_deref())));
                        let expected = asking
                            .and_then(|k| runtime_for(Some(k)))
                            .or_else(|| runtime_for(None))
                            .or_else(|| pick(shown, &number, cc))
                            .map(|f| f.outcome);
                        let found = s.with(asking, &number, cc, |f| f.map(|f| f.outcome));
                        assert_eq!(found, expected, "step {step}: {number} {cc} {asking:?}");
                    }
                }
            }
        }
    }

    /// Pages follow the list as it changes between them: what stays from the first page to the
    /// last is listed exactly once, in order (added ones, then the fixtures not hidden), and
    /// what was removed before its page came is not.
    #[test]
    fn pages_list_each_scenario_once_while_scenarios_come_and_go() {
        let file: Vec<PhoneScenario> = (0..25)
            .map(|i| scenario(&format!("82{i:02}"), None, Outcome::Pending))
            .collect();
        let s = Scenarios::new(Arc::from(file));
        for i in 0..20 {
            let key = (i % 3 == 0).then(|| "a".to_string());
            s.put(
                key,
                scenario(&format!("81{i:02}"), None, Outcome::UserBlocked),
            )
            .unwrap();
        }
        let mut seen: Vec<String> = Vec::new();
        let mut after = None;
        let mut pages = 0;
        loop {
            let (page, next) = s.page(None, after, 4);
            seen.extend(page.iter().map(|l| l.scenario.phone_number.clone()));
            pages += 1;
            // Between pages: one replaced (keeps its place), one removed ahead of the cursor, one
            // added at the end, and a fixture hidden ahead.
            match pages {
                1 => {
                    s.put(None, scenario("8101", None, Outcome::Pending))
                        .unwrap();
                    assert_eq!(s.remove(None, "8110", None), 1);
                    s.put(None, scenario("8199", None, Outcome::Pending))
                        .unwrap();
                }
                2 => assert_eq!(s.remove(None, "8220", None), 1),
                _ => {}
            }
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let mut expected: Vec<String> = (0..20)
            .filter(|i| *i != 10)
            .map(|i| format!("81{i:02}"))
            .collect();
        expected.push("8199".into());
        expected.extend((0..25).filter(|i| *i != 20).map(|i| format!("82{i:02}")));
        assert_eq!(seen, expected);

        // One key sees its own, everybody's and the fixtures', not another key's.
        s.put(Some("b".into()), scenario("8300", None, Outcome::Pending))
            .unwrap();
        let (for_a, next) = s.page(Some("a"), None, 1000);
        assert_eq!(next, None);
        assert!(for_a.iter().all(|l| l.server_key.as_deref() != Some("b")));
        assert_eq!(for_a.len(), expected.len());
    }

    /// A page stops after a scan budget of entries looked at, skipped ones included (another
    /// key's, hidden fixtures), and its cursor goes on past them.
    #[test]
    fn a_page_looks_at_no_more_than_its_budget() {
        let file: Vec<PhoneScenario> = (0..12_000)
            .map(|i| scenario(&format!("83{i:05}"), None, Outcome::Pending))
            .collect();
        let s = Scenarios::new(Arc::from(file));
        let added = (0..MAX_RUNTIME)
            .map(|i| {
                let blocked = scenario(&format!("84{i:05}"), None, Outcome::UserBlocked);
                (Some("b".to_string()), blocked)
            })
            .collect();
        let hidden = (0..11_000).map(|i| (format!("83{i:05}"), None)).collect();
        s.restore((added, hidden)).unwrap();

        let (page, next) = s.page(Some("a"), None, 5);
        assert!(page.is_empty(), "all of the budget went on skipped entries");
        let mut after = next.expect("a cursor past them");
        let mut listed = Vec::new();
        loop {
            let (page, next) = s.page(Some("a"), Some(after), 500);
            listed.extend(page.into_iter().map(|l| l.scenario.phone_number));
            match next {
                Some(n) => after = n,
                None => break,
            }
        }
        let expected: Vec<String> = (11_000..12_000).map(|i| format!("83{i:05}")).collect();
        assert_eq!(listed, expected);
    }

    #[test]
    fn runtime_scenarios_are_bounded() {
        let s = Scenarios::new(Arc::from([]));
        for i in 0..MAX_RUNTIME {
            s.put(None, scenario(&format!("8{i}"), None, Outcome::Pending))
                .unwrap();
        }
        assert!(s.put(None, scenario("9", None, Outcome::Pending)).is_err());
    }

    /// Hiding fixture numbers when the added ones are at their bound is a removal, not an addition:
    /// it happens, and what it leaves is a state a state document may hold.
    #[test]
    fn hiding_fixtures_at_the_bound_leaves_a_state_that_can_be_restored() {
        let file: Arc<[PhoneScenario]> = (0..3)
            .map(|i| scenario(&format!("7{i}"), None, Outcome::Pending))
            .collect();
        let s = Scenarios::new(file);
        for i in 0..MAX_RUNTIME {
            s.put(
                Some("k".into()),
                scenario(&format!("8{i}"), None, Outcome::Pending),
            )
            .unwrap();
        }
        for i in 0..3 {
            assert_eq!(s.remove(None, &format!("7{i}"), None), 1);
        }
        let saved = s.runtime();
        assert_eq!((saved.0.len(), saved.1.len()), (MAX_RUNTIME, 3));
        check_runtime(&saved).unwrap();
        let other = Scenarios::new(Arc::from([]));
        other.restore(saved).unwrap();
        assert_eq!(other.runtime().1.len(), 3);
    }
}
