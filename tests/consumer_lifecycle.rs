//! Lifecycle on a real broker: graceful shutdown (in-flight handlers finish,
//! or are dropped at the deadline and redelivered), rebalancing between two
//! members, the rate limiter, `trpcMeta` and the raw context.

mod consumer_support;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use consumer_support::*;
use kafka_runtime::{kafka_consumer, Context, HandlerError, Message, Metadata};

static SLOW_STARTED: Seen = Seen::new();
static SLOW_DONE: Seen = Seen::new();

#[kafka_consumer(service = "life.slow")]
async fn slow(ctx: Context, payload: String) -> Result<(), HandlerError> {
    let raw = ctx.raw().clone();
    SLOW_STARTED.push(&raw.topic, raw.partition, raw.offset, &payload);
    // "too-slow" outlasts any shutdown deadline on its first delivery.
    let first_try = SLOW_STARTED.count(&raw.topic) == 1;
    let ms = if payload == "too-slow" && first_try {
        30_000
    } else {
        500
    };
    tokio::time::sleep(Duration::from_millis(ms)).await;
    SLOW_DONE.push(&raw.topic, raw.partition, raw.offset, &payload);
    Ok(())
}

static LIMITED: Mutex<Vec<(String, Instant)>> = Mutex::new(Vec::new());

#[kafka_consumer(service = "life.limited")]
async fn limited(msg: Message) -> Result<(), HandlerError> {
    LIMITED
        .lock()
        .unwrap()
        .push((msg.topic.to_string(), Instant::now()));
    Ok(())
}

/// (topic, payload, metadata seen in the context, metadata in scope, raw context).
type MetaSeen = (
    String,
    String,
    Metadata,
    Metadata,
    kafka_runtime::RawContext,
);
static META: Mutex<Vec<MetaSeen>> = Mutex::new(Vec::new());

#[kafka_consumer(service = "life.meta")]
async fn meta(ctx: Context, payload: String) -> Result<(), HandlerError> {
    META.lock().unwrap().push((
        ctx.raw().topic.to_string(),
        payload,
        ctx.metadata().clone(),
        Metadata::current(),
        ctx.raw().clone(),
    ));
    Ok(())
}

/// (topic, payload, metadata in the context, metadata in scope, record headers).
type NoMetaSeen = (String, String, Metadata, Metadata, Vec<(String, Vec<u8>)>);
static NO_META: Mutex<Vec<NoMetaSeen>> = Mutex::new(Vec::new());

#[kafka_consumer(service = "life.nometa")]
async fn no_meta(ctx: Context, msg: Message) -> Result<(), HandlerError> {
    let headers = msg
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.as_deref().unwrap_or_default().to_vec()))
        .collect();
    NO_META.lock().unwrap().push((
        msg.topic.to_string(),
        String::from_utf8_lossy(&msg.payload_bytes()).into_owned(),
        ctx.metadata().clone(),
        Metadata::current(),
        headers,
    ));
    Ok(())
}

/// Attempts (topic, payload, service, started) and successes (topic,
/// payload, service, when) of the timeout-and-rebalance test.
type Attempt = (String, String, String, Instant);
static TIMED_ATTEMPTS: Mutex<Vec<Attempt>> = Mutex::new(Vec::new());
static TIMED_DONE: Mutex<Vec<(String, String, String, Instant)>> = Mutex::new(Vec::new());
/// How long each attempt ran (topic, payload, lasted): recorded when the
/// attempt's future ends, by finishing or by being dropped at the timeout.
static TIMED_LASTED: Mutex<Vec<(String, String, Duration)>> = Mutex::new(Vec::new());

/// Records in [`TIMED_LASTED`] how long an attempt ran, however it ends.
struct AttemptClock {
    topic: String,
    payload: String,
    started: Instant,
}

impl Drop for AttemptClock {
    fn drop(&mut self) {
        TIMED_LASTED.lock().unwrap().push((
            std::mem::take(&mut self.topic),
            std::mem::take(&mut self.payload),
            self.started.elapsed(),
        ));
    }
}

