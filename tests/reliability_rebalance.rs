//! Rebalance: three consumer processes in one group; while messages flow
//! one is SIGKILLed and a fourth joins. Nothing is lost, and at every
//! moment sampled nothing is committed that was not handled.
//!
//! Duplicates are bounded record by record, not by a count:
//! - the killed member may cost only its uncommitted tail (its records at or
//!   above the offsets committed right after the SIGKILL), no more than it
//!   handled in its last commit window plus the prefetch;
//! - a live member's record may be handled again only if it was handled
//!   while a group change kept commits from going through: from one commit
//!   window before the change until commits advanced again once the group
//!   settled. On the mock cluster, which refuses commits during a rebalance,
//!   that happens; Apache Kafka accepts the commit a member makes while its
//!   partitions are revoked, so there no live member's record is repeated.
//!
//! Between the changes the group runs steadily for several commit windows:
//! records handled then must never be repeated.

mod reliability_support;

use std::time::Duration;

use reliability_support::*;

const PARTITIONS: i32 = 6;
const MESSAGES: usize = 6_000;
const COMMIT_INTERVAL_MS: u64 = 500;
const COMMIT_ROUND_TRIP_MS: u64 = 1_000;
const WINDOW_MS: u64 = COMMIT_INTERVAL_MS + COMMIT_ROUND_TRIP_MS;
const PREFETCH_PER_PARTITION: usize = 64;
/// How long the group runs unchanged between the joins and the SIGKILL:
/// three commit windows, so records handled in the middle one are committed
/// long before the next change.
const STEADY: Duration = Duration::from_millis(3 * WINDOW_MS);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_and_an_added_member_lose_nothing_and_repeat_only_exposed_work() {
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
    // Paced over about 20 s so messages keep arriving through the changes.
    let producing = produce_paced(producer.clone(), topic.clone(), MESSAGES, 40);
    let watch = CommitWatch::start(
        &spec.bootstrap,
        &spec.group,
        &topic,
        PARTITIONS,
        Some(spec.record.clone()),
    );
    let mut follow = Follow::new(&spec.record);

    let joined_at = now_ms();
    let mut a = spec.spawn("a");
    let mut b = spec.spawn("b");
    let mut c = spec.spawn("c");
    let all_three = poll(Duration::from_secs(120), Duration::from_millis(100), || {
        let f = follow.update();
        ["a", "b", "c"].iter().all(|r| f.handled_by(r) > 0)
    })
    .await;
    assert!(
        all_three,
        "all three members got partitions and handled work"
    );
    let settled_at = now_ms();
    // The group's steady phase: its length, not a synchronisation.
    tokio::time::sleep(STEADY).await;
    for p in [&mut a, &mut b, &mut c] {
        p.assert_running();
    }
    let killed_at = now_ms();
    let committed_at_kill = tokio::task::block_in_place(|| {
        b.kill();
        committed(&spec.bootstrap, &spec.group, &topic, PARTITIONS)
    });
    let handled_at_kill = follow.update().handled_unique();
    let mut d = spec.spawn("d");
    let d_works = poll(Duration::from_secs(120), Duration::from_millis(100), || {
        follow.update().handled_by("d") > 0
    })
    .await;
    assert!(d_works, "the added member got partitions and handled work");
    let d_worked_at = now_ms();
    assert!(
        handled_at_kill < MESSAGES,
        "the group changed while messages were flowing"
    );
    assert_eq!(producing.await.unwrap(), MESSAGES);
    let all = poll(Duration::from_secs(240), Duration::from_millis(200), || {
        follow.update().handled_unique() >= MESSAGES
    })
    .await;
    for p in [&mut a, &mut c, &mut d] {
        p.assert_running();
    }
    assert!(all, "the group handled every message");
    // Commits go on until everything handled is committed.
    let high = high_watermarks(&spec.bootstrap, &topic, PARTITIONS);
    let all_committed = poll(Duration::from_secs(60), Duration::from_millis(200), || {
        committed(&spec.bootstrap, &spec.group, &topic, PARTITIONS) == high
    })
    .await;
    let samples = watch.stop().await;
    assert!(all_committed, "the group committed everything it handled");
    assert!(samples.len() > 0);
    for p in [a, c, d] {
        let status = p.terminate(Duration::from_secs(30));
        assert!(status.success(), "clean exit on SIGTERM, got {status}");
    }

    let lines = read_record(&spec.record);
    assert_eq!(high.values().sum::<i64>(), MESSAGES as i64);
    let (handled, distinct, duplicates) = assert_nothing_lost(&high, &lines);
    assert_committed_were_handled(
        &committed(&spec.bootstrap, &spec.group, &topic, PARTITIONS),
        &lines,
    );

    // The killed member: its uncommitted tail only.
    let prefetch = PARTITIONS as usize * PREFETCH_PER_PARTITION;
    let outcome = CrashOutcome {
        spec: spec.clone(),
        runs: ["a", "b", "c", "d"].map(str::to_owned).to_vec(),
        kills: vec![Kill {
            run: "b".to_owned(),
            at_ms: killed_at,
            committed: committed_at_kill,
        }],
        lines: lines.clone(),
        high: high.clone(),
        elapsed: Duration::ZERO,
        seed: 0,
    };
    let kill = &outcome.check_kills(WINDOW_MS, prefetch)[0];
    if let Some(wrong) = kill.violation() {
        panic!("{wrong}");
    }

    // Live members: only records handled while a group change kept commits
    // from going through.
    let settle = |at: u128| {
        samples
            .advanced_after(at)
            .unwrap_or_else(|| panic!("commits never advanced after {at} (samples: {samples:?})"))
    };
    let exposures = [
        Exposure::around("a, b and c join", joined_at, settle(settled_at), WINDOW_MS),
        Exposure::around(
            "b SIGKILLed, d joins",
            killed_at,
            settle(d_worked_at),
            WINDOW_MS,
        ),
    ];
    let live_repeats: Vec<Repeat> = repeats(&lines)
        .into_iter()
        .filter(|r| r.first_run != "b")
        .collect();
    let explained = assert_repeats_explained(&live_repeats, &exposures);
    let steady_ms = exposures[1].from_ms.saturating_sub(exposures[0].until_ms);
    assert!(
        steady_ms > 0,
        "the windows cover the whole run: no steady phase was checked ({exposures:?})"
    );
    if broker.embedded().is_none() {
        assert!(
            live_repeats.is_empty(),
            "Apache Kafka accepts commits during revocation, yet live members' records \
             were handled again: {:?}",
            &live_repeats[..live_repeats.len().min(10)]
        );
    }
    assert_eq!(
        duplicates,
        kill.redone + live_repeats.len(),
        "every duplicate is the killed member's or an exposed live member's"
    );
    report(&format!(
        "rebalance [{} broker]: 3 members, 1 SIGKILLed, 1 added; produced {MESSAGES}, handled \
         {handled} ({distinct} distinct), lost 0, duplicates {duplicates}: killed member \
         redone/uncommitted tail/bound {}/{}/{} (bound = its records in the last {WINDOW_MS} ms \
         + prefetch {prefetch}), live members' records repeated {} ({}), none of them handled \
         in the {steady_ms} ms between the windows; committed-but-unhandled 0 in {} samples",
        broker.kind(),
        kill.redone,
        kill.tail,
        kill.bound,
        live_repeats.len(),
        explained.join(", "),
        samples.len()
    ));
}
