//! A broker restart mid-stream: the consumer process resumes on its own,
//! loses nothing, and handles again only records it handled while the
//! restart kept commits from going through.
//!
//! On Apache Kafka (`KAFKA_RS_TEST_BOOTSTRAP` set) every node is stopped and
//! started again on its data with `scripts/kafka.sh restart` (so it must be
//! an Apache Kafka that script started; `KAFKA_RS_TEST_KAFKA_STATE` names
//! it). On the mock cluster, its only broker goes down and comes back up,
//! keeping its in-memory log.

mod reliability_support;

use std::time::Duration;

use reliability_support::*;

const PARTITIONS: i32 = 4;
const MESSAGES: usize = 3_000;
const COMMIT_INTERVAL_MS: u64 = 500;
/// One commit interval plus the commit's round trip.
const WINDOW_MS: u64 = COMMIT_INTERVAL_MS + 1_000;

/// Restarts the broker under test; returns what was done, for the report.
fn restart(broker: &TestBroker) -> String {
    match broker.embedded() {
        Some(embedded) => {
            embedded.with_cluster(|c| c.broker_down(1)).unwrap();
            // The outage's duration, not a synchronisation.
            std::thread::sleep(Duration::from_secs(3));
            embedded.with_cluster(|c| c.broker_up(1)).unwrap();
            "mock broker down 3 s and up again".to_owned()
        }
        None => {
            let started = std::time::Instant::now();
            broker
                .kafka_script(&["restart"])
                .unwrap_or_else(|e| panic!("restarting Apache Kafka: {e}"));
            format!(
                "Apache Kafka stopped and started again on its data ({:.1} s)",
                started.elapsed().as_secs_f64()
            )
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broker_restart_mid_stream_loses_nothing() {
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("reliability-restart");
    broker.create_topic(&topic, PARTITIONS).await.unwrap();
    let spec = ConsumerSpec {
        bootstrap: broker.bootstrap(),
        topic: topic.clone(),
        group: unique_name("reliability-restart-group"),
        record: record_path(&topic),
        commit_interval_ms: COMMIT_INTERVAL_MS,
        handler_delay_ms: 2,
    };
    // Not idempotent, so that the test covers a plain producer: its retry
    // may write a message twice; every record in the log must then be handled.
    let producer = producer_with(&spec.bootstrap, false);
    let producing = {
        let topic = topic.clone();
        tokio::spawn(async move {
            let slices = 20;
            let mut acked = 0;
            for s in 0..slices {
                let range = (MESSAGES * s / slices)..(MESSAGES * (s + 1) / slices);
                acked += produce_range(&producer, &topic, range).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            acked
        })
    };
    let watch = CommitWatch::start(
        &spec.bootstrap,
        &spec.group,
        &topic,
        PARTITIONS,
        Some(spec.record.clone()),
    );
    let mut consumer = spec.spawn("only");
    // Restart once commits go through, so that the records handled before
    // the restart's exposure window are committed and must not come back.
    let started = poll(Duration::from_secs(60), Duration::from_millis(100), || {
        handled_unique(&read_record(&spec.record)) >= 300
            && !committed(&spec.bootstrap, &spec.group, &topic, PARTITIONS).is_empty()
    })
    .await;
    assert!(
        started,
        "the consumer handled 300 messages and committed some"
    );
    let at = handled_unique(&read_record(&spec.record));
    let restart_at = now_ms();
    let what = tokio::task::block_in_place(|| restart(&broker));
    let restarted_at = now_ms();
    assert!(at < MESSAGES, "the broker restarted mid-stream");

    assert_eq!(
        producing.await.unwrap(),
        MESSAGES,
        "every message acknowledged"
    );
    let high = high_watermarks(&spec.bootstrap, &topic, PARTITIONS);
    let in_log = high.values().sum::<i64>() as usize;
    let all = poll(Duration::from_secs(180), Duration::from_millis(100), || {
        handled_unique(&read_record(&spec.record)) >= in_log
    })
    .await;
    consumer.assert_running();
    assert!(
        all,
        "the consumer resumed after the restart and handled everything"
    );
    assert!(high.values().sum::<i64>() >= MESSAGES as i64, "{high:?}");
    let all_committed = poll(Duration::from_secs(60), Duration::from_millis(200), || {
        committed(&spec.bootstrap, &spec.group, &topic, PARTITIONS) == high
    })
    .await;
    let samples = watch.stop().await;
    assert!(all_committed, "commits resumed after the restart");
    let status = consumer.terminate(Duration::from_secs(30));
    assert!(status.success(), "clean exit on SIGTERM, got {status}");
    let lines = read_record(&spec.record);
    let (handled, _, duplicates) = assert_nothing_lost(&high, &lines);
    // A record may be handled again only if it was handled while the
    // restart kept commits from going through: from one commit window
    // before it until commits advanced again.
    let resumed_at = samples
        .advanced_after(restarted_at)
        .unwrap_or_else(|| panic!("commits never advanced after the restart: {samples:?}"));
    let exposure = Exposure::around("restart", restart_at, resumed_at, WINDOW_MS);
    let repeated = repeats(&lines);
    assert_repeats_explained(&repeated, std::slice::from_ref(&exposure));
    let exposed = lines
        .iter()
        .filter(|l| l.done && (exposure.from_ms..=exposure.until_ms).contains(&l.at_ms))
        .count();
    report(&format!(
        "broker restart [{} broker]: {what} after {at} handled; produced {MESSAGES} ({in_log} records in the log, {} messages whose delivery the broker failed sent again), \
         handled {handled}, lost 0, duplicates {duplicates} (bound: only records handled from \
         {WINDOW_MS} ms before the restart until commits resumed {} ms after it ended, {exposed} records)",
        broker.kind(),
        RESENT.load(std::sync::atomic::Ordering::Relaxed),
        resumed_at.saturating_sub(restarted_at),
    ));
}
