//! Poison records on a real broker: undecodable payloads and handlers that
//! keep failing. With `deadLetterTopic` they land there with their key,
//! value and headers plus the `dlt-*` headers, and only then is their offset
//! committed; without it they are skipped with an error log. Neither stalls
//! another partition.

mod consumer_support;
mod producer_support;
mod reliability_support;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use consumer_support::{config, eventually, start, unique_name, Seen, Service, WAIT};
use kafka_rs::TestBroker;
use kafka_runtime::deadletter;
use kafka_runtime::rdkafka::message::{Message as _, OwnedMessage};
use kafka_runtime::rdkafka::producer::FutureProducer;
use kafka_runtime::rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use kafka_runtime::testing::EmbeddedBroker;
use kafka_runtime::{kafka_consumer, Context, HandlerError, Message};
use producer_support::{headers_of, Fixture};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Order {
    id: u32,
    /// The handler fails on every attempt for such an order.
    cursed: bool,
}

/// Orders handled successfully: (topic, partition, offset, id).
static DONE: Seen = Seen::new();
/// Every attempt on a cursed order: (topic, id).
static CURSED_ATTEMPTS: Mutex<Vec<(String, u32)>> = Mutex::new(Vec::new());
/// Before failing, a cursed order's first attempt waits until this many
/// orders of the topic are done, which proves the other partition flows
/// while this one is busy failing.
static WAIT_FOR_OTHERS: Mutex<Vec<(String, usize)>> = Mutex::new(Vec::new());

async fn handle_order(ctx: Context, order: Order) -> Result<(), HandlerError> {
    let topic = ctx.raw().topic.to_string();
    if order.cursed {
        let attempt = {
            let mut attempts = CURSED_ATTEMPTS.lock().unwrap();
            attempts.push((topic.clone(), order.id));
            attempts
                .iter()
                .filter(|(t, id)| *t == topic && *id == order.id)
                .count()
        };
        let wanted = WAIT_FOR_OTHERS
            .lock()
            .unwrap()
            .iter()
            .find(|(t, _)| *t == topic)
            .map(|(_, n)| *n);
        if let (1, Some(n)) = (attempt, wanted) {
            eventually(
                "the other partition's orders while one handler fails",
                || DONE.count(&topic) >= n,
            )
            .await;
        }
        return Err(HandlerError::msg(format!("order {} is cursed", order.id)));
    }
    DONE.push(
        &topic,
        ctx.raw().partition,
        ctx.raw().offset,
        &order.id.to_string(),
    );
    Ok(())
}

#[kafka_consumer(service = "dlt.typed")]
async fn typed(ctx: Context, order: Order) -> Result<(), HandlerError> {
    handle_order(ctx, order).await
}

#[kafka_consumer(service = "dlt.skip")]
async fn skipping(ctx: Context, order: Order) -> Result<(), HandlerError> {
    handle_order(ctx, order).await
}

#[kafka_consumer(service = "dlt.faulty")]
async fn faulty(ctx: Context, order: Order) -> Result<(), HandlerError> {
    handle_order(ctx, order).await
}

/// Fails the whole batch when any record says `bad`.
#[kafka_consumer(service = "dlt.batch", batch)]
async fn batch(_ctx: Context, msgs: Vec<Message>) -> Result<(), HandlerError> {
    if msgs.iter().any(|m| m.payload.as_deref() == Some(b"bad")) {
        return Err(HandlerError::msg("the batch holds a bad record"));
    }
    Ok(())
}

fn producer(bootstrap: &str) -> FutureProducer {
    consumer_support::producer(bootstrap)
}

/// Produces one record with a key and headers to `partition` and waits for the ack.
async fn send(
    producer: &FutureProducer,
    topic: &str,
    partition: i32,
    key: &str,
    payload: &str,
    headers: &[(&str, &str)],
) {
    consumer_support::produce_keyed_with_headers(
        producer,
        topic,
        partition,
        Some(key),
        payload,
        headers,
    )
    .await;
}

/// Waits (bounded) until `group` has committed `offset` on partition 0 of `topic`.
async fn committed_to(bootstrap: &str, group: &str, topic: &str, offset: i64) -> bool {
    let (b, g, t) = (bootstrap.to_owned(), group.to_owned(), topic.to_owned());
    kafka_rs::wait_until(WAIT, move || {
        reliability_support::committed(&b, &g, &t, 1).get(&0) == Some(&offset)
    })
    .await
}

