//! `keyOrderedConcurrency=N` on a real broker: per-key order under
//! concurrency, N handlers really running at once within one partition (and
//! never more), commits that never pass an unfinished message, a retrying
//! key that holds back only its own successors, and the configuration errors.

mod consumer_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use consumer_support::*;
use kafka_runtime::config::Config;
use kafka_runtime::rdkafka::consumer::{BaseConsumer, Consumer};
use kafka_runtime::rdkafka::producer::{FutureProducer, FutureRecord};
use kafka_runtime::rdkafka::{ClientConfig, Offset, TopicPartitionList};
use kafka_runtime::{kafka_consumer, Context, HandlerError, Message};
use tokio::sync::Semaphore;

/// Produces `records` (key, payload) in order to `topic`'s partition
/// `partition`: all queued first, then every acknowledgement awaited, so a
/// few hundred records do not take a round trip each.
async fn produce_all(
    producer: &FutureProducer,
    topic: &str,
    partition: i32,
    records: &[(Option<String>, String)],
) {
    let mut acks = Vec::with_capacity(records.len());
    for (key, payload) in records {
        let mut record = FutureRecord::<String, String>::to(topic)
            .partition(partition)
            .payload(payload);
        if let Some(key) = key {
            record = record.key(key);
        }
        let ack = producer
            .send_result(record)
            .map_err(|(e, _)| e)
            .expect("test record queued");
        acks.push(ack);
    }
    for ack in acks {
        ack.await
            .expect("delivery future resolves")
            .map_err(|(e, _)| e)
            .expect("test record delivered");
    }
}

/// One test's setup: a one-partition topic holding `records`, served by
/// `service` with `keyOrderedConcurrency=concurrency` and the address keys
/// `more`, on a fresh group. Keep `_broker` bound:
/// the embedded broker stops when it is dropped.
struct Setup {
    bootstrap: String,
    topic: String,
    group: String,
    running: Running,
    _broker: TestBroker,
}

/// A broker (keep it bound: the embedded one stops when dropped), its
/// bootstrap, and a fresh one-partition topic named after `service`.
async fn broker_and_topic(service: &str) -> (TestBroker, String, String) {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let bootstrap = broker.bootstrap();
    let topic = unique_name(&service.replace('.', "-"));
    broker.create_topic(&topic, 1).await.unwrap();
    (broker, bootstrap, topic)
}

async fn setup(
    service: &str,
    concurrency: u32,
    more: &[(&'static str, i64)],
    records: &[(Option<String>, String)],
) -> Setup {
    let (broker, bootstrap, topic) = broker_and_topic(service).await;
    let mut served = Service::new(service, &topic).key("keyOrderedConcurrency", concurrency);
    for (key, value) in more {
        served = served.key(key, value);
    }
    let group = served.group.clone();
    let running = start(config(&bootstrap, &[served]), &[service]);
    produce_all(&producer(&bootstrap), &topic, 0, records).await;
    Setup {
        bootstrap,
        topic,
        group,
        running,
        _broker: broker,
    }
}

/// Waits until the test opens `gate` (adds permits); the permit goes back.
async fn pass(gate: &Semaphore) {
    drop(gate.acquire().await.expect("the gate is never closed"));
}

/// `n` records, each with a key of its own (`key0`, `key1`, ...).
fn one_key_each(
    n: usize,
    payload: impl Fn(usize) -> &'static str,
) -> Vec<(Option<String>, String)> {
    (0..n)
        .map(|i| (Some(format!("key{i}")), payload(i).to_owned()))
        .collect()
}

/// The group's committed offset of `topic`'s partition 0 (`None`: nothing
/// committed yet), read by a plain consumer of the same group.
async fn committed(bootstrap: &str, group: &str, topic: &str) -> Option<i64> {
    let (bootstrap, group, topic) = (bootstrap.to_owned(), group.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let probe: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .create()
            .expect("a probe consumer");
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&topic, 0);
        let tpl = probe
            .committed_offsets(tpl, Duration::from_secs(10))
            .expect("committed offsets");
        tpl.elements().first().and_then(|e| match e.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        })
    })
    .await
    .expect("the probe does not panic")
}

