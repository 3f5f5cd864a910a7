//! Crash test: a consumer process is SIGKILLed at random moments and
//! restarted while keyed messages flow; every message is handled at least
//! once, and each SIGKILL costs at most its uncommitted tail.
//!
//! Right after each SIGKILL the group's committed offsets are read: later
//! processes may redo only the killed process's records at or above them,
//! and those (its uncommitted tail) may be no more than it handled in its
//! last commit window (commit interval plus round trip) plus the prefetch.
//! Each victim works for longer than that window before it is killed, so a
//! consumer whose periodic commits never happen fails the bound: the
//! negative control runs the same loop with the commit interval beyond the
//! test's length and requires the check to fail.
//!
//! Size: `RELIABILITY_MESSAGES` (default 5,000) and `RELIABILITY_KILLS`
//! (default 10); the full run is
//! `RELIABILITY_MESSAGES=50000 RELIABILITY_KILLS=10 cargo test -p kafka-rs --test reliability_crash -- --nocapture`
//! (with `KAFKA_RS_TEST_BOOTSTRAP` pointing at Apache Kafka, or on the mock cluster).
//! `RELIABILITY_SEED` repeats a run's kill moments.

mod reliability_support;

use std::time::Duration;

use reliability_support::*;

const PARTITIONS: i32 = 4;
/// The consumer's commit interval.
const COMMIT_INTERVAL_MS: u64 = 500;
/// Slack for the commit request's round trip after the interval fires.
const COMMIT_ROUND_TRIP_MS: u64 = 1_000;
/// The commit window: what a SIGKILL may find handled but not committed.
const WINDOW_MS: u64 = COMMIT_INTERVAL_MS + COMMIT_ROUND_TRIP_MS;
/// Records of a partition the engine may have handled without storing
/// their offsets yet (it stores per chunk of at most 64 records; see
/// CONFIGURATION.md, "Redelivery after a crash"): a commit taken meanwhile
/// leaves them out.
const PREFETCH_PER_PARTITION: usize = 64;

/// The loop both tests run: one process at a time, a chunk of the stream
/// per process flowing for 4 s from the moment the process gets its
/// partitions, and the process killed 1 to 2 s after its first commit
/// window has passed, while its chunk still flows.
fn crash_loop(messages: usize, kills: usize, commit_interval_ms: u64) -> CrashLoop {
    CrashLoop {
        partitions: PARTITIONS,
        messages,
        kills,
        members: 1,
        commit_interval_ms,
        handler_delay_ms: 0,
        work_before_kill: Duration::from_millis(WINDOW_MS + 1_000)
            ..Duration::from_millis(WINDOW_MS + 2_000),
        production: Production::ChunkPerProcess { seconds: 4 },
        // The killed member's session (6 s) must expire, then the group
        // rebalances.
        rejoin: Duration::from_secs(120),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_at_random_moments_loses_nothing_and_redoes_only_uncommitted_work() {
    let messages = env_usize("RELIABILITY_MESSAGES", 5_000);
    let kills = env_usize("RELIABILITY_KILLS", 10);
    let broker = TestBroker::start().await.unwrap();
    let outcome = crash_loop(messages, kills, COMMIT_INTERVAL_MS)
        .run(&broker, "reliability-crash")
        .await;
    let CrashOutcome {
        spec, lines, high, ..
    } = &outcome;
    let (handled, distinct, duplicates) = assert_nothing_lost(high, lines);
    let committed = committed(&spec.bootstrap, &spec.group, &spec.topic, PARTITIONS);
    assert_committed_were_handled(&committed, lines);
    assert_eq!(&committed, high, "a clean stop commits everything handled");

    let prefetch = PARTITIONS as usize * PREFETCH_PER_PARTITION;
    let checks = outcome.check_kills(WINDOW_MS, prefetch);
    let violations: Vec<String> = checks.iter().filter_map(KillCheck::violation).collect();
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    let tails: usize = checks.iter().map(|c| c.tail).sum();
    assert!(
        duplicates <= tails,
        "{duplicates} duplicates, more than the killed processes' uncommitted tails ({tails})"
    );
    let rate = handled as f64 / outcome.elapsed.as_secs_f64();
    report(&format!(
        "crash test [{} broker, seed {}]: produced {messages}, handled {handled} ({distinct} \
         distinct), lost 0, duplicates {duplicates}, kills {kills}, partitions {PARTITIONS}, \
         commit interval {COMMIT_INTERVAL_MS} ms; per kill redone/uncommitted tail/bound \
         (records handled in the {WINDOW_MS} ms before the kill + prefetch {prefetch}): {}; \
         nothing below the offsets committed at a kill redone; mean rate {rate:.0}/s over {:.0} s",
        broker.kind(),
        outcome.seed,
        checks
            .iter()
            .map(KillCheck::figure)
            .collect::<Vec<_>>()
            .join(" "),
        outcome.elapsed.as_secs_f64()
    ));
}

/// The negative control: the same loop with the commit interval (10 min)
/// beyond the test's length, so nothing is committed before a kill. The
/// check must find the uncommitted tails too long; a bound that let this
/// pass would not prove that periodic commits happen.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_consumer_whose_periodic_commits_never_happen_fails_the_kill_bound() {
    let broker = TestBroker::start().await.unwrap();
    let outcome = crash_loop(2_000, 3, 600_000)
        .run(&broker, "reliability-crash-nocommit")
        .await;
    let (_, _, duplicates) = assert_nothing_lost(&outcome.high, &outcome.lines);
    let prefetch = PARTITIONS as usize * PREFETCH_PER_PARTITION;
    let checks = outcome.check_kills(WINDOW_MS, prefetch);
    let violations: Vec<String> = checks.iter().filter_map(KillCheck::violation).collect();
    assert!(
        !violations.is_empty(),
        "commits were off, yet every kill stayed within the bound: {}",
        checks
            .iter()
            .map(KillCheck::figure)
            .collect::<Vec<_>>()
            .join(" ")
    );
    report(&format!(
        "crash test negative control [{} broker]: commit interval 600000 ms, 3 kills over \
         2000 records: {} of 3 kills fail the bound as they must (redone/tail/bound: {}), \
         duplicates {duplicates}",
        broker.kind(),
        violations.len(),
        checks
            .iter()
            .map(KillCheck::figure)
            .collect::<Vec<_>>()
            .join(" ")
    ));
}