fn order(id: u32, cursed: bool) -> String {
    serde_json::to_string(&Order { id, cursed }).unwrap()
}

fn header<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> &'a str {
    let found = headers
        .iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no `{name}` header in {headers:?}"));
    std::str::from_utf8(&found.1).expect("UTF-8 header")
}

/// Checks one dead-letter copy against the record it came from.
#[allow(clippy::too_many_arguments)]
fn assert_copy(
    copy: &OwnedMessage,
    (key, payload, original_headers): (&str, &str, &[(&str, &str)]),
    (topic, partition, offset): (&str, i32, i64),
    (service, group): (&str, &str),
    reason: &str,
    attempts: u32,
    error: &str,
) {
    assert_eq!(copy.key(), Some(key.as_bytes()), "key of {copy:?}");
    assert_eq!(
        copy.payload(),
        Some(payload.as_bytes()),
        "value of {copy:?}"
    );
    let headers = headers_of(copy);
    // The original headers come first, in their order.
    let originals: Vec<(String, Vec<u8>)> = original_headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect();
    assert_eq!(headers[..originals.len()], originals[..], "{headers:?}");
    assert_eq!(header(&headers, deadletter::REASON_HEADER), reason);
    assert_eq!(
        header(&headers, deadletter::ATTEMPTS_HEADER),
        attempts.to_string()
    );
    assert!(
        header(&headers, deadletter::ERROR_HEADER).starts_with(error),
        "{headers:?}"
    );
    assert_eq!(header(&headers, deadletter::TOPIC_HEADER), topic);
    assert_eq!(
        header(&headers, deadletter::PARTITION_HEADER),
        partition.to_string()
    );
    assert_eq!(
        header(&headers, deadletter::OFFSET_HEADER),
        offset.to_string()
    );
    let timestamp: i64 = header(&headers, deadletter::TIMESTAMP_HEADER)
        .parse()
        .expect("a numeric timestamp");
    assert!(timestamp > 0);
    assert_eq!(header(&headers, deadletter::SERVICE_HEADER), service);
    assert_eq!(header(&headers, deadletter::GROUP_HEADER), group);
}

/// A broker with a dead-letter topic (owned by the fixture), a source topic
/// of `partitions` partitions, and a producer.
struct Setup {
    dlt: Fixture,
    bootstrap: String,
    topic: String,
    producer: FutureProducer,
}

async fn setup(dlt: Fixture, source: &str, partitions: i32) -> Setup {
    let bootstrap = dlt.broker.bootstrap();
    let topic = unique_name(source);
    dlt.broker.create_topic(&topic, partitions).await.unwrap();
    let producer = producer(&bootstrap);
    Setup {
        dlt,
        bootstrap,
        topic,
        producer,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn poison_records_go_to_the_dead_letter_topic_and_other_partitions_flow() {
    let Setup {
        dlt,
        bootstrap,
        topic,
        producer: p,
    } = setup(Fixture::new("dlt-copies", 1).await, "dlt-source", 2).await;
    send(&p, &topic, 0, "k-1", &order(1, false), &[]).await;
    let poison_headers = [("h1", "a"), ("h2", "b")];
    send(&p, &topic, 0, "k-bad", "not json", &poison_headers).await;
    let cursed_headers = [("h3", "c")];
    send(&p, &topic, 0, "k-cursed", &order(2, true), &cursed_headers).await;
    send(&p, &topic, 0, "k-3", &order(3, false), &[]).await;
    for id in 100..110 {
        send(&p, &topic, 1, &format!("k-{id}"), &order(id, false), &[]).await;
    }
    // The cursed order's first attempt holds partition 0 until partition 1's
    // ten orders (and order 1 before it) are done.
    WAIT_FOR_OTHERS.lock().unwrap().push((topic.clone(), 11));

    let service = Service::new("dlt.typed", &topic)
        .key("maxRetry", 2)
        .key("deadLetterTopic", &dlt.topic);
    let group = service.group.clone();
    let running = start(config(&bootstrap, &[service]), &["dlt.typed"]);

    let copies = dlt.read_all(1, 2).await;
    eventually("every good order handled", || DONE.count(&topic) == 12).await;
    running.stop().await.expect("serve() stops cleanly");

    let mut ids = DONE.payloads(&topic);
    let at = |id: &str| ids.iter().position(|i| i == id);
    assert!(at("1") < at("3"), "partition 0 keeps its order: {ids:?}");
    ids.sort();
    let mut expected: Vec<String> = (100..110).chain([1, 3]).map(|i| i.to_string()).collect();
    expected.sort();
    assert_eq!(ids, expected);
    let cursed_runs = CURSED_ATTEMPTS
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, _)| *t == topic)
        .count();
    assert_eq!(cursed_runs, 3, "maxRetry=2 runs the handler 3 times");

    assert_copy(
        &copies[0],
        ("k-bad", "not json", &poison_headers),
        (&topic, 0, 1),
        ("dlt.typed", &group),
        "undecodable",
        1,
        "payload does not decode: ",
    );
    assert_copy(
        &copies[1],
        ("k-cursed", &order(2, true), &cursed_headers),
        (&topic, 0, 2),
        ("dlt.typed", &group),
        "handler-failed",
        3,
        "order 2 is cursed",
    );
    // Exactly two copies, and every offset committed past the poison.
    let high = reliability_support::high_watermarks(&bootstrap, &dlt.topic, 1);
    assert_eq!(
        high.get(&0),
        Some(&2),
        "dead-letter topic holds two records"
    );
    let committed = reliability_support::committed(&bootstrap, &group, &topic, 2);
    assert_eq!(committed.get(&0), Some(&4), "{committed:?}");
    assert_eq!(committed.get(&1), Some(&10), "{committed:?}");
}

