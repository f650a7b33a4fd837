//! The phone number scenarios in effect: the fixtures' (`phone_numbers.json`), plus those a test
//! adds or replaces while the server runs, for every merchant or for one server key, so that a
//! test can script "this number is blocked" for itself alone. A scenario for the caller's key wins
//! over one for everybody, which wins over the fixtures'. A full reset brings back the fixtures'.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::RwLock;
use serde::Serialize;

use crate::fixtures::{PhoneScenario, pick};

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
    /// (server key, scenario).
    added: Vec<(Option<String>, PhoneScenario)>,
    /// Fixture scenarios removed until the next reset: (phone number, country code).
    hidden: Vec<(String, Option<String>)>,
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
        let at = |i: &usize| self.fixtures.get(*i);
        let start = self
            .by_number
            .partition_point(|i| at(i).is_some_and(|s| s.phone_number.as_str() < number));
        self.by_number[start..]
            .iter()
            .map_while(move |i| at(i).filter(|s| s.phone_number == number))
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
        let runtime_for = |key: Option<&str>| {
            pick(
                rt.added
                    .iter()
                    .filter(|(k, _)| k.as_deref() == key)
                    .map(|(_, s)| s),
                phone_number,
                country_code,
            )
        };
        let found = server_key
            .and_then(|k| runtime_for(Some(k)))
            .or_else(|| runtime_for(None))
            .or_else(|| {
                // The phone number first: only its own entries are checked against the hidden ones.
                pick(
                    self.fixtures_of(phone_number)
                        .filter(|s| !rt.hidden.iter().any(|(n, cc)| same(s, n, cc.as_deref()))),
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
        let existing = rt.added.iter_mut().find(|(k, s)| {
            *k == server_key && same(s, &scenario.phone_number, scenario.country_code.as_deref())
        });
        let new = match existing {
            Some((_, s)) => {
                *s = scenario;
                false
            }
            None => {
                if rt.added.len() >= MAX_RUNTIME {
                    return Err(format!(
                        "{MAX_RUNTIME} scenarios were added already: remove some, or reset"
                    ));
                }
                rt.added.push((server_key, scenario));
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
        rt.added
            .retain(|(k, s)| !(k.as_deref() == server_key && matches(s)));
        let mut removed = before - rt.added.len();
        if removed == 0 && server_key.is_none() {
            let hide: Vec<(String, Option<String>)> = self
                .fixtures_of(number)
                .filter(|s| matches(s))
                .filter(|s| !rt.hidden.iter().any(|(n, cc)| same(s, n, cc.as_deref())))
                .map(|s| (s.phone_number.clone(), s.country_code.clone()))
                .collect();
            removed = hide.len();
            rt.hidden.extend(hide);
        }
        self.changed.store(true, Ordering::Release);
        removed
    }

    /// Every scenario in effect, for one key (with everybody's and the fixtures'), or all.
    pub fn list(&self, server_key: Option<&str>, number: Option<&str>) -> Vec<Listed> {
        let rt = self.runtime.read();
        let mut out: Vec<Listed> = rt
            .added
            .iter()
            .filter(|(k, s)| {
                (server_key.is_none() || k.is_none() || k.as_deref() == server_key)
                    && number.is_none_or(|n| s.phone_number == n)
            })
            .map(|(k, s)| Listed {
                scenario: s.clone(),
                server_key: k.clone(),
                source: Source::Runtime,
            })
            .collect();
        // One set of the hidden ones, not a scan of them per fixture (up to 10,000 x 100,000).
        let hidden: rustc_hash::FxHashSet<(&str, Option<&str>)> = rt
            .hidden
            .iter()
            .map(|(n, cc)| (n.as_str(), cc.as_deref()))
            .collect();
        out.extend(
            self.fixtures
                .iter()
                .filter(|s| {
                    number.is_none_or(|n| s.phone_number == n)
                        && !hidden.contains(&(s.phone_number.as_str(), s.country_code.as_deref()))
                })
                .map(|s| Listed {
                    scenario: s.clone(),
                    server_key: None,
                    source: Source::Fixtures,
                }),
        );
        out
    }

    /// What was changed at run time: the scenarios added (with their key), and the fixtures' phone
    /// numbers hidden (with their country code).
    pub fn runtime(&self) -> RuntimeChanges {
        let rt = self.runtime.read();
        (rt.added.clone(), rt.hidden.clone())
    }

    /// Replaces what was changed at run time (the state file).
    ///
    /// # Errors
    /// A scenario out of its ranges, or more than [`MAX_RUNTIME`] entries; nothing changes.
    pub fn restore(&self, changes: RuntimeChanges) -> Result<(), String> {
        check_runtime(&changes)?;
        let (added, hidden) = changes;
        let changed = !added.is_empty() || !hidden.is_empty();
        let mut rt = self.runtime.write();
        *rt = Runtime { added, hidden };
        // Under the lock: a scenario added just after it must not find the flag cleared.
        self.changed.store(changed, Ordering::Release);
        Ok(())
    }

    /// Back to the fixtures' scenarios only.
    pub fn reset(&self) {
        let mut rt = self.runtime.write();
        *rt = Runtime::default();
        // Under the lock, as in `restore`.
        self.changed.store(false, Ordering::Release);
    }

    /// Forgets the scenarios added for one key.
    pub fn reset_key(&self, server_key: &str) {
        self.runtime
            .write()
            .added
            .retain(|(k, _)| k.as_deref() != Some(server_key));
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
        assert_eq!(s.list(Some("b"), None).len(), 2);
        assert_eq!(s.list(None, Some("811")).len(), 3);
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
        let listed = s.list(None, None);
        assert_eq!(
            listed.len(),
            file.iter()
                .filter(|f| !hidden.contains(&f.phone_number))
                .count()
        );
        assert!(s.list(None, Some("817")).is_empty(), "817 is hidden");
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
