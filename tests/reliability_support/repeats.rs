//! Records handled more than once, and where each repeat may come from.
//!
//! A handled record is committed by the next periodic commit, at most one
//! commit window (interval plus round trip) later, unless commits cannot
//! happen then: the member died, the group was rebalancing (the mock
//! cluster refuses commits meanwhile), or the coordinator was unreachable.
//! So every repeat's first handling must lie in an *exposure window*: from
//! one commit window before such an event until commits went through again.
//! A repeat of a record handled outside every exposure window is a commit
//! that should have happened and did not.

use std::collections::HashMap;

use super::Line;

/// One record handled again: where, and who handled it first and next.
#[derive(Clone, Debug)]
pub struct Repeat {
    pub partition: i32,
    pub offset: i64,
    pub first_run: String,
    pub first_at_ms: u128,
    pub again_run: String,
    pub again_at_ms: u128,
}

/// Every repeated handling in `lines`, each against the handling before it
/// (a record handled three times gives two repeats).
pub fn repeats(lines: &[Line]) -> Vec<Repeat> {
    let mut by_record: HashMap<(i32, i64), Vec<&Line>> = HashMap::new();
    for line in lines.iter().filter(|l| l.done) {
        by_record
            .entry((line.partition, line.offset))
            .or_default()
            .push(line);
    }
    let mut out = Vec::new();
    for ((partition, offset), mut handlings) in by_record {
        handlings.sort_by_key(|l| l.at_ms);
        for pair in handlings.windows(2) {
            out.push(Repeat {
                partition,
                offset,
                first_run: pair[0].run.clone(),
                first_at_ms: pair[0].at_ms,
                again_run: pair[1].run.clone(),
                again_at_ms: pair[1].at_ms,
            });
        }
    }
    out.sort_by_key(|r| (r.first_at_ms, r.partition, r.offset));
    out
}

/// A span of time (unix ms) during which handled records may stay
/// uncommitted, and why.
#[derive(Clone, Debug)]
pub struct Exposure {
    pub what: String,
    pub from_ms: u128,
    pub until_ms: u128,
}

impl Exposure {
    /// The exposure of an event at `at_ms` whose effect on commits lasted
    /// until `until_ms`: from one commit window before it.
    pub fn around(what: &str, at_ms: u128, until_ms: u128, window_ms: u64) -> Self {
        Exposure {
            what: what.to_owned(),
            from_ms: at_ms.saturating_sub(window_ms as u128),
            until_ms: until_ms.max(at_ms),
        }
    }

    fn covers(&self, at_ms: u128) -> bool {
        (self.from_ms..=self.until_ms).contains(&at_ms)
    }
}

/// The repeats whose first handling lies in no exposure window, described.
pub fn unexplained(repeats: &[Repeat], exposures: &[Exposure]) -> Vec<String> {
    repeats
        .iter()
        .filter(|r| !exposures.iter().any(|e| e.covers(r.first_at_ms)))
        .map(|r| {
            format!(
                "{}/{} handled by {} at {} and again by {} at {}",
                r.partition, r.offset, r.first_run, r.first_at_ms, r.again_run, r.again_at_ms
            )
        })
        .collect()
}

/// Fails unless every repeat lies in an exposure window; returns how many
/// repeats each window explains, for reports.
pub fn assert_repeats_explained(repeats: &[Repeat], exposures: &[Exposure]) -> Vec<String> {
    let wrong = unexplained(repeats, exposures);
    assert!(
        wrong.is_empty(),
        "{} records were handled again although handled outside every window in which \
         commits could not happen ({exposures:?}); first: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
    exposures
        .iter()
        .map(|e| {
            let n = repeats.iter().filter(|r| e.covers(r.first_at_ms)).count();
            format!("{}: {n}", e.what)
        })
        .collect()
}
