//! Per-record batch outcomes in a transaction, on Apache Kafka: a
//! transactional batch handler that relays each record and reports two of
//! them as failed ([`kafka_runtime::BatchError`]) aborts its transaction
//! (which takes back the other records' outputs too), runs the whole batch
//! again, and once `maxRetry` is spent gives up on the two alone: they are
//! dead-lettered, the handler runs once more on the others, and a
//! read-committed reader of the output sees every other record exactly
//! once.

mod consumer_support;
mod producer_support;
mod reliability_support;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use consumer_support::*;
use kafka_runtime::config::Config;
use kafka_runtime::deadletter;
use kafka_runtime::producer::Headers;
use kafka_runtime::rdkafka::config::ClientConfig;
use kafka_runtime::rdkafka::consumer::{BaseConsumer, Consumer};
use kafka_runtime::rdkafka::message::Message as _;
use kafka_runtime::rdkafka::{Offset, TopicPartitionList};
use kafka_runtime::{
    kafka_consumer, kafka_producer, BatchError, Context, HandlerError, Message, Producer,
};
use producer_support::{headers_of, Fixture};

/// Every call: (attempt, offsets of its records).
static CALLS: Mutex<Vec<(u32, Vec<i64>)>> = Mutex::new(Vec::new());

#[kafka_producer(service = "tx.batch.out")]
struct Out(Producer<String>);

/// Relays every record's value, and fails each one whose value starts with
/// `bad`, on every run.
#[kafka_consumer(service = "tx.batch.in", batch)]
async fn relay(ctx: Context, msgs: Vec<Message>, out: Out) -> Result<(), BatchError> {
    let offsets = msgs.iter().map(|m| m.offset).collect();
    CALLS.lock().unwrap().push((ctx.attempt(), offsets));
    let mut failed = BatchError::new();
    for (i, msg) in msgs.iter().enumerate() {
        let value = String::from_utf8_lossy(&msg.payload_bytes()).into_owned();
        if value.starts_with("bad") {
            failed.fail(
                i,
                HandlerError::msg(format!("record {} is bad", msg.offset)),
            );
            continue;
        }
        if let Err(e) = out
            .0
            .produce(format!("k-{}", msg.offset), &value, Headers::new())
            .await
        {
            failed.fail(i, HandlerError::msg(e.to_string()));
        }
    }
    failed.into_result()
}

