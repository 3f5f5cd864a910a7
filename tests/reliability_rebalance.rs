//! Rebalance: three consumer processes in one group; while messages flow
//! one is SIGKILLed and a fourth joins. Nothing is lost, and at every
//! moment sampled nothing is committed that was not handled.
//!
//! Duplicates are expected: the killed member's handled-but-uncommitted
//! records, and on the mock cluster also the work of members whose commits
//! it refuses during a rebalance. They are bounded per group change by one
//! commit window of the whole group's peak rate plus the prefetch.

mod reliability_support;

use std::time::Duration;

use reliability_support::*;

const PARTITIONS: i32 = 6;
const MESSAGES: usize = 6_000;
const COMMIT_INTERVAL_MS: u64 = 500;
const COMMIT_ROUND_TRIP_MS: u64 = 1_000;
const PREFETCH_PER_PARTITION: usize = 64;
/// Group changes after which handled work can be redelivered: the second
/// and third member joining, the SIGKILL, the fourth member joining.
const GROUP_CHANGES: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_and_an_added_member_lose_nothing_and_commit_only_handled_work() {
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("reliability-rebalance");
    broker.create_topic(&topic, PARTITIONS).await.unwrap();
    let spec = ConsumerSpec {
        bootstrap: broker.bootstrap(),
        topic: topic.clone(),
        group: unique_name("reliability-rebalance-group"),
        record: record_path(&topic),
        commit_interval_ms: COMMIT_INTERVAL_MS,
        // Slow enough that the stream is still flowing at each group change.
        handler_delay_ms: 5,
    };
    let producer = producer(&broker.bootstrap());
    // Paced in slices so messages keep arriving through the group changes.
    let producing = produce_paced(producer.clone(), topic.clone(), MESSAGES, 20);

    // Samples committed offsets against the record while the group changes.
    let sampling = tokio::sync::watch::channel(true);
    let sampler = {
        let (bootstrap, group, topic, record) = (
            spec.bootstrap.clone(),
            spec.group.clone(),
            topic.clone(),
            spec.record.clone(),
        );
        let mut running = sampling.1.clone();
        tokio::task::spawn_blocking(move || {
            let mut samples = 0;
            while *running.borrow_and_update() {
                // Committed first, then the record: a handled line is
                // written before its offset can be stored.
                let committed = committed(&bootstrap, &group, &topic, PARTITIONS);
                assert_committed_were_handled(&committed, &read_record(&record));
                samples += 1;
                std::thread::sleep(Duration::from_millis(250));
            }
            samples
        })
    };

    let handled_by = |run: &str| {
        read_record(&spec.record)
            .iter()
            .filter(|l| l.done && l.run == run)
            .count()
    };
    let mut a = spec.spawn("a");
    let mut b = spec.spawn("b");
    let mut c = spec.spawn("c");
    let all_three = poll(Duration::from_secs(120), Duration::from_millis(100), || {
        ["a", "b", "c"].iter().all(|r| handled_by(r) > 0)
    })
    .await;
    assert!(
        all_three,
        "all three members got partitions and handled work"
    );
    for p in [&mut a, &mut b, &mut c] {
        p.assert_running();
    }
    b.kill();
    let handled_at_kill = handled_unique(&read_record(&spec.record));
    let mut d = spec.spawn("d");
    let d_works = poll(Duration::from_secs(120), Duration::from_millis(100), || {
        handled_by("d") > 0
    })
    .await;
    assert!(d_works, "the added member got partitions and handled work");
    assert!(
        handled_at_kill < MESSAGES,
        "the group changed while messages were flowing"
    );
    assert_eq!(producing.await.unwrap(), MESSAGES);
    let all = poll(Duration::from_secs(240), Duration::from_millis(200), || {
        handled_unique(&read_record(&spec.record)) >= MESSAGES
    })
    .await;
    for p in [&mut a, &mut c, &mut d] {
        p.assert_running();
    }
    assert!(all, "the group handled every message");
    let _ = sampling.0.send(false);
    let samples = sampler
        .await
        .expect("every sample: committed offsets were handled");
    assert!(samples > 0);
    for p in [a, c, d] {
        let status = p.terminate(Duration::from_secs(30));
        assert!(status.success(), "clean exit on SIGTERM, got {status}");
    }

    let lines = read_record(&spec.record);
    let high = high_watermarks(&spec.bootstrap, &topic, PARTITIONS);
    assert_eq!(high.values().sum::<i64>(), MESSAGES as i64);
    let (handled, distinct, duplicates) = assert_nothing_lost(&high, &lines);
    let committed = committed(&spec.bootstrap, &spec.group, &topic, PARTITIONS);
    assert_committed_were_handled(&committed, &lines);

    let window = (COMMIT_INTERVAL_MS + COMMIT_ROUND_TRIP_MS) as u128;
    let group_peak: usize = ["a", "b", "c", "d"]
        .iter()
        .map(|r| peak_in_window(&lines, r, window))
        .sum();
    let prefetch = PARTITIONS as usize * PREFETCH_PER_PARTITION;
    let bound = GROUP_CHANGES * (group_peak + prefetch);
    assert!(
        duplicates <= bound,
        "{duplicates} duplicates exceed {bound} = {GROUP_CHANGES} group changes x \
         (group peak {group_peak} per {window} ms + prefetch {prefetch})"
    );
    report(&format!(
        "rebalance [{} broker]: 3 members, 1 SIGKILLed, 1 added; produced {MESSAGES}, handled \
         {handled} ({distinct} distinct), lost 0, duplicates {duplicates} (bound {bound} = \
         {GROUP_CHANGES} group changes x (peak {group_peak} per {window} ms + prefetch \
         {prefetch})), committed-but-unhandled 0 in {samples} samples",
        broker.kind()
    ));
}