/// Waits (bounded) until the group's committed offset is `want`.
async fn committed_reaches(bootstrap: &str, group: &str, topic: &str, want: i64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut last = None;
    while tokio::time::Instant::now() < deadline {
        last = committed(bootstrap, group, topic).await;
        if last == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("committed offset did not reach {want} within {WAIT:?}; last read {last:?}");
}

/// A message's key as text (`-` for a null key).
fn key_of(msg: &Message) -> String {
    msg.key.as_ref().map_or_else(
        || "-".to_owned(),
        |k| String::from_utf8_lossy(k).into_owned(),
    )
}

// ---- (1) per-key order under N=16 ----

/// Per (topic, key): the offsets handled, in the order their handlers started.
static ORDER: Mutex<BTreeMap<(String, String), Vec<i64>>> = Mutex::new(BTreeMap::new());
/// (topic, key) whose handler is running now.
static ORDER_RUNNING: Mutex<BTreeSet<(String, String)>> = Mutex::new(BTreeSet::new());
/// Two handlers of one key seen running at once: (topic, key, offset).
static ORDER_OVERLAPS: Mutex<Vec<(String, String, i64)>> = Mutex::new(Vec::new());
static ORDER_DONE: Seen = Seen::new();
static ORDER_MAX_RUNNING: AtomicUsize = AtomicUsize::new(0);

#[kafka_consumer(service = "keyed.order")]
async fn keyed_order(msg: Message) -> Result<(), HandlerError> {
    let id = (msg.topic.to_string(), key_of(&msg));
    {
        let mut running = ORDER_RUNNING.lock().unwrap();
        if !running.insert(id.clone()) {
            ORDER_OVERLAPS
                .lock()
                .unwrap()
                .push((id.0.clone(), id.1.clone(), msg.offset));
        }
        ORDER_MAX_RUNNING.fetch_max(running.len(), Ordering::SeqCst);
        ORDER
            .lock()
            .unwrap()
            .entry(id.clone())
            .or_default()
            .push(msg.offset);
    }
    // A small, uneven pause (0..=6 ms, scrambled by offset) so handlers of
    // different keys overtake each other.
    let ms = (msg.offset as u64).wrapping_mul(2_654_435_761) % 7;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ORDER_RUNNING.lock().unwrap().remove(&id);
    ORDER_DONE.push(&msg.topic, msg.partition, msg.offset, &id.1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_key_keeps_its_order_under_concurrency() {
    // Ten keys and the null key, interleaved: 330 records.
    let records: Vec<(Option<String>, String)> = (0..330)
        .map(|i| {
            let key = (i % 11 != 10).then(|| format!("k{}", i % 11));
            (key, format!("m{i}"))
        })
        .collect();
    let case = setup("keyed.order", 16, &[], &records).await;
    eventually("all 330 records handled", || {
        ORDER_DONE.count(&case.topic) >= records.len()
    })
    .await;
    case.running.stop().await.unwrap();

    assert_eq!(
        ORDER_DONE.count(&case.topic),
        records.len(),
        "each record once"
    );
    let overlaps: Vec<_> = ORDER_OVERLAPS
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, ..)| *t == case.topic)
        .cloned()
        .collect();
    assert!(
        overlaps.is_empty(),
        "one key ran twice at once: {overlaps:?}"
    );
    let order = ORDER.lock().unwrap();
    let mut keys = 0;
    for ((t, key), offsets) in order.iter() {
        if *t != case.topic {
            continue;
        }
        keys += 1;
        // Offset i carries key i % 11 (10: no key).
        let want: Vec<i64> = (0..330i64)
            .filter(|i| {
                let k = i % 11;
                if key == "-" {
                    k == 10
                } else {
                    format!("k{k}") == *key
                }
            })
            .collect();
        assert_eq!(
            *offsets, want,
            "key {key}: handled in strictly increasing offset order, each once"
        );
    }
    assert_eq!(keys, 11, "ten keys and the null-key lane");
    // Not a proof of concurrency (that is the next test), only a sign the
    // ordered dispatcher, not the sequential loop, ran these records.
    assert!(ORDER_MAX_RUNNING.load(Ordering::SeqCst) <= 16);
}

// ---- (2) N handlers at once within one partition, never more ----

static PAR_RUNNING: AtomicUsize = AtomicUsize::new(0);
static PAR_MAX: AtomicUsize = AtomicUsize::new(0);
static PAR_GATE: Semaphore = Semaphore::const_new(0);
static PAR_DONE: Seen = Seen::new();

#[kafka_consumer(service = "keyed.parallel")]
async fn keyed_parallel(msg: Message) -> Result<(), HandlerError> {
    let now = PAR_RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    PAR_MAX.fetch_max(now, Ordering::SeqCst);
    // Held until the test opens the gate: handlers that started cannot
    // finish, so the number running is the number started.
    pass(&PAR_GATE).await;
    PAR_RUNNING.fetch_sub(1, Ordering::SeqCst);
    PAR_DONE.push(&msg.topic, msg.partition, msg.offset, "");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n_handlers_run_at_once_within_one_partition_and_never_more() {
    let records = one_key_each(40, |_| "held");
    let case = setup("keyed.parallel", 8, &[], &records).await;

    // 40 records of 40 keys wait in one partition; none can finish.
    eventually("8 handlers running at once", || {
        PAR_RUNNING.load(Ordering::SeqCst) == 8
    })
    .await;
    assert_eq!(
        PAR_DONE.count(&case.topic),
        0,
        "nothing finished: all 8 are held"
    );
    assert_eq!(
        PAR_MAX.load(Ordering::SeqCst),
        8,
        "never more than 8 started"
    );

    PAR_GATE.add_permits(1_000);
    eventually("all 40 records handled", || {
        PAR_DONE.count(&case.topic) == 40
    })
    .await;
    case.running.stop().await.unwrap();
    assert_eq!(
        PAR_MAX.load(Ordering::SeqCst),
        8,
        "never more than 8 at once, also while the backlog drained"
    );
}

// ---- (3) only a contiguous prefix is committed ----

static PREFIX_GATE: Semaphore = Semaphore::const_new(0);
static PREFIX_DONE: Seen = Seen::new();

#[kafka_consumer(service = "keyed.prefix")]
async fn keyed_prefix(msg: Message) -> Result<(), HandlerError> {
    if msg.payload_bytes().as_ref() == b"block" {
        pass(&PREFIX_GATE).await;
    }
    PREFIX_DONE.push(&msg.topic, msg.partition, msg.offset, "");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_commit_never_passes_an_unfinished_message() {
    // Offset 2 blocks; 0, 1 and 3..=9 (other keys) finish.
    let records = one_key_each(10, |i| if i == 2 { "block" } else { "ok" });
    let case = setup("keyed.prefix", 4, &[], &records).await;

    eventually("the 9 other records handled", || {
        PREFIX_DONE.count(&case.topic) == 9
    })
    .await;
    assert!(!PREFIX_DONE.offsets(&case.topic).contains(&2));
    // 0 and 1 are the prefix: the next record to read is 2.
    committed_reaches(&case.bootstrap, &case.group, &case.topic, 2).await;
    // Records 3..=9 were handled before that commit was read, and commits run
    // every 200 ms: an observation window of five more commits, during which
    // it must not move past the blocked record (a negative can only be
    // observed over a bounded time; nothing waits on it to proceed).
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            committed(&case.bootstrap, &case.group, &case.topic).await,
            Some(2),
            "committed past the unfinished offset 2"
        );
    }

    PREFIX_GATE.add_permits(1);
    eventually("the blocked record handled", || {
        PREFIX_DONE.count(&case.topic) == 10
    })
    .await;
    committed_reaches(&case.bootstrap, &case.group, &case.topic, 10).await;
    case.running.stop().await.unwrap();
}

/// Offsets the `keyed.shutdown` handler saw, and whether `block` still blocks.
static SHUTDOWN_SEEN: Seen = Seen::new();
static SHUTDOWN_BLOCKS: AtomicBool = AtomicBool::new(true);

#[kafka_consumer(service = "keyed.shutdown")]
async fn keyed_shutdown(msg: Message) -> Result<(), HandlerError> {
    if msg.payload_bytes().as_ref() == b"block" && SHUTDOWN_BLOCKS.load(Ordering::SeqCst) {
        // Never finishes: shutdown's bound runs out and aborts it.
        std::future::pending::<()>().await;
    }
    SHUTDOWN_SEEN.push(&msg.topic, msg.partition, msg.offset, "");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_commits_the_prefix_and_a_restart_resumes_at_the_unfinished_message() {
    let (_broker, bootstrap, topic) = broker_and_topic("keyed.shutdown").await;
    let records = one_key_each(10, |i| if i == 2 { "block" } else { "ok" });
    let group = unique_name("group");
    let service = || {
        Service::new("keyed.shutdown", &topic)
            .group(&group)
            .key("keyOrderedConcurrency", 4)
    };
    let only = ["keyed.shutdown"];
    let bound = Duration::from_secs(1);
    let running = start_with_shutdown_timeout(config(&bootstrap, &[service()]), &only, bound);
    produce_all(&producer(&bootstrap), &topic, 0, &records).await;
    eventually("the 9 other records handled", || {
        SHUTDOWN_SEEN.count(&topic) == 9
    })
    .await;
    // Shutdown aborts the blocked handler after `bound` and commits what is
    // stored, synchronously: the prefix 0..=1, so the next record is 2.
    running.stop().await.unwrap();
    assert_eq!(committed(&bootstrap, &group, &topic).await, Some(2));

    SHUTDOWN_BLOCKS.store(false, Ordering::SeqCst);
    let running = start_with_shutdown_timeout(config(&bootstrap, &[service()]), &only, bound);
    eventually("offset 2 redelivered and handled", || {
        SHUTDOWN_SEEN.offsets(&topic).contains(&2)
    })
    .await;
    committed_reaches(&bootstrap, &group, &topic, 10).await;
    running.stop().await.unwrap();
    let mut offsets = SHUTDOWN_SEEN.offsets(&topic);
    offsets.sort_unstable();
    offsets.dedup();
    assert_eq!(
        offsets,
        (0..10).collect::<Vec<i64>>(),
        "every record handled"
    );
}

// ---- pause holds back buffered messages too ----

static PAUSE_STARTED: Seen = Seen::new();
static PAUSE_DONE: Seen = Seen::new();
static PAUSE_GATE: Semaphore = Semaphore::const_new(0);

#[kafka_consumer(service = "keyed.pause")]
async fn keyed_pause(msg: Message) -> Result<(), HandlerError> {
    PAUSE_STARTED.push(&msg.topic, msg.partition, msg.offset, "");
    pass(&PAUSE_GATE).await;
    PAUSE_DONE.push(&msg.topic, msg.partition, msg.offset, "");
    Ok(())
}

/// How long a paused service is watched for starting nothing: proving an
/// absence needs a window (several poll intervals long).
const QUIET: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_service_starts_no_handler_from_its_buffer() {
    let (_broker, bootstrap, topic) = broker_and_topic("keyed.pause").await;
    let service = Service::new("keyed.pause", &topic).key("keyOrderedConcurrency", 4);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serve = kafka_runtime::serve()
        .config(config(&bootstrap, &[service]))
        .only_services(["keyed.pause"])
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        });
    let control = serve.control();
    let task = tokio::spawn(std::future::IntoFuture::into_future(serve));
    produce_all(&producer(&bootstrap), &topic, 0, &one_key_each(12, |_| "m")).await;

    // 4 run and are held; the other 8 wait in the dispatcher, already polled.
    eventually("4 handlers running", || PAUSE_STARTED.count(&topic) == 4).await;
    control.pause("keyed.pause").unwrap();
    PAUSE_GATE.add_permits(1_000);
    eventually("the 4 running finish", || PAUSE_DONE.count(&topic) == 4).await;
    let started_while_paused =
        kafka_rs::wait_until(QUIET, || PAUSE_STARTED.count(&topic) > 4).await;
    assert!(!started_while_paused, "a paused service started a handler");

    control.resume("keyed.pause").unwrap();
    eventually("all 12 handled after resume", || {
        PAUSE_DONE.count(&topic) == 12
    })
    .await;
    let _ = stop.send(());
    tokio::time::timeout(WAIT, task)
        .await
        .expect("serve() returns after shutdown")
        .expect("serve() does not panic")
        .expect("serve() ends without error");
}

