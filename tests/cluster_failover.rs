//! Leader failover under load on the three-node cluster (replication factor
//! 3, min.insync.replicas 2): the framework's idempotent producer
//! (`requiredAcks=-1&idempotent=true`) sends keyed records at a steady
//! pace, half of them under one key so that one partition is the busiest,
//! and a consumer service process handles them. The broker leading the
//! busiest partition is SIGKILLed and started again after `DOWNTIME`.
//!
//! Every acknowledged record is in the log exactly once, every record in
//! the log is handled, and a record is handled again only if it was handled
//! while a failover kept commits from going through (a commit window around
//! the kill and the restart, or, when the member lost its partitions, any
//! time before that loss with no commit covering the record). The report gives the
//! stall each side saw: the producer's longest time without an
//! acknowledgement, the consumer's longest time without handling a record.
//!
//! Size: `CLUSTER_RATE` records per second (default 1,000) for
//! `CLUSTER_SECONDS` (default 20), the leader down `CLUSTER_DOWNTIME_S`
//! (default 5) seconds.

mod cluster_support;
mod reliability_support;

use std::time::{Duration, Instant};

use cluster_support::*;
use reliability_support::{
    assert_repeats_explained, longest_gap, now_ms, poll, read_assignments, repeats, report,
    Exposure,
};

const PARTITIONS: i32 = 6;
const COMMIT_INTERVAL_MS: u64 = 500;
/// One commit interval plus the commit's round trip.
const WINDOW_MS: u64 = COMMIT_INTERVAL_MS + 1_000;

