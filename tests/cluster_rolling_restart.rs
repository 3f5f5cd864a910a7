//! A rolling restart of all three brokers under load: each node in turn is
//! stopped gracefully and started again on its data, the next one only once
//! every replica is back in sync, while the framework's idempotent producer
//! sends at a steady pace and a consumer service process handles the
//! records. Neither kafka-rs process is restarted.
//!
//! Nothing acknowledged is lost or in the log twice, every record is
//! handled, and a record is handled again only if it was handled while a
//! restart kept commits from going through (from one commit window before
//! the node stopped until commits advanced after its replicas were back in
//! sync). The report gives each restart's length and the stall each side
//! saw during it.
//!
//! Size: `CLUSTER_RATE` records per second (default 1,000).

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

fn key(i: usize) -> String {
    format!("key-{}", i % 101)
}

/// One node's restart, in unix ms.
struct Restart {
    node: u32,
    stopping: u128,
    stopped: u128,
    started: u128,
    in_sync: u128,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rolling_restart_under_load_loses_nothing_and_restarts_no_client() {
    let rate = env_size("RATE", 1_000) as u64;
    let LoadRun {
        cluster,
        topic,
        spec,
        watch,
        mut consumer,
        mut follow,
        sender,
    } = LoadRun::start("rolling", PARTITIONS, COMMIT_INTERVAL_MS).await;
    let consumer_pid = consumer.child.id();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let begun = Instant::now();
    let sending = sender.spawn_until(&topic, rate, 30 * rate as usize, key, stopped);
    let steady = poll(Duration::from_secs(120), Duration::from_millis(100), || {
        follow.update().handled_unique() >= 2 * rate as usize
    })
    .await;
    assert!(steady, "the consumer handled two seconds' worth of records");

    let mut restarts = Vec::new();
    for node in 1..=3u32 {
        let stopping = now_ms();
        cluster.script(&["stop-node", &node.to_string()]);
        let stopped = now_ms();
        cluster.script(&["start-node", &node.to_string()]);
        let started = now_ms();
        cluster.wait_in_sync().await;
        let in_sync = now_ms();
        consumer.assert_running();
        restarts.push(Restart {
            node,
            stopping,
            stopped,
            started,
            in_sync,
        });
    }
    // A last steady stretch after the third restart: its length, not a
    // synchronisation.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = stop.send(true);
    let production_ended = now_ms();
    let produced_for = begun.elapsed();
    let sends = sending.await.unwrap();
    let (high, samples) =
        settle(&sends, &spec, PARTITIONS, &mut follow, &mut consumer, watch).await;
    assert_eq!(
        consumer.child.id(),
        consumer_pid,
        "the same consumer process throughout"
    );
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
    let exposures: Vec<Exposure> = restarts
        .iter()
        .map(|r| {
            let resumed = samples.advanced_after(r.in_sync).unwrap_or_else(|| {
                panic!(
                    "commits never advanced after node {} was back: {samples:?}",
                    r.node
                )
            });
            Exposure::around(&format!("node {}", r.node), r.stopping, resumed, WINDOW_MS)
        })
        .collect();
    let explained = assert_repeats_explained(&repeats(&lines), &exposures);
    let assignments = read_assignments(&spec.record);

    let figures: Vec<String> = restarts
        .iter()
        .map(|r| {
            let to_instant = |ms: u128| {
                let ago = now_ms().saturating_sub(ms);
                Instant::now() - Duration::from_millis(ago as u64)
            };
            let (from, until) = (to_instant(r.stopping), to_instant(r.in_sync));
            let window: Vec<Send> = sends
                .iter()
                .filter(|s| s.started >= from && s.started <= until)
                .cloned()
                .collect();
            let (producer_gap, slowest) = producer_stall(&window, None);
            let consumer_gap = longest_gap(&lines, None, r.stopping, r.in_sync);
            let moved = assignments
                .iter()
                .filter(|a| (r.stopping..=r.in_sync).contains(&a.at_ms))
                .count();
            format!(
                "node {}: stop {:.1} s, start {:.1} s, in sync {:.1} s later; stall: producer {} ms \
                 without an acknowledgement (slowest send {} ms), consumer {} ms without handling \
                 a record; consumer partitions revoked or assigned {moved} times",
                r.node,
                (r.stopped - r.stopping) as f64 / 1000.0,
                (r.started - r.stopped) as f64 / 1000.0,
                (r.in_sync - r.started) as f64 / 1000.0,
                producer_gap.as_millis(),
                slowest.as_millis(),
                consumer_gap
            )
        })
        .collect();
    report(&format!(
        "rolling restart [Apache Kafka, 3 nodes, RF 3, min ISR 2]: {acked} records sent at \
         {rate}/s over {:.0} s by the framework's producer (requiredAcks=-1, idempotent) while \
         nodes 1, 2, 3 were each stopped gracefully and started again; acknowledged {acked}, \
         failed 0, in the log {}, lost 0, in the log twice 0; consumer handled {handled} \
         ({distinct} distinct), lost 0, handled twice {duplicates} ({}); no kafka-rs process \
         restarted (consumer pid {consumer_pid} throughout, one producer runtime); {}; overall \
         longest consumer gap {} ms",
        produced_for.as_secs_f64(),
        in_log,
        explained.join(", "),
        figures.join("; "),
        longest_gap(&lines, None, restarts[0].stopping, production_ended),
    ));
}