// ---- (4) a retrying key holds back only its own successors ----

/// Handler events per topic, in order: `start <payload> <attempt>`,
/// `end <payload> <attempt>`.
static RETRY_EVENTS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
static RETRY_ATTEMPTS: Mutex<Vec<(String, i64)>> = Mutex::new(Vec::new());
static RETRY_OTHERS_DONE: Mutex<Vec<String>> = Mutex::new(Vec::new());
static RETRY_SAW_OTHERS: AtomicBool = AtomicBool::new(false);
static RETRY_DONE: Seen = Seen::new();

fn retry_event(topic: &str, event: String) {
    RETRY_EVENTS.lock().unwrap().push((topic.to_owned(), event));
}

fn others_done(topic: &str) -> usize {
    RETRY_OTHERS_DONE
        .lock()
        .unwrap()
        .iter()
        .filter(|t| *t == topic)
        .count()
}

#[kafka_consumer(service = "keyed.retry")]
async fn keyed_retry(ctx: Context, payload: String) -> Result<(), HandlerError> {
    let topic = ctx.raw().topic.to_string();
    let offset = ctx.raw().offset;
    let attempt = {
        let mut all = RETRY_ATTEMPTS.lock().unwrap();
        all.push((topic.clone(), offset));
        all.iter()
            .filter(|(t, o)| *t == topic && *o == offset)
            .count()
    };
    retry_event(&topic, format!("start {payload} {attempt}"));
    let result = match payload.as_str() {
        "fail" => {
            if attempt == 2 {
                // The second attempt ends only once every other key's record
                // is handled: were they waiting behind this one, they never
                // would be and this wait would time out.
                let saw = kafka_rs::wait_until(WAIT, || others_done(&topic) == 6).await;
                RETRY_SAW_OTHERS.store(saw, Ordering::SeqCst);
            }
            Err(HandlerError::msg("failing on purpose"))
        }
        "other" => {
            RETRY_OTHERS_DONE.lock().unwrap().push(topic.clone());
            Ok(())
        }
        _ => Ok(()),
    };
    retry_event(&topic, format!("end {payload} {attempt}"));
    if result.is_ok() {
        RETRY_DONE.push(&topic, ctx.raw().partition, offset, &payload);
    }
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retrying_key_does_not_block_other_keys() {
    // Offset 0 (key a) fails on every attempt; 1..=6 are six other keys;
    // offset 7 is key a again and must wait for offset 0's retries.
    let mut records = vec![(Some("a".to_owned()), "fail".to_owned())];
    records.extend((1..=6).map(|i| (Some(format!("key{i}")), "other".to_owned())));
    records.push((Some("a".to_owned()), "after".to_owned()));
    let case = setup("keyed.retry", 4, &[("maxRetry", 2)], &records).await;

    eventually("key a's second record handled", || {
        RETRY_DONE
            .payloads(&case.topic)
            .contains(&"after".to_owned())
    })
    .await;
    // Given up after 3 attempts (maxRetry=2), its offset is committed too.
    committed_reaches(&case.bootstrap, &case.group, &case.topic, 8).await;
    case.running.stop().await.unwrap();

    assert!(
        RETRY_SAW_OTHERS.load(Ordering::SeqCst),
        "the other keys finished while key a was retrying"
    );
    let events: Vec<String> = RETRY_EVENTS
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, _)| *t == case.topic)
        .map(|(_, e)| e.clone())
        .collect();
    let at = |event: &str| {
        events
            .iter()
            .position(|e| e == event)
            .unwrap_or_else(|| panic!("no `{event}` in {events:?}"))
    };
    assert!(
        !events.iter().any(|e| e == "start fail 4"),
        "maxRetry=2 runs at most 3 times: {events:?}"
    );
    assert!(
        at("end fail 3") < at("start after 1"),
        "key a's successor waited for its retries: {events:?}"
    );
    assert_eq!(others_done(&case.topic), 6);
}

