//! Crash test: a consumer process is SIGKILLed at random moments and
//! restarted while keyed messages flow; every message is handled at least
//! once and the duplicates stay within the in-flight window.
//!
//! Size: `RELIABILITY_MESSAGES` (default 5,000) and `RELIABILITY_KILLS`
//! (default 10); the full run is
//! `RELIABILITY_MESSAGES=50000 RELIABILITY_KILLS=10 cargo test -p kafka-rs --test reliability_crash -- --nocapture`
//! (with `KAFKA_RS_TEST_BOOTSTRAP` pointing at Apache Kafka, or on the mock cluster).
//! `RELIABILITY_SEED` repeats a run's kill moments.

mod reliability_support;

use std::time::{Duration, Instant};

use reliability_support::*;

const PARTITIONS: i32 = 4;
/// The consumer's commit interval; a SIGKILL loses at most the commits of
/// this window (plus the commit's round trip), so it bounds the duplicates.
const COMMIT_INTERVAL_MS: u64 = 1_000;
/// Slack for the commit request's round trip after the interval fires.
const COMMIT_ROUND_TRIP_MS: u64 = 1_000;
/// Records a partition's worker may hold besides the one being handled
/// (the engine's per-partition channel).
const PREFETCH_PER_PARTITION: usize = 64;
/// How long a restarted consumer may take to get partitions: the killed
/// member's session (6 s) must expire, then the group rebalances.
const REJOIN: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_at_random_moments_loses_nothing_and_duplicates_stay_bounded() {
    let messages = env_usize("RELIABILITY_MESSAGES", 5_000);
    let kills = env_usize("RELIABILITY_KILLS", 10);
    assert!(messages > 0 && kills > 0, "the crash test never runs empty");
    let (mut rng, seed) = Rng::seeded();
    let started = Instant::now();

    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("reliability-crash");
    broker.create_topic(&topic, PARTITIONS).await.unwrap();
    let spec = ConsumerSpec {
        bootstrap: broker.bootstrap(),
        topic: topic.clone(),
        group: unique_name("reliability-crash-group"),
        record: record_path(&topic),
        commit_interval_ms: COMMIT_INTERVAL_MS,
        handler_delay_ms: 0,
    };
    let producer = producer(&broker.bootstrap());

    // One chunk of the stream per consumer incarnation, produced while it
    // runs, so every incarnation has fresh work when it is killed.
    let chunks = kills + 1;
    let mut producing = Vec::new();
    let mut runs: Vec<String> = Vec::new();
    let mut killed = 0;
    for k in 0..chunks {
        let range = (messages * k / chunks)..(messages * (k + 1) / chunks);
        let (producer, topic) = (producer.clone(), topic.clone());
        producing.push(tokio::spawn(async move {
            produce_range(&producer, &topic, range).await
        }));
        let run = format!("run{k}");
        let mut process = spec.spawn(&run);
        runs.push(run.clone());
        let got_work = poll(REJOIN, Duration::from_millis(100), || {
            read_record(&spec.record)
                .iter()
                .any(|l| l.done && l.run == run)
        })
        .await;
        process.assert_running();
        assert!(got_work, "{run} handled nothing within {REJOIN:?}");
        if k < kills {
            // A random moment within two commit intervals of real work.
            let delay = rng.below(2 * COMMIT_INTERVAL_MS);
            tokio::time::sleep(Duration::from_millis(delay)).await;
            process.assert_running();
            process.kill();
            killed += 1;
        } else {
            let mut acked = 0;
            for p in producing.drain(..) {
                acked += p.await.unwrap();
            }
            assert_eq!(acked, messages, "every message acknowledged");
            // The backlog left by the kills: allow for a slow machine.
            let catch_up = Duration::from_secs(300 + messages as u64 / 50);
            let all = poll(catch_up, Duration::from_millis(200), || {
                handled_unique(&read_record(&spec.record)) >= messages
            })
            .await;
            let status = process.terminate(Duration::from_secs(30));
            assert!(all, "the last incarnation did not catch up");
            assert!(status.success(), "clean exit on SIGTERM, got {status}");
        }
    }

    let lines = read_record(&spec.record);
    let high = high_watermarks(&spec.bootstrap, &topic, PARTITIONS);
    assert_eq!(high.values().sum::<i64>(), messages as i64, "{high:?}");
    let (handled, distinct, duplicates) = assert_nothing_lost(&high, &lines);
    let committed = committed(&spec.bootstrap, &spec.group, &topic, PARTITIONS);
    assert_committed_were_handled(&committed, &lines);
    assert_eq!(committed, high, "a clean stop commits everything handled");

    // Per kill: what the killed run handled and a later run handled again,
    // against that run's peak rate over one commit window plus prefetch.
    let window = COMMIT_INTERVAL_MS + COMMIT_ROUND_TRIP_MS;
    let prefetch = PARTITIONS as usize * PREFETCH_PER_PARTITION;
    let mut bound_total = 0;
    let mut per_kill = Vec::new();
    for run in &runs[..kills] {
        let redone = redone_later(&lines, &runs, run);
        let bound = peak_in_window(&lines, run, window as u128) + prefetch;
        assert!(
            redone <= bound,
            "{run}: {redone} records redone after its SIGKILL, more than its in-flight window {bound}"
        );
        bound_total += bound;
        per_kill.push(format!("{run}:{redone}/{bound}"));
    }
    let last = runs.last().unwrap();
    assert_eq!(redone_later(&lines, &runs, last), 0);
    assert!(
        duplicates <= bound_total,
        "{duplicates} duplicates exceed the bound {bound_total}"
    );
    let rate = handled as f64 / started.elapsed().as_secs_f64();
    report(&format!(
        "crash test [{} broker, seed {seed}]: produced {messages}, handled {handled} \
         ({distinct} distinct), lost 0, duplicates {duplicates}, kills survived {killed}, \
         partitions {PARTITIONS}; duplicate bound = sum over kills of (peak records handled \
         by the killed run in {window} ms = commit interval {COMMIT_INTERVAL_MS} ms + \
         {COMMIT_ROUND_TRIP_MS} ms round trip) + prefetch {prefetch} \
         ({PARTITIONS} x {PREFETCH_PER_PARTITION}) = {bound_total}; per kill redone/bound: {}; \
         mean rate {rate:.0}/s over {:.0} s",
        broker.kind(),
        per_kill.join(" "),
        started.elapsed().as_secs_f64()
    ));
}