/// What the runtime logged, for the skip test (tracing, captured globally).
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let _ = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::ERROR)
            .with_writer(move || LogWriter(sink.clone()))
            .try_init();
        logs
    })
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_dead_letter_topic_poison_is_skipped_with_an_error_log() {
    let logs = logs();
    let broker = TestBroker::start().await.unwrap();
    let bootstrap = broker.bootstrap();
    let topic = unique_name("dlt-skip");
    broker.create_topic(&topic, 1).await.unwrap();
    let p = producer(&bootstrap);
    send(&p, &topic, 0, "k-bad", "{\"id\":", &[]).await;
    send(&p, &topic, 0, "k-cursed", &order(7, true), &[]).await;
    send(&p, &topic, 0, "k-8", &order(8, false), &[]).await;

    let service = Service::new("dlt.skip", &topic).key("maxRetry", 1);
    let group = service.group.clone();
    let running = start(config(&bootstrap, &[service]), &["dlt.skip"]);
    eventually("the order after the poison", || DONE.count(&topic) == 1).await;
    running.stop().await.expect("serve() stops cleanly");

    assert_eq!(DONE.payloads(&topic), ["8"]);
    let cursed_runs = CURSED_ATTEMPTS
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, _)| *t == topic)
        .count();
    assert_eq!(cursed_runs, 2, "maxRetry=1 runs the handler twice");
    let committed = reliability_support::committed(&bootstrap, &group, &topic, 1);
    assert_eq!(committed.get(&0), Some(&3), "{committed:?}");
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    let skipped: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(&topic) && l.contains("no deadLetterTopic is configured"))
        .collect();
    assert_eq!(skipped.len(), 2, "two skip errors for {topic} in:\n{text}");
    assert!(skipped[0].contains("offset=0") && skipped[0].contains("payload does not decode"));
    assert!(skipped[1].contains("offset=1") && skipped[1].contains("order 7 is cursed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_given_up_on_is_dead_lettered_whole() {
    let Setup {
        dlt,
        bootstrap,
        topic,
        producer: p,
    } = setup(Fixture::new("dlt-batch-copies", 1).await, "dlt-batch", 1).await;
    for (i, payload) in ["a", "bad", "c"].iter().enumerate() {
        send(&p, &topic, 0, &format!("k{i}"), payload, &[]).await;
    }
    let service = Service::new("dlt.batch", &topic)
        .key("batch", 3)
        .key("batchFlush", 5_000)
        .key("maxRetry", 1)
        .key("deadLetterTopic", &dlt.topic);
    let group = service.group.clone();
    let running = start(config(&bootstrap, &[service]), &["dlt.batch"]);
    let copies = dlt.read_all(1, 3).await;
    let committed_all = committed_to(&bootstrap, &group, &topic, 3).await;
    running.stop().await.expect("serve() stops cleanly");
    assert!(
        committed_all,
        "the batch's offsets are committed after the copies"
    );
    for (i, (copy, payload)) in copies.iter().zip(["a", "bad", "c"]).enumerate() {
        assert_copy(
            copy,
            (&format!("k{i}"), payload, &[]),
            (&topic, 0, i as i64),
            ("dlt.batch", &group),
            "handler-failed",
            2,
            "the batch holds a bad record",
        );
    }
}

/// A dead-letter write refused by the broker is tried again: the record's
/// offset stays put while the copy is refused and is committed only after
/// the copy is acknowledged. On the mock cluster, the broker that injects
/// errors, whatever the environment says.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refused_dead_letter_writes_are_retried_before_the_commit() {
    let Setup {
        dlt,
        bootstrap,
        topic,
        producer: p,
    } = setup(
        Fixture::embedded("dlt-refused-copies", 1).await,
        "dlt-refused",
        1,
    )
    .await;
    send(&p, &topic, 0, "k-cursed", &order(9, true), &[]).await;
    // The following Produce requests are refused: the copy is tried again
    // (retryInterval's 100 ms floor) until one is accepted.
    let embedded: &EmbeddedBroker = dlt.broker.embedded().expect("embedded broker");
    const REFUSALS: usize = 10;
    embedded.with_cluster(|c| {
        c.request_errors(
            RDKafkaApiKey::Produce,
            &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; REFUSALS],
        )
    });

    let service = Service::new("dlt.faulty", &topic)
        .key("maxRetry", -1)
        .key("deadLetterTopic", &dlt.topic);
    let group = service.group.clone();
    let running = start(config(&bootstrap, &[service]), &["dlt.faulty"]);
    // While the copy is refused the record's offset stays put: sampled as
    // (committed offset, then the dead-letter topic's size) until the copy
    // lands; every sample taken while the topic was still empty must find
    // nothing committed.
    let (b, g, t, d) = (
        bootstrap.clone(),
        group.clone(),
        topic.clone(),
        dlt.topic.clone(),
    );
    let refused_samples = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + WAIT;
        let mut while_refused = 0;
        loop {
            let committed = reliability_support::committed(&b, &g, &t, 1);
            let copies = reliability_support::high_watermarks(&b, &d, 1)[&0];
            if copies > 0 {
                return while_refused;
            }
            let attempted = CURSED_ATTEMPTS
                .lock()
                .unwrap()
                .iter()
                .any(|(topic, _)| *topic == t);
            assert!(
                committed.get(&0).is_none_or(|o| *o == 0),
                "offset committed past the record while its dead-letter copy was refused: {committed:?}"
            );
            if attempted {
                while_refused += 1;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the dead-letter copy never landed"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    })
    .await
    .unwrap();
    assert!(
        refused_samples >= 3,
        "only {refused_samples} samples while the copy was refused: the check saw too little"
    );
    eprintln!("{refused_samples} samples while the copy was refused: offset stayed put in each");
    let copies = dlt.read_all(1, 1).await;
    let committed = committed_to(&bootstrap, &group, &topic, 1).await;
    running.stop().await.expect("serve() stops cleanly");
    assert!(
        committed,
        "the offset is committed once the copy is written"
    );
    assert_copy(
        &copies[0],
        ("k-cursed", &order(9, true), &[]),
        (&topic, 0, 0),
        ("dlt.faulty", &group),
        "handler-failed",
        1,
        "order 9 is cursed",
    );
    let high = reliability_support::high_watermarks(&bootstrap, &dlt.topic, 1);
    assert_eq!(high.get(&0), Some(&1), "one copy, no duplicate");
}

/// Handled records of `dlt.timeout`: (topic, payload).
static TIMEOUT_DONE: Seen = Seen::new();

/// `slow` outlasts the 200 ms handler timeout, `boom` panics, on every
/// attempt; anything else succeeds.
#[kafka_consumer(service = "dlt.timeout")]
async fn timing_out(ctx: Context, payload: String) -> Result<(), HandlerError> {
    match payload.as_str() {
        "slow" => tokio::time::sleep(std::time::Duration::from_secs(30)).await,
        "boom" => panic!("boom on purpose"),
        _ => {}
    }
    let raw = ctx.raw();
    TIMEOUT_DONE.push(&raw.topic, raw.partition, raw.offset, &payload);
    Ok(())
}

/// A handler that times out and one that panics, on every attempt, end in
/// the dead-letter topic once `maxRetry` is spent, with the timeout's or the
/// panic's message; the partition then moves on and commits past them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn timeouts_and_panics_end_in_the_dead_letter_topic() {
    let Setup {
        dlt,
        bootstrap,
        topic,
        producer: p,
    } = setup(
        Fixture::new("dlt-timeout-copies", 1).await,
        "dlt-timeout",
        1,
    )
    .await;
    send(&p, &topic, 0, "k-slow", "slow", &[("h", "1")]).await;
    send(&p, &topic, 0, "k-boom", "boom", &[]).await;
    send(&p, &topic, 0, "k-fine", "fine", &[]).await;
    let service = Service::new("dlt.timeout", &topic)
        .key("maxRetry", 1)
        .key("deadLetterTopic", &dlt.topic)
        .timeout_ms(200);
    let group = service.group.clone();
    let running = start(config(&bootstrap, &[service]), &["dlt.timeout"]);
    let copies = dlt.read_all(1, 2).await;
    eventually("the record after them", || TIMEOUT_DONE.count(&topic) == 1).await;
    let committed_all = committed_to(&bootstrap, &group, &topic, 3).await;
    running.stop().await.expect("serve() stops cleanly");
    assert!(committed_all, "committed past both dead-lettered records");
    assert_eq!(TIMEOUT_DONE.payloads(&topic), ["fine"]);
    assert_copy(
        &copies[0],
        ("k-slow", "slow", &[("h", "1")]),
        (&topic, 0, 0),
        ("dlt.timeout", &group),
        "handler-failed",
        2,
        "handler timed out after 200ms (service `timeout`)",
    );
    assert_copy(
        &copies[1],
        ("k-boom", "boom", &[]),
        (&topic, 0, 1),
        ("dlt.timeout", &group),
        "handler-failed",
        2,
        "handler panicked: boom on purpose",
    );
    let high = reliability_support::high_watermarks(&bootstrap, &dlt.topic, 1);
    assert_eq!(high.get(&0), Some(&2), "two copies, no duplicate");
}