const RECORDS: i64 = 50;
const BAD: [i64; 2] = [17, 33];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn named_records_are_dead_lettered_alone_and_the_others_relayed_exactly_once() {
    init_logs();
    let dlt = Fixture::new("tx-batch-dlt", 1).await;
    let bootstrap = dlt.broker.bootstrap();
    let input = unique_name("tx-batch-in");
    let output = unique_name("tx-batch-out");
    dlt.broker.create_topic(&input, 1).await.unwrap();
    dlt.broker.create_topic(&output, 1).await.unwrap();
    let p = producer(&bootstrap);
    for offset in 0..RECORDS {
        let value = if BAD.contains(&offset) {
            format!("bad-{offset}")
        } else {
            format!("good-{offset}")
        };
        produce(&p, &input, Some(0), &format!("k-{offset}"), &value).await;
    }
    let group = unique_name("tx-batch-group");
    let transactional_id = unique_name("tx-batch-id");
    let protocol = match std::env::var(kafka_rs::GROUP_PROTOCOL_ENV).as_deref() {
        Ok("consumer") => "&groupProtocol=consumer",
        _ => "",
    };
    let yaml = format!(
        r#"
server:
  service:
    - name: tx.batch.in
      address: {bootstrap}?topics={input}&group={group}&initial=oldest&batch=100&batchFlush=500&maxRetry=1&retryInterval=20&transactionalId={transactional_id}&deadLetterTopic={dlt_topic}{protocol}
      protocol: kafka
      timeout: 10000
client:
  service:
    - name: tx.batch.out
      target: kafka://{bootstrap}?topic={output}&partitioner=hash
      timeout: 10000
"#,
        dlt_topic = dlt.topic
    );
    let config = Config::from_yaml_str(&yaml).expect("the test configuration loads");
    let running = start(config, &["tx.batch.in"]);

    let copies = dlt.read_all(1, 2).await;
    let (b, g, t) = (bootstrap.clone(), group.clone(), input.clone());
    let all_committed = kafka_rs::wait_until(WAIT, move || {
        reliability_support::committed(&b, &g, &t, 1).get(&0) == Some(&RECORDS)
    })
    .await;
    running.stop().await.unwrap();
    assert!(all_committed, "every input offset commits");

    let mut dead: Vec<(i64, String, String)> = copies
        .iter()
        .map(|m| {
            let headers: BTreeMap<String, String> = headers_of(m)
                .into_iter()
                .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
                .collect();
            (
                headers[deadletter::OFFSET_HEADER].parse().unwrap(),
                headers[deadletter::ATTEMPTS_HEADER].clone(),
                String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
            )
        })
        .collect();
    dead.sort();
    assert_eq!(
        dead,
        [
            (17, "2".to_owned(), "bad-17".to_owned()),
            (33, "2".to_owned(), "bad-33".to_owned())
        ],
        "only the named records are dead-lettered, after maxRetry=1 (2 runs)"
    );
    assert_eq!(
        high_watermark(&bootstrap, &dlt.topic),
        2,
        "each is dead-lettered once"
    );

    let relayed = read_committed(&bootstrap, &output);
    let expected: BTreeMap<String, usize> = (0..RECORDS)
        .filter(|o| !BAD.contains(o))
        .map(|o| (serde_json::to_string(&format!("good-{o}")).unwrap(), 1))
        .collect();
    assert_eq!(
        relayed, expected,
        "the read-committed output holds every good record exactly once"
    );

    let calls = CALLS.lock().unwrap().clone();
    assert!(
        calls.iter().any(|(attempt, offsets)| *attempt == 2
            && offsets.contains(&17)
            && offsets.contains(&16)),
        "the whole batch runs again after the abort: {calls:?}"
    );
    assert!(
        calls.iter().any(|(attempt, offsets)| *attempt == 3
            && offsets.contains(&16)
            && !offsets.contains(&17)),
        "past maxRetry the others run once more without the named records: {calls:?}"
    );
    assert!(
        !calls
            .iter()
            .any(|(attempt, offsets)| *attempt > 2 && offsets.iter().any(|o| BAD.contains(o))),
        "a named record is never handled past maxRetry: {calls:?}"
    );
}

fn high_watermark(bootstrap: &str, topic: &str) -> i64 {
    let probe: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique_name("tx-batch-probe"))
        .create()
        .expect("a probe");
    probe
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .expect("watermarks")
        .1
}

/// Every value of `topic`'s partition 0 a read-committed reader sees, with
/// how often.
fn read_committed(bootstrap: &str, topic: &str) -> BTreeMap<String, usize> {
    let reader: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique_name("tx-batch-reader"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .expect("a reader");
    let high = reader
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .expect("watermarks")
        .1;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    reader.assign(&tpl).expect("assigned");
    let mut values = BTreeMap::new();
    let deadline = Instant::now() + WAIT;
    loop {
        // Done once the position passed every record, aborted ones and
        // transaction markers included (the reader skips those).
        let position = reader.position().expect("position");
        let at = position
            .find_partition(topic, 0)
            .map(|e| e.offset())
            .and_then(|o| o.to_raw());
        if high == 0 || at.is_some_and(|o| o >= high) {
            return values;
        }
        assert!(
            Instant::now() < deadline,
            "could not read {topic} to its end"
        );
        if let Some(message) = reader.poll(Duration::from_millis(200)) {
            let message = message.expect("a record");
            let value = String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned();
            *values.entry(value).or_default() += 1;
        }
    }
}
