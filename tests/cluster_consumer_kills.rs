//! 20 SIGKILLs of consumer processes over 50,000 keyed records in one group
//! on the three-node cluster: three members run at once; once the group has
//! settled (no partition changed hands for a commit window), a member that
//! is working is killed at a random moment and replaced at once, twenty
//! times, while the stream flows.
//!
//! Nothing is lost. Each SIGKILL costs at most its uncommitted tail (the
//! group's committed offsets read right after it: nothing below them is
//! redone, and the tail is no more than the member handled in its last
//! commit window plus the prefetch), and every record handled twice is a
//! killed member's: the members that stay alive repeat nothing across the
//! many rebalances, since Apache Kafka accepts the commits a member makes
//! while its partitions are revoked.
//!
//! Size: `CLUSTER_KILL_RECORDS` (default 50,000) records, `CLUSTER_KILLS`
//! (default 20) SIGKILLs; the stream is cut into one chunk per kill plus
//! one, each flowing over `CLUSTER_CHUNK_S` (default 3) seconds, the first
//! from the start and one after each kill, so records flow until the last
//! kill however long the group's rebalances take. `RELIABILITY_SEED`
//! repeats a run's choices.

mod cluster_support;
mod reliability_support;

use std::collections::BTreeSet;
use std::time::Duration;

use cluster_support::*;
use reliability_support::{
    assert_committed_were_handled, assert_nothing_lost, committed, repeats, report, CrashLoop,
    KillCheck, Production,
};

const PARTITIONS: i32 = 12;
const MEMBERS: usize = 3;
const COMMIT_INTERVAL_MS: u64 = 500;
/// One commit interval plus the commit's round trip.
const WINDOW_MS: u64 = COMMIT_INTERVAL_MS + 1_000;
/// Records a partition's worker may hold besides the one being handled.
const PREFETCH_PER_PARTITION: usize = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_consumer_sigkills_lose_nothing_and_repeat_only_killed_members_tails() {
    let messages = env_size("KILL_RECORDS", 50_000);
    let kills = env_size("KILLS", 20);
    let seconds = env_size("CHUNK_S", 3) as u64;
    let cluster = Cluster::connect().await;
    cluster.heal().await;
    let outcome = CrashLoop {
        partitions: PARTITIONS,
        messages,
        kills,
        members: MEMBERS,
        commit_interval_ms: COMMIT_INTERVAL_MS,
        handler_delay_ms: 0,
        work_before_kill: Duration::from_millis(500)..Duration::from_millis(2_500),
        production: Production::ChunkPerKill {
            seconds,
            settled_ms: WINDOW_MS,
        },
        rejoin: Duration::from_secs(120),
    }
    .run(&cluster.broker, "cluster-kills")
    .await;
    let spec = &outcome.spec;
    let (handled, distinct, duplicates) = assert_nothing_lost(&outcome.high, &outcome.lines);
    let committed = committed(&spec.bootstrap, &spec.group, &spec.topic, PARTITIONS);
    assert_committed_were_handled(&committed, &outcome.lines);
    assert_eq!(
        committed, outcome.high,
        "a clean stop commits everything handled"
    );

    let prefetch = PARTITIONS as usize * PREFETCH_PER_PARTITION;
    let checks = outcome.check_kills(WINDOW_MS, prefetch);
    let violations: Vec<String> = checks.iter().filter_map(KillCheck::violation).collect();
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    let killed: BTreeSet<&str> = outcome.kills.iter().map(|k| k.run.as_str()).collect();
    let repeated = repeats(&outcome.lines);
    let by_survivors: Vec<_> = repeated
        .iter()
        .filter(|r| !killed.contains(r.first_run.as_str()))
        .collect();
    assert!(
        by_survivors.is_empty(),
        "{} records of members that were never killed were handled again: {:?}",
        by_survivors.len(),
        &by_survivors[..by_survivors.len().min(10)]
    );
    let tails: usize = checks.iter().map(|c| c.tail).sum();
    let redone: usize = checks.iter().map(|c| c.redone).sum();
    assert!(
        duplicates <= tails,
        "{duplicates} duplicates, more than the killed members' uncommitted tails ({tails})"
    );
    report(&format!(
        "consumer SIGKILLs [Apache Kafka, 3 nodes, seed {}]: {messages} keyed records over \
         {PARTITIONS} partitions ({} chunks of {seconds} s), {MEMBERS} members in one group, {kills} \
         SIGKILLs (each victim replaced at once); handled {handled} ({distinct} distinct), lost \
         0, duplicates {duplicates} (all the killed members' uncommitted tails: {tails} records \
         in all, {redone} of them redone; survivors' records repeated 0); per kill \
         redone/uncommitted tail/bound (its records in the {WINDOW_MS} ms before the kill + \
         prefetch {prefetch}): {}; {:.0} s in all",
        outcome.seed,
        kills + 1,
        checks
            .iter()
            .map(KillCheck::figure)
            .collect::<Vec<_>>()
            .join(" "),
        outcome.elapsed.as_secs_f64()
    ));
}