/// `stuck-N` outlasts the handler timeout on its first N attempts (counted
/// across members); anything else succeeds at once.
async fn timed(ctx: Context, payload: String) -> Result<(), HandlerError> {
    let topic = ctx.raw().topic.to_string();
    let service = ctx.service().to_owned();
    let attempt = {
        let mut all = TIMED_ATTEMPTS.lock().unwrap();
        all.push((
            topic.clone(),
            payload.clone(),
            service.clone(),
            Instant::now(),
        ));
        all.iter()
            .filter(|a| a.0 == topic && a.1 == payload)
            .count()
    };
    let _clock = AttemptClock {
        topic: topic.clone(),
        payload: payload.clone(),
        started: Instant::now(),
    };
    let stuck_for = payload
        .strip_prefix("stuck-")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    if attempt <= stuck_for {
        // Dropped by the handler timeout long before this ends.
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    TIMED_DONE
        .lock()
        .unwrap()
        .push((topic, payload, service, Instant::now()));
    Ok(())
}

#[kafka_consumer(service = "life.timeout.a")]
async fn timed_a(ctx: Context, payload: String) -> Result<(), HandlerError> {
    timed(ctx, payload).await
}

#[kafka_consumer(service = "life.timeout.b")]
async fn timed_b(ctx: Context, payload: String) -> Result<(), HandlerError> {
    timed(ctx, payload).await
}

/// Handled (topic, payload, service) for the rebalance test.
static REBALANCED: Mutex<Vec<(String, String, String)>> = Mutex::new(Vec::new());

async fn rebalance(ctx: Context, msg: Message) -> Result<(), HandlerError> {
    // Slow enough that revocations find handlers in flight.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let payload = String::from_utf8_lossy(&msg.payload_bytes()).into_owned();
    REBALANCED
        .lock()
        .unwrap()
        .push((msg.topic.to_string(), payload, ctx.service().to_owned()));
    Ok(())
}

/// Two services on the same topic and group: two members of one group,
/// distinguishable by service name.
#[kafka_consumer(service = "life.rebalance.a")]
async fn rebalance_a(ctx: Context, msg: Message) -> Result<(), HandlerError> {
    rebalance(ctx, msg).await
}

#[kafka_consumer(service = "life.rebalance.b")]
async fn rebalance_b(ctx: Context, msg: Message) -> Result<(), HandlerError> {
    rebalance(ctx, msg).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_lets_in_flight_handlers_finish_and_commits_them() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("life-slow");
    broker.create_topic(&topic, 1).await.unwrap();
    let group = unique_name("slow-group");
    let make = || {
        config(
            &broker.bootstrap(),
            &[Service::new("life.slow", &topic).group(&group)],
        )
    };
    let producer = producer(&broker.bootstrap());
    let running = start(make(), &["life.slow"]);
    produce(&producer, &topic, Some(0), "k", "in-flight").await;
    eventually("the handler started", || SLOW_STARTED.count(&topic) == 1).await;
    // Shutdown while the handler sleeps: serve() waits for it.
    running.stop().await.unwrap();
    assert_eq!(SLOW_DONE.payloads(&topic), ["in-flight"]);

    // Restarted, the group does not see it again: it was committed.
    produce(&producer, &topic, Some(0), "k", "next").await;
    let running = start(make(), &["life.slow"]);
    eventually("the next record handled", || SLOW_DONE.count(&topic) == 2).await;
    running.stop().await.unwrap();
    assert_eq!(SLOW_STARTED.payloads(&topic), ["in-flight", "next"]);
}

/// The shutdown deadline of the test below.
const SHUTDOWN_DEADLINE: Duration = Duration::from_millis(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_handler_past_the_shutdown_deadline_is_dropped_and_redelivered() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("life-deadline");
    broker.create_topic(&topic, 1).await.unwrap();
    let group = unique_name("deadline-group");
    let cfg = || {
        config(
            &broker.bootstrap(),
            &[Service::new("life.slow", &topic).group(&group)],
        )
    };
    let producer = producer(&broker.bootstrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serve = tokio::spawn(
        kafka_runtime::serve()
            .config(cfg())
            .only_services(["life.slow"])
            .shutdown_timeout(SHUTDOWN_DEADLINE)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .into_future(),
    );
    produce(&producer, &topic, Some(0), "k", "too-slow").await;
    eventually("the handler started", || SLOW_STARTED.count(&topic) == 1).await;
    let stopping = Instant::now();
    let _ = tx.send(());
    tokio::time::timeout(Duration::from_secs(15), serve)
        .await
        .expect("serve() honours the shutdown deadline")
        .unwrap()
        .unwrap();
    // The deadline, then the commit of what was handled, leaving the group
    // and closing (about 100 ms on either broker): never the handler's 30 s.
    let took = stopping.elapsed();
    assert!(
        took >= SHUTDOWN_DEADLINE,
        "serve() returned after {took:?}, before the {SHUTDOWN_DEADLINE:?} deadline"
    );
    assert!(
        took < SHUTDOWN_DEADLINE + Duration::from_secs(1),
        "serve() took {took:?} to honour a {SHUTDOWN_DEADLINE:?} deadline"
    );
    assert_eq!(SLOW_DONE.count(&topic), 0);

    // Not committed: a restarted member handles it again.
    let running = start(cfg(), &["life.slow"]);
    eventually("the dropped record redelivered and handled", || {
        SLOW_DONE.count(&topic) == 1
    })
    .await;
    running.stop().await.unwrap();
    assert_eq!(SLOW_STARTED.payloads(&topic), ["too-slow", "too-slow"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_limiter_paces_handlers() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("life-limited");
    broker.create_topic(&topic, 2).await.unwrap();
    let config = config(
        &broker.bootstrap(),
        &[Service::new("life.limited", &topic)
            .key("limiterRate", 20)
            .key("limiterBurst", 2)],
    );
    let producer = producer(&broker.bootstrap());
    for i in 0..12 {
        produce(&producer, &topic, Some(i % 2), "k", "x").await;
    }
    let running = start(config, &["life.limited"]);
    let times = || -> Vec<Instant> {
        LIMITED
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| *t == topic)
            .map(|(_, at)| *at)
            .collect()
    };
    eventually("12 records handled", || times().len() == 12).await;
    running.stop().await.unwrap();
    let t = times();
    // Burst 2, then 10 more at 20/s across both partitions: at least ~500 ms.
    let span = t[11] - t[0];
    assert!(span >= Duration::from_millis(450), "12 records in {span:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn trpc_meta_maps_headers_and_the_raw_context_is_filled() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("life-meta");
    broker.create_topic(&topic, 1).await.unwrap();
    let group = unique_name("meta-group");
    let config = config(
        &broker.bootstrap(),
        &[Service::new("life.meta", &topic)
            .group(&group)
            .key("trpcMeta", "true")],
    );
    let producer = producer(&broker.bootstrap());
    produce_with_headers(&producer, &topic, 0, "first", &[("tenant", "acme")]).await;
    produce_with_headers(&producer, &topic, 0, "second", &[("tenant", "globex")]).await;
    let running = start(config, &["life.meta"]);
    let seen = || -> Vec<MetaSeen> {
        META.lock()
            .unwrap()
            .iter()
            .filter(|m| m.0 == topic)
            .cloned()
            .collect()
    };
    eventually("both records handled", || seen().len() == 2).await;
    running.stop().await.unwrap();
    let seen = seen();
    for ((_, payload, md, current, raw), (want_payload, tenant, offset)) in seen
        .iter()
        .zip([("first", "acme", 0), ("second", "globex", 1)])
    {
        assert_eq!(payload, want_payload);
        assert_eq!(md.get("tenant").map(|v| &v[..]), Some(tenant.as_bytes()));
        assert_eq!(md, current, "the handler runs inside Metadata::scope");
        assert_eq!(&*raw.group, group);
        assert_eq!(raw.partition, 0);
        assert_eq!(raw.offset, offset);
        assert_eq!(raw.initial_offset, 0);
        assert!(raw.assignment >= 1);
        let member_id = raw.member_id.as_deref().unwrap_or_default();
        assert!(!member_id.is_empty(), "member id from the group: {raw:?}");
        // -1 means "not joined".
        assert!(raw.generation_id.unwrap_or(-1) >= 0, "generation: {raw:?}");
    }
}

/// A record whose handler keeps timing out (`timeout: 300`, retried for
/// ever, 40 times in all: about 13 s) while a second member joins: the
/// rebalance completes while it is still timing out, the record is neither
/// lost nor handled to success twice, its partition's later records wait
/// for it, and the other partition flows meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_handler_timing_out_during_a_rebalance_loses_and_repeats_nothing() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("life-timeout");
    broker.create_topic(&topic, 2).await.unwrap();
    let group = unique_name("timeout-group");
    let service = |name: &str| {
        Service::new(name, &topic)
            .group(&group)
            .key("maxRetry", 0)
            .timeout_ms(300)
    };
    let config = config(
        &broker.bootstrap(),
        &[service("life.timeout.a"), service("life.timeout.b")],
    );
    let producer = producer(&broker.bootstrap());
    let done_at = || -> Vec<(String, String, Instant)> {
        TIMED_DONE
            .lock()
            .unwrap()
            .iter()
            .filter(|d| d.0 == topic)
            .map(|d| (d.1.clone(), d.2.clone(), d.3))
            .collect()
    };
    let done =
        || -> Vec<(String, String)> { done_at().into_iter().map(|(p, s, _)| (p, s)).collect() };
    let attempts_of = |payload: &str| -> usize {
        TIMED_ATTEMPTS
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.0 == topic && a.1 == payload)
            .count()
    };

    let first = start(config.clone(), &["life.timeout.a"]);
    produce(&producer, &topic, Some(0), "k", "stuck-40").await;
    produce(&producer, &topic, Some(0), "k", "after-stuck").await;
    eventually("the stuck record is being retried", || {
        attempts_of("stuck-40") >= 2
    })
    .await;
    let second = start(config, &["life.timeout.b"]);
    // Keep both partitions flowing through the rebalance (behind the stuck
    // record on partition 0).
    let mut sent = 0;
    let deadline = Instant::now() + WAIT;
    while !done().iter().any(|(_, s)| s == "life.timeout.b") {
        assert!(
            Instant::now() < deadline,
            "the second member never handled a record"
        );
        produce(
            &producer,
            &topic,
            Some(sent % 2),
            "k",
            &format!("flow-{sent}"),
        )
        .await;
        sent += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eventually("the stuck record and the one after it", || {
        let payloads: Vec<String> = done().into_iter().map(|(p, _)| p).collect();
        payloads.contains(&"stuck-40".to_owned()) && payloads.contains(&"after-stuck".to_owned())
    })
    .await;
    let flowed = sent;
    eventually("every flow record", || {
        let payloads: Vec<String> = done().into_iter().map(|(p, _)| p).collect();
        (0..flowed).all(|i| payloads.contains(&format!("flow-{i}")))
    })
    .await;
    second.stop().await.unwrap();
    first.stop().await.unwrap();

    let payloads: Vec<String> = done().into_iter().map(|(p, _)| p).collect();
    let count = |p: &str| payloads.iter().filter(|q| *q == p).count();
    assert_eq!(
        count("stuck-40"),
        1,
        "handled to success once: {payloads:?}"
    );
    assert!(attempts_of("stuck-40") >= 41, "40 timeouts, then success");
    let stuck_done_at = done_at()
        .iter()
        .find(|d| d.0 == "stuck-40")
        .map(|d| d.2)
        .expect("done");
    let second_started_at = TIMED_ATTEMPTS
        .lock()
        .unwrap()
        .iter()
        .filter(|a| a.0 == topic && a.2 == "life.timeout.b")
        .map(|a| a.3)
        .min()
        .expect("the second member worked");
    assert!(
        second_started_at < stuck_done_at,
        "the rebalance came while the record was still timing out"
    );
    let at = |p: &str| payloads.iter().position(|q| q == p).unwrap();
    assert!(
        at("stuck-40") < at("after-stuck"),
        "its partition waited: {payloads:?}"
    );
    if broker.embedded().is_none() {
        // Apache Kafka accepts the revoking member's commit: nothing twice.
        let mut sorted = payloads.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), payloads.len(), "handled twice: {payloads:?}");
    }
    // Every attempt ended by the timeout did so promptly, rebalance or not
    // (each would otherwise sleep 30 s). The time between two attempts is
    // not bounded here: across a hand-over it includes the rebalance.
    let lasted: Vec<Duration> = TIMED_LASTED
        .lock()
        .unwrap()
        .iter()
        .filter(|a| a.0 == topic && a.1 == "stuck-40")
        .map(|a| a.2)
        .collect();
    assert!(lasted.len() >= 41, "every attempt ended: {lasted:?}");
    let longest = lasted.iter().max().unwrap();
    assert!(
        *longest < Duration::from_secs(5),
        "an attempt outlived its 300 ms timeout by far: {longest:?} (all: {lasted:?})"
    );
}

/// `trpcMeta=false` (the default, given explicitly here): headers stay the
/// record's own, and neither the context nor the handler's scope carries
/// them as tRPC metadata.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn trpc_meta_false_leaves_headers_out_of_the_metadata() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("life-nometa");
    broker.create_topic(&topic, 1).await.unwrap();
    let config = config(
        &broker.bootstrap(),
        &[Service::new("life.nometa", &topic).key("trpcMeta", "false")],
    );
    let producer = producer(&broker.bootstrap());
    produce_with_headers(&producer, &topic, 0, "first", &[("tenant", "acme")]).await;
    let running = start(config, &["life.nometa"]);
    let seen = || -> Vec<NoMetaSeen> {
        NO_META
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.0 == topic)
            .cloned()
            .collect()
    };
    eventually("the record handled", || seen().len() == 1).await;
    running.stop().await.unwrap();
    let (_, payload, in_context, in_scope, headers) = seen().remove(0);
    assert_eq!(payload, "first");
    assert_eq!(headers, [("tenant".to_owned(), b"acme".to_vec())]);
    assert_eq!(in_context, Metadata::new(), "no metadata in the context");
    assert_eq!(
        in_scope,
        Metadata::new(),
        "no metadata scope around the handler"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_member_takes_partitions_without_losing_or_repeating_work() {
    second_member_joins("sticky").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_eager_rebalance_loses_and_repeats_nothing_either() {
    second_member_joins("range").await;
}

/// Two members of one group with `strategy`; the second joins mid-stream.
async fn second_member_joins(strategy: &str) {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("life-rebalance");
    broker.create_topic(&topic, 4).await.unwrap();
    let group = unique_name("rebalance-group");
    let config = config(
        &broker.bootstrap(),
        &[
            Service::new("life.rebalance.a", &topic)
                .group(&group)
                .key("strategy", strategy),
            Service::new("life.rebalance.b", &topic)
                .group(&group)
                .key("strategy", strategy),
        ],
    );
    let producer = producer(&broker.bootstrap());
    let handled = || -> Vec<(String, String)> {
        REBALANCED
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, ..)| *t == topic)
            .map(|(_, p, s)| (p.clone(), s.clone()))
            .collect()
    };
    let by = |service: &str| handled().iter().filter(|(_, s)| s == service).count();

    let first = start(config.clone(), &["life.rebalance.a"]);
    let mut sent = 0;
    for _ in 0..20 {
        produce(&producer, &topic, Some(sent % 4), "k", &format!("r{sent}")).await;
        sent += 1;
    }
    eventually("the first member handles records", || {
        by("life.rebalance.a") > 0
    })
    .await;

    // A second member joins while records keep coming and handlers are in
    // flight; keep producing until it has taken partitions and handled some.
    let second = start(config, &["life.rebalance.b"]);
    let deadline = Instant::now() + WAIT;
    while by("life.rebalance.b") == 0 {
        assert!(
            Instant::now() < deadline,
            "the second member never got partitions"
        );
        produce(&producer, &topic, Some(sent % 4), "k", &format!("r{sent}")).await;
        sent += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for _ in 0..20 {
        produce(&producer, &topic, Some(sent % 4), "k", &format!("r{sent}")).await;
        sent += 1;
    }
    eventually("every record handled", || {
        let mut payloads: Vec<String> = handled().into_iter().map(|(p, _)| p).collect();
        payloads.sort();
        payloads.dedup();
        payloads.len() == sent as usize
    })
    .await;
    second.stop().await.unwrap();
    first.stop().await.unwrap();
    // Nothing was lost (checked above). Duplicates:
    let mut counts: HashMap<String, usize> = HashMap::new();
    for (payload, _) in handled() {
        *counts.entry(payload).or_insert(0) += 1;
    }
    let twice: Vec<_> = counts.into_iter().filter(|(_, n)| *n > 1).collect();
    // Apache Kafka accepts the offsets a member commits while its
    // partitions are being revoked, so a rebalance repeats nothing. The mock
    // cluster refuses every commit while a rebalance is in progress
    // (REBALANCE_IN_PROGRESS, visible in the logs), so there whoever owns a
    // partition next re-handles what was handled during the rebalance: the
    // at-least-once answer to a refused commit, not a double commit.
    if broker.embedded().is_none() {
        assert!(
            twice.is_empty(),
            "records handled twice across the rebalance: {twice:?}"
        );
    }
    assert!(by("life.rebalance.a") > 0 && by("life.rebalance.b") > 0);
}

use std::future::IntoFuture;
