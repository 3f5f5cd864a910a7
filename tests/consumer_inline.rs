//! The poll thread handles a record itself when its partition's worker is
//! idle (the engine's cheapest path, `consumer/inline.rs`). These tests pin
//! what that must not change: one handler at a time per partition, in offset
//! order, every record exactly once, commits after handling, whether a
//! handler finishes in its first poll or waits and continues on the worker;
//! the same for batches collected on the poll thread (full batches and
//! partial ones flushed after `batchFlush`); and that a CPU-heavy handler
//! still runs in parallel across partitions.

mod consumer_support;
mod reliability_support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use consumer_support::*;
use kafka_runtime::{kafka_consumer, Context, HandlerError, Message};

/// Per service: (partition, offset, thread name) in the order handlers started.
static STARTS: Mutex<Vec<(&'static str, i32, i64, String)>> = Mutex::new(Vec::new());
/// Handlers running right now, per service; and the most ever seen.
static MIXED_RUNNING: AtomicUsize = AtomicUsize::new(0);
static MIXED_MOST: AtomicUsize = AtomicUsize::new(0);
static HEAVY_RUNNING: AtomicUsize = AtomicUsize::new(0);
static HEAVY_MOST: AtomicUsize = AtomicUsize::new(0);
/// Handlers of one partition of the mixed service running at once (must stay 1).
static MIXED_PER_PARTITION: Mutex<Option<HashMap<i32, usize>>> = Mutex::new(None);
static MIXED_OVERLAPS: AtomicUsize = AtomicUsize::new(0);

fn started(service: &'static str, msg: &Message) {
    let thread = std::thread::current().name().unwrap_or("").to_owned();
    STARTS
        .lock()
        .unwrap()
        .push((service, msg.partition, msg.offset, thread));
}

fn starts(service: &str) -> Vec<(i32, i64, String)> {
    STARTS
        .lock()
        .unwrap()
        .iter()
        .filter(|(s, ..)| *s == service)
        .map(|(_, p, o, t)| (*p, *o, t.clone()))
        .collect()
}

/// Produces `per_partition` records to each of partitions `0..partitions`,
/// round by round; record `i` carries payload `i`.
async fn fill(bootstrap: &str, topic: &str, partitions: i32, per_partition: i64) {
    let producer = producer(bootstrap);
    for i in 0..per_partition {
        for partition in 0..partitions {
            produce(&producer, topic, Some(partition), "k", &format!("{i}")).await;
        }
    }
}

/// Runs `service` until `handled` says every record was, then stops it
/// (stopping commits what was stored).
async fn serve_until(bootstrap: &str, service: Service, handled: impl FnMut() -> bool) {
    let name = service.name.clone();
    let running = start(config(bootstrap, &[service]), &[name.as_str()]);
    eventually("every record handled", handled).await;
    running.stop().await.unwrap();
}

/// Fails unless the group committed `per_partition` on each of `0..partitions`.
fn assert_committed(
    bootstrap: &str,
    group: &str,
    topic: &str,
    partitions: i32,
    per_partition: i64,
) {
    let committed = reliability_support::committed(bootstrap, group, topic, partitions);
    let want: std::collections::BTreeMap<i32, i64> =
        (0..partitions).map(|p| (p, per_partition)).collect();
    assert_eq!(committed, want, "committed offsets");
}

/// The offsets of `partition` in start order.
fn offsets_on(seen: &[(i32, i64, String)], partition: i32) -> Vec<i64> {
    seen.iter()
        .filter(|(p, ..)| *p == partition)
        .map(|(_, o, _)| *o)
        .collect()
}

fn enter(running: &AtomicUsize, most: &AtomicUsize) {
    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
    most.fetch_max(now, Ordering::SeqCst);
}

/// Every third record waits (its first poll returns `Pending`, so it
/// continues on the partition's worker); the others finish at once.
#[kafka_consumer(service = "inline.mixed")]
async fn mixed(_ctx: Context, msg: Message) -> Result<(), HandlerError> {
    started("inline.mixed", &msg);
    enter(&MIXED_RUNNING, &MIXED_MOST);
    {
        let mut per = MIXED_PER_PARTITION.lock().unwrap();
        let n = per
            .get_or_insert_with(HashMap::new)
            .entry(msg.partition)
            .or_default();
        *n += 1;
        if *n > 1 {
            MIXED_OVERLAPS.fetch_add(1, Ordering::SeqCst);
        }
    }
    if msg.offset % 3 == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    if let Some(per) = MIXED_PER_PARTITION.lock().unwrap().as_mut() {
        *per.entry(msg.partition).or_default() -= 1;
    }
    MIXED_RUNNING.fetch_sub(1, Ordering::SeqCst);
    Ok(())
}

/// Burns 300 us of CPU in its first poll: far more than a hand-off costs.
#[kafka_consumer(service = "inline.heavy")]
async fn heavy(msg: Message) -> Result<(), HandlerError> {
    started("inline.heavy", &msg);
    enter(&HEAVY_RUNNING, &HEAVY_MOST);
    let until = Instant::now() + Duration::from_micros(300);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
    HEAVY_RUNNING.fetch_sub(1, Ordering::SeqCst);
    Ok(())
}

/// Batches of the batch service: (partition, offsets, thread name).
static BATCHES: Mutex<Vec<(i32, Vec<i64>, String)>> = Mutex::new(Vec::new());
static BATCH_RUNNING: AtomicUsize = AtomicUsize::new(0);
static BATCH_MOST: AtomicUsize = AtomicUsize::new(0);

/// Every other batch waits (continues on the worker); the others finish at once.
#[kafka_consumer(service = "inline.batch", batch)]
async fn batches(msgs: Vec<Message>) -> Result<(), HandlerError> {
    enter(&BATCH_RUNNING, &BATCH_MOST);
    let partition = msgs[0].partition;
    assert!(
        msgs.iter().all(|m| m.partition == partition),
        "a batch mixes partitions"
    );
    let offsets: Vec<i64> = msgs.iter().map(|m| m.offset).collect();
    let waits = offsets[0] % 20 == 0;
    let thread = std::thread::current().name().unwrap_or("").to_owned();
    BATCHES.lock().unwrap().push((partition, offsets, thread));
    if waits {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    BATCH_RUNNING.fetch_sub(1, Ordering::SeqCst);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batches_collected_on_the_poll_thread_keep_order_flush_and_commit_everything() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("inline-batch");
    broker.create_topic(&topic, 1).await.unwrap();
    let group = unique_name("inline-batch-group");
    // 95 records: nine full batches of 10, then 5 that only batchFlush sends.
    const RECORDS: i64 = 95;
    fill(&broker.bootstrap(), &topic, 1, RECORDS).await;
    let service = Service::new("inline.batch", &topic)
        .group(&group)
        .key("batch", 10)
        .key("batchFlush", 300);
    serve_until(&broker.bootstrap(), service, || {
        BATCHES
            .lock()
            .unwrap()
            .iter()
            .map(|(_, o, _)| o.len())
            .sum::<usize>()
            >= RECORDS as usize
    })
    .await;
    assert_committed(&broker.bootstrap(), &group, &topic, 1, RECORDS);

    let batches = BATCHES.lock().unwrap().clone();
    let offsets: Vec<i64> = batches.iter().flat_map(|(_, o, _)| o.clone()).collect();
    assert_eq!(
        offsets,
        (0..RECORDS).collect::<Vec<_>>(),
        "not once each, in order"
    );
    assert!(
        batches.iter().all(|(_, o, _)| o.len() <= 10),
        "a batch over batch=10"
    );
    assert!(
        batches.iter().any(|(_, o, _)| o.len() < 10),
        "the last 5 records needed batchFlush"
    );
    assert_eq!(
        BATCH_MOST.load(Ordering::SeqCst),
        1,
        "two batches of one partition ran at once"
    );
    assert!(
        batches
            .iter()
            .any(|(.., t)| t == "kafka-consumer-inline.batch"),
        "no batch was started on the poll thread: {batches:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn handlers_that_finish_at_once_or_wait_keep_partition_order_and_commit_everything() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("inline-mixed");
    broker.create_topic(&topic, 2).await.unwrap();
    let group = unique_name("inline-mixed-group");
    const PER_PARTITION: i64 = 150;
    fill(&broker.bootstrap(), &topic, 2, PER_PARTITION).await;
    let service = Service::new("inline.mixed", &topic).group(&group);
    serve_until(&broker.bootstrap(), service, || {
        starts("inline.mixed").len() >= 2 * PER_PARTITION as usize
    })
    .await;
    assert_committed(&broker.bootstrap(), &group, &topic, 2, PER_PARTITION);

    let seen = starts("inline.mixed");
    assert_eq!(seen.len(), 2 * PER_PARTITION as usize, "a record ran twice");
    for partition in 0..2 {
        assert_eq!(
            offsets_on(&seen, partition),
            (0..PER_PARTITION).collect::<Vec<_>>(),
            "partition {partition}: not once each, in order"
        );
    }
    assert_eq!(
        MIXED_OVERLAPS.load(Ordering::SeqCst),
        0,
        "two handlers of one partition ran at once"
    );
    // The cheap path was taken: some records started on the service's
    // poll thread. (Not all: a record after a waiting one goes to the
    // worker, in order, until the worker is idle again.)
    let on_poll_thread = seen
        .iter()
        .filter(|(.., t)| t == "kafka-consumer-inline.mixed")
        .count();
    assert!(on_poll_thread > 0, "no record was handled inline: {seen:?}");
    let on_workers = seen.len() - on_poll_thread;
    assert!(on_workers > 0, "no record continued on a worker");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cpu_heavy_handler_still_runs_in_parallel_across_partitions() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("inline-heavy");
    broker.create_topic(&topic, 4).await.unwrap();
    let group = unique_name("inline-heavy-group");
    const PER_PARTITION: i64 = 100;
    fill(&broker.bootstrap(), &topic, 4, PER_PARTITION).await;
    let service = Service::new("inline.heavy", &topic).group(&group);
    serve_until(&broker.bootstrap(), service, || {
        starts("inline.heavy").len() >= 4 * PER_PARTITION as usize
    })
    .await;
    assert_committed(&broker.bootstrap(), &group, &topic, 4, PER_PARTITION);

    let seen = starts("inline.heavy");
    for partition in 0..4 {
        assert_eq!(
            offsets_on(&seen, partition),
            (0..PER_PARTITION).collect::<Vec<_>>()
        );
    }
    // The governor judged the handler costly (300 us per record against a
    // 10 us bound, over two 20 ms windows: about 140 records) and sent the
    // rest to the partition workers, which ran them side by side.
    let on_workers = seen
        .iter()
        .filter(|(.., t)| t != "kafka-consumer-inline.heavy")
        .count();
    assert!(
        on_workers >= seen.len() / 2,
        "only {on_workers} of {} records left the poll thread",
        seen.len()
    );
    assert!(
        HEAVY_MOST.load(Ordering::SeqCst) >= 2,
        "handlers of different partitions never overlapped"
    );
}
