//! Broker faults on the mock cluster (the only broker that injects them, so
//! these tests use it whatever `KAFKA_RS_TEST_BOOTSTRAP` says): a broker,
//! the group's coordinator, down for several seconds; errors injected into
//! Fetch and OffsetCommit. The consumer process resumes on its own, loses
//! nothing, commits only what it handled, and ends with everything committed.

mod reliability_support;

use std::time::Duration;

use kafka_runtime::rdkafka::mocking::MockCoordinator;
use kafka_runtime::rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use kafka_runtime::testing::EmbeddedBroker;
use reliability_support::*;

const PARTITIONS: i32 = 6;
const MESSAGES: usize = 3_000;
/// How long the broker stays down.
const DOWNTIME: Duration = Duration::from_secs(5);

struct Setup {
    broker: EmbeddedBroker,
    spec: ConsumerSpec,
    producing: tokio::task::JoinHandle<usize>,
}

/// A 3-broker cluster with group coordinator broker 1, a consumer process,
/// and a paced stream of `MESSAGES` (in slices, so it flows during faults).
async fn setup(name: &str) -> Setup {
    let broker = EmbeddedBroker::with_brokers(3).unwrap();
    let topic = unique_name(name);
    broker.create_topic(&topic, PARTITIONS).unwrap();
    let group = unique_name(&format!("{name}-group"));
    let coordinated = group.clone();
    broker
        .with_cluster(move |c| c.coordinator(MockCoordinator::Group(coordinated), 1))
        .unwrap();
    let spec = ConsumerSpec {
        bootstrap: broker.bootstrap_servers(),
        topic: topic.clone(),
        group,
        record: record_path(&topic),
        commit_interval_ms: 500,
        handler_delay_ms: 2,
    };
    let producer = producer(&spec.bootstrap);
    let producing = tokio::spawn(async move {
        let slices = 10;
        let mut acked = 0;
        for s in 0..slices {
            let range = (MESSAGES * s / slices)..(MESSAGES * (s + 1) / slices);
            acked += produce_range(&producer, &topic, range).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        acked
    });
    Setup {
        broker,
        spec,
        producing,
    }
}

/// Waits until the consumer handled `n` distinct messages.
async fn handled_at_least(spec: &ConsumerSpec, n: usize, within: Duration) -> bool {
    poll(within, Duration::from_millis(100), || {
        handled_unique(&read_record(&spec.record)) >= n
    })
    .await
}

/// After the faults: every message handled, all committed, nothing
/// committed unhandled, clean exit. Returns (handled, duplicates).
async fn finish(setup: Setup, mut consumer: ConsumerProcess) -> (usize, usize) {
    let Setup {
        broker,
        spec,
        producing,
    } = setup;
    assert_eq!(
        producing.await.unwrap(),
        MESSAGES,
        "every message acknowledged"
    );
    assert!(
        handled_at_least(&spec, MESSAGES, Duration::from_secs(180)).await,
        "the consumer resumed and handled every message"
    );
    consumer.assert_running();
    let high = high_watermarks(&spec.bootstrap, &spec.topic, PARTITIONS);
    let all_committed = poll(Duration::from_secs(60), Duration::from_millis(200), || {
        committed(&spec.bootstrap, &spec.group, &spec.topic, PARTITIONS) == high
    })
    .await;
    assert!(all_committed, "commits resumed after the faults");
    let status = consumer.terminate(Duration::from_secs(30));
    assert!(status.success(), "clean exit on SIGTERM, got {status}");
    let lines = read_record(&spec.record);
    let (handled, _, duplicates) = assert_nothing_lost(&high, &lines);
    assert_committed_were_handled(
        &committed(&spec.bootstrap, &spec.group, &spec.topic, PARTITIONS),
        &lines,
    );
    drop(broker);
    (handled, duplicates)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_coordinator_broker_down_for_seconds_loses_nothing() {
    let setup = setup("reliability-down").await;
    let consumer = setup.spec.spawn("only");
    assert!(handled_at_least(&setup.spec, 100, Duration::from_secs(60)).await);
    setup.broker.with_cluster(|c| c.broker_down(1)).unwrap();
    let down_at = handled_unique(&read_record(&setup.spec.record));
    // The fault's duration, not a synchronisation.
    tokio::time::sleep(DOWNTIME).await;
    setup.broker.with_cluster(|c| c.broker_up(1)).unwrap();
    assert!(down_at < MESSAGES, "the broker went down mid-stream");
    let (handled, duplicates) = finish(setup, consumer).await;
    report(&format!(
        "broker down [embedded, 3 brokers]: broker 1 (group coordinator, leader of some \
         partitions) down {DOWNTIME:?} after {down_at} handled; produced {MESSAGES}, handled \
         {handled}, lost 0, duplicates {duplicates}"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fetch_and_offset_commit_errors_lose_nothing() {
    use RDKafkaRespErr::*;
    let setup = setup("reliability-errors").await;
    let consumer = setup.spec.spawn("only");
    assert!(handled_at_least(&setup.spec, 100, Duration::from_secs(60)).await);
    let fetch_errors = [
        RD_KAFKA_RESP_ERR__TRANSPORT,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
    ]
    .repeat(10);
    let commit_errors = [
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        RD_KAFKA_RESP_ERR__TRANSPORT,
    ]
    .repeat(5);
    let injected = fetch_errors.len() + commit_errors.len();
    setup.broker.with_cluster(move |c| {
        c.request_errors(RDKafkaApiKey::Fetch, &fetch_errors);
        c.request_errors(RDKafkaApiKey::OffsetCommit, &commit_errors);
    });
    let injected_at = handled_unique(&read_record(&setup.spec.record));
    assert!(injected_at < MESSAGES, "errors injected mid-stream");
    let (handled, duplicates) = finish(setup, consumer).await;
    report(&format!(
        "request errors [embedded, 3 brokers]: {injected} errors injected after {injected_at} \
         handled (30 Fetch: transport, not leader, timed out; 20 OffsetCommit: timed out, \
         coordinator not available, not coordinator, transport); produced {MESSAGES}, handled \
         {handled}, lost 0, duplicates {duplicates}"
    ));
}