/// (topic, key, sequence number, started, finished) of `dlt.keyed`'s
/// successful handlings, and the attempts on cursed records.
type KeyedDone = (String, String, u32, std::time::Instant, std::time::Instant);
static KEYED_DONE: Mutex<Vec<KeyedDone>> = Mutex::new(Vec::new());
static KEYED_CURSED: Mutex<Vec<(String, String, u32, std::time::Instant)>> = Mutex::new(Vec::new());

/// Payload `SEQ` or `SEQ-cursed`; cursed records fail on every attempt.
/// Every handling takes a few milliseconds so that keys overlap.
#[kafka_consumer(service = "dlt.keyed")]
async fn keyed(ctx: Context, msg: Message) -> Result<(), HandlerError> {
    let topic = ctx.raw().topic.to_string();
    let key = String::from_utf8_lossy(msg.key.as_deref().unwrap_or_default()).into_owned();
    let payload = String::from_utf8_lossy(&msg.payload_bytes()).into_owned();
    let (seq, cursed) = match payload.split_once('-') {
        Some((seq, _)) => (seq.parse::<u32>().map_err(HandlerError::new)?, true),
        None => (payload.parse::<u32>().map_err(HandlerError::new)?, false),
    };
    let started = std::time::Instant::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    if cursed {
        KEYED_CURSED
            .lock()
            .unwrap()
            .push((topic, key, seq, std::time::Instant::now()));
        return Err(HandlerError::msg(format!("record {seq} is cursed")));
    }
    KEYED_DONE
        .lock()
        .unwrap()
        .push((topic, key, seq, started, std::time::Instant::now()));
    Ok(())
}