// ---- (5) configuration errors ----

fn load(address_keys: &str) -> Result<Config, String> {
    let yaml = format!(
        "server:\n  service:\n    - name: svc\n      address: 127.0.0.1:9092?topics=t&group=g{address_keys}\n      protocol: kafka\n"
    );
    Config::from_yaml_str(&yaml).map_err(|e| e.to_string())
}

#[test]
fn bad_key_ordered_concurrency_values_are_refused_with_what_is_allowed() {
    for (value, reason) in [
        ("0", "out of range; allowed: 1..=1024"),
        ("-3", "out of range; allowed: 1..=1024"),
        ("2000", "out of range; allowed: 1..=1024"),
        ("abc", "not a whole number; allowed: 1..=1024"),
    ] {
        let err = load(&format!("&keyOrderedConcurrency={value}")).unwrap_err();
        assert_eq!(
            err,
            format!("service `svc`: `keyOrderedConcurrency={value}`: {reason}"),
        );
    }
    let config = load("&keyOrderedConcurrency=1024").expect("1024 is allowed");
    assert_eq!(config.consumers[0].config.key_ordered_concurrency, 1024);
    let config = load("").expect("the default");
    assert_eq!(config.consumers[0].config.key_ordered_concurrency, 1);
}

#[test]
fn batch_with_key_ordered_concurrency_is_refused() {
    let err = load("&batch=10&keyOrderedConcurrency=4").unwrap_err();
    assert_eq!(
        err,
        "service `svc`: `keyOrderedConcurrency=4`: not allowed with `batch=10`: a batch \
         handler gets a partition's messages in order, one batch at a time; remove \
         `keyOrderedConcurrency` (or set it to 1), or remove `batch` and handle one \
         message per call"
    );
    load("&batch=10&keyOrderedConcurrency=1").expect("1 is the sequential default");
}