/// Half the records go to one key, the busiest partition's.
fn skewed_key(i: usize) -> String {
    if i % 2 == 0 {
        "hot".to_owned()
    } else {
        format!("key-{}", i % 97)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_busiest_partitions_leader_loses_and_duplicates_nothing() {
    let rate = env_size("RATE", 1_000) as u64;
    let seconds = env_size("SECONDS", 20) as u64;
    let downtime = Duration::from_secs(env_size("DOWNTIME_S", 5) as u64);
    let LoadRun {
        cluster,
        topic,
        spec,
        watch,
        mut consumer,
        mut follow,
        sender,
    } = LoadRun::start("failover", PARTITIONS, COMMIT_INTERVAL_MS).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let begun = Instant::now();
    // Room for 30 s of records in flight: a send stuck on the dead leader
    // must not hold back the partitions that still have one.
    let sending = sender.spawn_until(&topic, rate, 30 * rate as usize, skewed_key, stopped);

    // A steady phase first: the consumer handles a few seconds' worth.
    let steady = poll(Duration::from_secs(120), Duration::from_millis(100), || {
        follow.update().handled_unique() >= 2 * rate as usize
    })
    .await;
    assert!(steady, "the consumer handled two seconds' worth of records");
    let mut per_partition = [0usize; PARTITIONS as usize];
    for line in follow.lines().iter().filter(|l| l.done) {
        per_partition[line.partition as usize] += 1;
    }
    let busiest = (0..PARTITIONS)
        .max_by_key(|p| per_partition[*p as usize])
        .expect("partitions");
    let leader = cluster.leader_of(&topic, busiest);
    let killed_at = now_ms();
    cluster.script(&["kill-node", &leader.to_string()]);
    // The outage's length, not a synchronisation.
    tokio::time::sleep(downtime).await;
    let restart_at = now_ms();
    cluster.script(&["start-node", &leader.to_string()]);
    let restarted_at = now_ms();
    let new_leader = cluster.leader_of(&topic, busiest);
    // Production goes on for the rest of the run.
    let left = Duration::from_secs(seconds).saturating_sub(begun.elapsed());
    tokio::time::sleep(left).await;
    let _ = stop.send(true);
    let production_ended = now_ms();
    let sends = sending.await.unwrap();
    let (high, samples) =
        settle(&sends, &spec, PARTITIONS, &mut follow, &mut consumer, watch).await;
    let in_sync_after = cluster.wait_in_sync().await;
    let status = consumer.terminate(Duration::from_secs(30));
    assert!(status.success(), "clean exit on SIGTERM, got {status}");

    let Outcome {
        acked,
        in_log,
        lines,
        handled,
        distinct,
        duplicates,
    } = assert_outcome(&sends, &spec, PARTITIONS, &high).await;
    let settle = |at: u128| {
        samples
            .advanced_after(at)
            .unwrap_or_else(|| panic!("commits never advanced after {at}: {samples:?}"))
    };
    let exposures = [
        Exposure::around("leader killed", killed_at, settle(killed_at), WINDOW_MS),
        Exposure::around("leader back", restart_at, settle(restarted_at), WINDOW_MS),
    ];
    // A member that lost its partitions after the kill (its coordinator was
    // on the killed node and its session ran out while it looked for the
    // new one) has its commits refused until it gives them up: a record
    // handled before such a loss and never committed up to it is handled
    // again by design of at-least-once. Each such repeat is checked against
    // the commits sampled in between, record by record.
    let losses: Vec<u128> = read_assignments(&spec.record)
        .iter()
        .filter(|a| !a.assigned && a.at_ms > killed_at && a.at_ms < production_ended)
        .map(|a| a.at_ms)
        .collect();
    let (after_loss, others): (Vec<_>, Vec<_>) = repeats(&lines).into_iter().partition(|r| {
        losses.iter().any(|&lost| {
            r.first_at_ms < lost
                && lost <= r.again_at_ms
                && !samples.committed_past(r.partition, r.offset, r.first_at_ms, lost)
        })
    });
    let mut explained = assert_repeats_explained(&others, &exposures);
    explained.push(format!(
        "uncommitted when the assignment was lost: {}",
        after_loss.len()
    ));

    // Whether the group lost its assignment (its coordinator was on the
    // killed node, or a heartbeat gap outlived the session): when the
    // consumer gave its partitions up and got them back.
    let changes: Vec<String> = read_assignments(&spec.record)
        .iter()
        .filter(|a| a.at_ms > killed_at && a.at_ms < production_ended)
        .map(|a| {
            format!(
                "{} +{:.1} s",
                if a.assigned { "assigned" } else { "revoked" },
                (a.at_ms - killed_at) as f64 / 1000.0
            )
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let group = if changes.is_empty() {
        "the consumer kept its partitions".to_owned()
    } else {
        format!(
            "the consumer's partitions after the kill: {}",
            changes.join(", ")
        )
    };
    let (producer_gap, slowest_send) = producer_stall(&sends, None);
    let (producer_busiest_gap, slowest_busiest) = producer_stall(&sends, Some(busiest));
    let window = (killed_at.saturating_sub(1_000), production_ended);
    let consumer_gap = longest_gap(&lines, None, window.0, window.1);
    let busiest_gap = longest_gap(&lines, Some(busiest), window.0, window.1);
    report(&format!(
        "leader failover [Apache Kafka, 3 nodes, RF 3, min ISR 2]: {acked} records sent at \
         {rate}/s over {:.0} s by the framework's producer (requiredAcks=-1, idempotent), half \
         under one key; node {leader} (leader of the busiest partition {busiest}) SIGKILLed, \
         started again after {:.1} s (start {:.1} s), new leader node {new_leader}; \
         acknowledged {acked}, failed 0, in the log {}, lost 0, in the log twice 0; consumer \
         handled {handled} ({distinct} distinct), lost 0, handled twice {duplicates} ({}); \
         stall on partition {busiest}: producer {} ms without an acknowledgement (slowest \
         send {} ms), consumer {} ms without handling a record; on the whole topic: producer \
         {} ms (slowest send {} ms), consumer {} ms; {group}; replicas in sync {:.1} s after the end",
        begun.elapsed().as_secs_f64(),
        (restart_at - killed_at) as f64 / 1000.0,
        (restarted_at - restart_at) as f64 / 1000.0,
        in_log,
        explained.join(", "),
        producer_busiest_gap.as_millis(),
        slowest_busiest.as_millis(),
        busiest_gap,
        producer_gap.as_millis(),
        slowest_send.as_millis(),
        consumer_gap,
        in_sync_after.as_secs_f64(),
    ));
}