/// `keyOrderedConcurrency=4` with a dead-letter topic: records that keep
/// failing go to the dead-letter topic with their key, the other records
/// are each handled once, every key in order (a cursed record's successors
/// only after it was given up on), and the commit passes everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn key_ordered_concurrency_dead_letters_and_keeps_each_key_in_order() {
    const KEYS: u32 = 8;
    const PER_KEY: u32 = 6;
    let cursed = [("key-3", 1), ("key-5", 0), ("key-5", 4)];
    let Setup {
        dlt,
        bootstrap,
        topic,
        producer: p,
    } = setup(Fixture::new("dlt-keyed-copies", 1).await, "dlt-keyed", 1).await;
    // Interleaved keys: seq 0 of every key, then seq 1, ...
    let mut sent = Vec::new();
    for seq in 0..PER_KEY {
        for k in 0..KEYS {
            let key = format!("key-{k}");
            let is_cursed = cursed.contains(&(key.as_str(), seq));
            let payload = if is_cursed {
                format!("{seq}-cursed")
            } else {
                seq.to_string()
            };
            send(&p, &topic, 0, &key, &payload, &[]).await;
            sent.push((key, seq, is_cursed));
        }
    }
    let service = Service::new("dlt.keyed", &topic)
        .key("keyOrderedConcurrency", 4)
        .key("maxRetry", 1)
        .key("deadLetterTopic", &dlt.topic);
    let group = service.group.clone();
    let running = start(config(&bootstrap, &[service]), &["dlt.keyed"]);
    let copies = dlt.read_all(1, cursed.len()).await;
    let good = sent.iter().filter(|s| !s.2).count();
    let done = || -> Vec<KeyedDone> {
        KEYED_DONE
            .lock()
            .unwrap()
            .iter()
            .filter(|d| d.0 == topic)
            .cloned()
            .collect()
    };
    eventually("every good record handled", || done().len() >= good).await;
    let committed_all = committed_to(&bootstrap, &group, &topic, sent.len() as i64).await;
    running.stop().await.expect("serve() stops cleanly");
    assert!(committed_all, "committed past every record");

    let done = done();
    assert_eq!(done.len(), good, "each good record handled once");
    for k in 0..KEYS {
        let key = format!("key-{k}");
        let order: Vec<u32> = done.iter().filter(|d| d.1 == key).map(|d| d.2).collect();
        let expected: Vec<u32> = (0..PER_KEY)
            .filter(|seq| !cursed.contains(&(key.as_str(), *seq)))
            .collect();
        assert_eq!(order, expected, "{key} in order");
    }
    // A cursed record's successors start only after its last attempt.
    let attempts = KEYED_CURSED.lock().unwrap().clone();
    for (key, seq) in cursed {
        let tries: Vec<std::time::Instant> = attempts
            .iter()
            .filter(|a| a.0 == topic && a.1 == key && a.2 == seq)
            .map(|a| a.3)
            .collect();
        assert_eq!(tries.len(), 2, "{key}/{seq}: maxRetry=1 runs it twice");
        let given_up = *tries.iter().max().unwrap();
        for d in done.iter().filter(|d| d.1 == key && d.2 > seq) {
            assert!(
                d.3 >= given_up,
                "{key}/{} started before {key}/{seq} was given up on",
                d.2
            );
        }
    }
    // Overlap: some handling of one key ran while another key's did.
    let overlapped = done
        .iter()
        .any(|a| done.iter().any(|b| a.1 != b.1 && a.3 < b.4 && b.3 < a.4));
    assert!(overlapped, "keys were handled concurrently");
    let mut copied: Vec<(String, i64)> = copies
        .iter()
        .map(|c| {
            let headers = headers_of(c);
            (
                String::from_utf8_lossy(c.key().unwrap_or_default()).into_owned(),
                header(&headers, deadletter::OFFSET_HEADER).parse().unwrap(),
            )
        })
        .collect();
    copied.sort();
    let mut expected: Vec<(String, i64)> = cursed
        .iter()
        .map(|(key, seq)| {
            let k: i64 = key["key-".len()..].parse().unwrap();
            (key.to_string(), *seq as i64 * KEYS as i64 + k)
        })
        .collect();
    expected.sort();
    assert_eq!(copied, expected, "the cursed records, with their keys");
    for copy in &copies {
        let headers = headers_of(copy);
        assert_eq!(
            header(&headers, deadletter::REASON_HEADER),
            "handler-failed"
        );
        assert_eq!(header(&headers, deadletter::ATTEMPTS_HEADER), "2");
    }
    let high = reliability_support::high_watermarks(&bootstrap, &dlt.topic, 1);
    assert_eq!(
        high.get(&0),
        Some(&(cursed.len() as i64)),
        "no duplicate copy"
    );
}
