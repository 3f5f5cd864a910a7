//! Consumer settings whose promise only a broker shows: `isolationLevel`
//! against a real aborted transaction, and where a new group starts without
//! `initial` (the default, `newest`).

mod consumer_support;

use std::time::Duration;

use consumer_support::*;
use kafka_runtime::rdkafka::producer::{
    BaseRecord, DefaultProducerContext, Producer, ThreadedProducer,
};
use kafka_runtime::rdkafka::ClientConfig;
use kafka_runtime::{kafka_consumer, Context, HandlerError};

static COMMITTED_ONLY: Seen = Seen::new();
static EVERYTHING: Seen = Seen::new();
static NEWEST: Seen = Seen::new();

#[kafka_consumer(service = "settings.read_committed")]
async fn read_committed(ctx: Context, payload: String) -> Result<(), HandlerError> {
    let raw = ctx.raw();
    COMMITTED_ONLY.push(&raw.topic, raw.partition, raw.offset, &payload);
    Ok(())
}

#[kafka_consumer(service = "settings.read_uncommitted")]
async fn read_uncommitted(ctx: Context, payload: String) -> Result<(), HandlerError> {
    let raw = ctx.raw();
    EVERYTHING.push(&raw.topic, raw.partition, raw.offset, &payload);
    Ok(())
}

#[kafka_consumer(service = "settings.newest")]
async fn newest(ctx: Context, payload: String) -> Result<(), HandlerError> {
    let raw = ctx.raw();
    NEWEST.push(&raw.topic, raw.partition, raw.offset, &payload);
    Ok(())
}

/// Writes `payloads` to `topic` in one transaction, committed or aborted.
fn transaction(
    producer: &ThreadedProducer<DefaultProducerContext>,
    topic: &str,
    payloads: &[&str],
    commit: bool,
) {
    let timeout = Duration::from_secs(30);
    producer.begin_transaction().expect("transaction begins");
    for payload in payloads {
        producer
            .send(
                BaseRecord::to(topic)
                    .key("k")
                    .payload(*payload)
                    .partition(0),
            )
            .map_err(|(e, _)| e)
            .expect("record queued");
    }
    producer.flush(timeout).expect("records written");
    if commit {
        producer
            .commit_transaction(timeout)
            .expect("transaction committed");
    } else {
        producer
            .abort_transaction(timeout)
            .expect("transaction aborted");
    }
}

/// A committed, an aborted and a committed transaction: a `ReadCommitted`
/// consumer handles the two committed ones only (on Apache Kafka; see
/// below for the mock cluster); a default (`ReadUncommitted`) consumer of
/// the same records handles all three, which shows that the aborted
/// records really are in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_committed_skips_an_aborted_transaction() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("settings-isolation");
    broker.create_topic(&topic, 1).await.unwrap();
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("transactional.id", unique_name("settings-txn"))
        .create()
        .expect("a transactional producer");
    producer
        .init_transactions(Duration::from_secs(30))
        .expect("transactions initialised");
    transaction(&producer, &topic, &["c1", "c2"], true);
    transaction(&producer, &topic, &["a1", "a2"], false);
    transaction(&producer, &topic, &["c3"], true);

    let config = config(
        &broker.bootstrap(),
        &[
            Service::new("settings.read_committed", &topic).key("isolationLevel", "ReadCommitted"),
            Service::new("settings.read_uncommitted", &topic),
        ],
    );
    let running = start(
        config,
        &["settings.read_committed", "settings.read_uncommitted"],
    );
    eventually("the last committed record, read committed", || {
        COMMITTED_ONLY.payloads(&topic).contains(&"c3".to_owned())
    })
    .await;
    eventually("the last committed record, read uncommitted", || {
        EVERYTHING.payloads(&topic).contains(&"c3".to_owned())
    })
    .await;
    running.stop().await.unwrap();
    assert_eq!(EVERYTHING.payloads(&topic), ["c1", "c2", "a1", "a2", "c3"]);
    if broker.embedded().is_some() {
        // The mock cluster lists no aborted transaction in its Fetch
        // responses (librdkafka's rdkafka_mock_handlers.c writes an empty
        // AbortedTransactions array), so no client can skip them there:
        // only the committed records and their order are checked.
        let seen = COMMITTED_ONLY.payloads(&topic);
        let committed: Vec<&String> = seen.iter().filter(|p| p.starts_with('c')).collect();
        assert_eq!(committed, ["c1", "c2", "c3"]);
    } else {
        assert_eq!(COMMITTED_ONLY.payloads(&topic), ["c1", "c2", "c3"]);
    }
}

/// Without `initial`, a new group starts at the end of the partition
/// (`newest`): records written before it joined are never handled; records
/// written after its position was set all are, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_group_without_initial_starts_at_the_newest_record() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("settings-newest");
    broker.create_topic(&topic, 1).await.unwrap();
    let producer = producer(&broker.bootstrap());
    for i in 0..5 {
        produce(&producer, &topic, Some(0), "k", &format!("before-{i}")).await;
    }
    let service = Service::new("settings.newest", &topic).without("initial");
    let running = start(
        config(&broker.bootstrap(), &[service]),
        &["settings.newest"],
    );
    // The group sets its position when it gets the partition: keep writing
    // until a record lands after it, then a few more.
    let mut sent = 0;
    let deadline = std::time::Instant::now() + WAIT;
    while NEWEST.count(&topic) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing handled within {WAIT:?}"
        );
        produce(&producer, &topic, Some(0), "k", &format!("after-{sent}")).await;
        sent += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..5 {
        produce(&producer, &topic, Some(0), "k", &format!("after-{sent}")).await;
        sent += 1;
    }
    let last = format!("after-{}", sent - 1);
    eventually("the last record", || {
        NEWEST.payloads(&topic).contains(&last)
    })
    .await;
    running.stop().await.unwrap();
    let handled = NEWEST.payloads(&topic);
    assert!(
        handled.iter().all(|p| p.starts_with("after-")),
        "records written before the group joined were handled: {handled:?}"
    );
    // A suffix of what was written after: nothing skipped once started.
    let first: usize = handled[0]["after-".len()..].parse().unwrap();
    let expected: Vec<String> = (first..sent).map(|i| format!("after-{i}")).collect();
    assert_eq!(handled, expected);
}
