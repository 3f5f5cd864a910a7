//! The seven scenarios, with the targets the consumer engine's redesign
//! set (ratios are medians of per-round ratios in one interleaved run). Each returns a [`Scenario`] (an error
//! inside one is recorded there, and the bench goes on with the next).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_runtime::rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use kafka_runtime::rdkafka::ClientConfig;

use crate::broker::{
    self, consumer_properties, consumer_yaml, producer_properties, producer_yaml, Layout,
};
use crate::consume::{self, RawWork};
use crate::handlers;
use crate::plugin::{self, ProduceRun};
use crate::probe::{self, Span, KEY_ORDER};
use crate::produce;
use crate::report::{Run, Scenario, Target};
use crate::Ctx;

const VALUE: usize = 100;
const PARTITIONS: i32 = 8;
const BATCH: usize = 500;
/// `maxWaitTime` of every consumer in the bench, ours and raw alike: the
/// mock cluster holds a fetch for the whole wait (1 s by default) whenever
/// it has nothing new for one of the partitions asked for, which would put
/// second-long stalls into sub-second runs. Apache Kafka answers as soon as
/// it has a record, so there it changes nothing but idle wake-ups.
const FETCH_WAIT: &str = "&maxWaitTime=10";

/// Finishes a scenario: an error is recorded in it.
fn finish(mut s: Scenario, result: Result<(), String>) -> Scenario {
    if let Err(e) = result {
        s.error = Some(e);
    }
    s
}

fn secs(span: Span) -> f64 {
    span.elapsed.as_secs_f64()
}

async fn fill(
    ctx: &Ctx,
    topic: &str,
    partitions: i32,
    count: u64,
    size: usize,
    layout: Layout,
) -> Result<(), String> {
    ctx.create_topic(topic, partitions).await?;
    ctx.step(format!("filling {topic} with {count} x {size} B"));
    let bootstrap = ctx.broker.bootstrap();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        broker::fill(&bootstrap, &topic, partitions, count, size, layout, |_| {})
    })
    .await
    .map_err(|e| e.to_string())?
}

impl Ctx {
    async fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), String> {
        self.broker.create_topic(topic, partitions).await
    }
}

async fn raw_consume(
    props: ClientConfig,
    topic: &str,
    target: u64,
    deadline: Instant,
    work: RawWork,
    ready: Option<Arc<AtomicBool>>,
) -> Result<Span, String> {
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || consume::raw(props, &topic, target, deadline, work, ready))
        .await
        .map_err(|e| e.to_string())?
}

/// consume-noop and consume-batch: one pre-filled topic, a fresh group per run.
pub async fn consume(ctx: &Ctx, batch: bool) -> Scenario {
    let n = ctx.messages();
    let (name, what) = if batch {
        ("consume-batch", format!("{n} x {VALUE} B records, {PARTITIONS} partitions, batch handler (batch={BATCH}); raw: poll loop collecting {BATCH} then storing the batch's offsets"))
    } else {
        ("consume-noop", format!("{n} x {VALUE} B records, {PARTITIONS} partitions, no-op single-message handler; raw: poll loop storing each offset"))
    };
    let mut s = Scenario::new(name, &what);
    let result = consume_runs(ctx, &mut s, name, batch, n).await;
    finish(s, result)
}

async fn consume_runs(
    ctx: &Ctx,
    s: &mut Scenario,
    name: &str,
    batch: bool,
    n: u64,
) -> Result<(), String> {
    let topic = ctx.unique(name);
    fill(ctx, &topic, PARTITIONS, n, VALUE, Layout::RoundRobin).await?;
    ctx.done_step();
    let (service, extra) = if batch {
        (handlers::BATCH, format!("&batch={BATCH}{FETCH_WAIT}"))
    } else {
        (handlers::NOOP, FETCH_WAIT.to_owned())
    };
    for round in 1..=ctx.args.rounds {
        let group = ctx.unique("g");
        let yaml = consumer_yaml(service, &ctx.broker.bootstrap(), &topic, &group, &extra);
        ctx.step(format!("{name} round {round}: ours"));
        probe::reset_peak_rss();
        let cpu0 = probe::cpu_seconds();
        let span = consume::ours(yaml, service, n, ctx.deadline(), None).await?;
        let mut run = Run::new("ours", round, span.messages, secs(span), VALUE);
        run.peak_rss_kib = probe::peak_rss_kib();
        run.set_cpu(probe::cpu_seconds().zip(cpu0).map(|(b, a)| b - a));
        s.runs.push(run);
        ctx.done_step();

        let group = ctx.unique("g");
        let yaml = consumer_yaml(service, &ctx.broker.bootstrap(), &topic, &group, &extra);
        let props = consumer_properties(&yaml, service)?;
        ctx.step(format!("{name} round {round}: raw"));
        probe::reset_peak_rss();
        let cpu0 = probe::cpu_seconds();
        let work = if batch {
            RawWork::Batch(BATCH)
        } else {
            RawWork::Noop
        };
        let span = raw_consume(props, &topic, n, ctx.deadline(), work, None).await?;
        let mut run = Run::new("raw", round, span.messages, secs(span), VALUE);
        run.peak_rss_kib = probe::peak_rss_kib();
        run.set_cpu(probe::cpu_seconds().zip(cpu0).map(|(b, a)| b - a));
        s.runs.push(run);
        ctx.done_step();

        if let Some(peer) = &ctx.plugin {
            let group = ctx.unique("g");
            let yaml = consumer_yaml(service, &ctx.broker.bootstrap(), &topic, &group, &extra);
            ctx.step(format!("{name} round {round}: plugin"));
            let child = plugin::consume(peer, &yaml, n, batch, ctx.deadline()).await?;
            s.runs.push(plugin_run(round, child));
        }
    }
    s.summarise("ours", "raw");
    if ctx.plugin.is_some() {
        s.notes.push(PLUGIN_NOTE.into());
    }
    if batch {
        s.cpu_ratio_target("batch consume CPU/record <= 1.1x raw", 1.1);
    } else {
        s.ratio_target("no-op consume >= 1.0x raw msg/s", 1.0);
        s.cpu_ratio_target("no-op consume CPU/record <= 1.25x raw", 1.25);
    }
    s.notes.push("rate = records handled after the first one, over the time from the first to the last handled record (group join excluded)".into());
    if ctx.broker.is_embedded() {
        s.notes.push("peak RSS is the bench process's, which also holds the in-process mock broker and its log".into());
    }
    Ok(())
}

/// Sum of the high watermarks of `topic` (records the broker holds).
fn records_in(bootstrap: &str, topic: &str, partitions: i32) -> Result<i64, String> {
    Ok(broker::watermarks(bootstrap, topic, partitions)?
        .into_iter()
        .map(|(_, high)| high)
        .sum())
}

/// produce-async: `produce` with `async=1` vs `BaseProducer::send`, both then flush.
pub async fn produce_async(ctx: &Ctx) -> Scenario {
    let n = ctx.messages();
    let mut s = Scenario::new(
        "produce-async",
        &format!("{n} x {VALUE} B records to {PARTITIONS} partitions: ours `RawProducer::produce` on an `async=1` target then `flush`; raw `BaseProducer::send` (poll on queue full) then `flush`; same librdkafka properties"),
    );
    let result = produce_runs(ctx, &mut s, n, false).await;
    finish(s, result)
}

/// produce-awaited: `send_message` vs `FutureProducer::send`, 256 tasks awaiting.
pub async fn produce_awaited(ctx: &Ctx) -> Scenario {
    let n = ctx.messages();
    let mut s = Scenario::new(
        "produce-awaited",
        &format!("{n} x {VALUE} B records: ours `RawProducer::send_message` awaited by {} tasks; raw `FutureProducer::send` awaited by {} tasks", produce::TASKS, produce::TASKS),
    );
    let result = produce_runs(ctx, &mut s, n, true).await;
    finish(s, result)
}

async fn produce_runs(ctx: &Ctx, s: &mut Scenario, n: u64, awaited: bool) -> Result<(), String> {
    let name = s.name.clone();
    ctx.done_step();
    let bootstrap = ctx.broker.bootstrap();
    let extra = if awaited { "" } else { "&async=1" };
    for round in 1..=ctx.args.rounds {
        for side in ["ours", "raw"] {
            let topic = ctx.unique("p");
            ctx.create_topic(&topic, PARTITIONS).await?;
            let yaml = producer_yaml(produce::PRODUCER, &bootstrap, &topic, extra);
            ctx.step(format!("{name} round {round}: {side}"));
            probe::reset_peak_rss();
            let cpu0 = probe::cpu_seconds();
            let elapsed = match (side, awaited) {
                ("ours", false) => produce::ours_async(&yaml, n, VALUE).await?,
                ("ours", true) => produce::ours_awaited(&yaml, &topic, n, VALUE).await?,
                (_, false) => {
                    let props = producer_properties(&yaml, produce::PRODUCER)?;
                    let t = topic.clone();
                    tokio::task::spawn_blocking(move || produce::raw_async(&props, &t, n, VALUE))
                        .await
                        .map_err(|e| e.to_string())??
                }
                (_, true) => {
                    let props = producer_properties(&yaml, produce::PRODUCER)?;
                    produce::raw_awaited(&props, &topic, n, VALUE).await?
                }
            };
            let mut run = Run::new(side, round, n, elapsed.as_secs_f64(), VALUE);
            run.peak_rss_kib = probe::peak_rss_kib();
            run.set_cpu(probe::cpu_seconds().zip(cpu0).map(|(b, a)| b - a));
            s.runs.push(run);
            check_held(ctx, &bootstrap, &topic, side, round, n).await?;
            ctx.done_step();
        }
        if let Some(peer) = &ctx.plugin {
            let topic = ctx.unique("p");
            ctx.create_topic(&topic, PARTITIONS).await?;
            let yaml = producer_yaml(produce::PRODUCER, &bootstrap, &topic, extra);
            ctx.step(format!("{name} round {round}: plugin"));
            let spec = ProduceRun {
                service: produce::PRODUCER,
                messages: n,
                value_size: VALUE,
                // The plugin's synchronous Produce from as many goroutines as
                // our awaiting tasks; asynchronous Produce from one loop, as ours.
                concurrency: if awaited { produce::TASKS } else { 1 },
                asynchronous: !awaited,
            };
            let child = plugin::produce(peer, &yaml, &spec, ctx.deadline()).await?;
            s.runs.push(plugin_run(round, child));
            check_held(ctx, &bootstrap, &topic, "plugin", round, n).await?;
        }
    }
    s.summarise("ours", "raw");
    if ctx.plugin.is_some() {
        s.notes.push(PLUGIN_NOTE.into());
    }
    if awaited {
        s.ratio_target("awaited send_message >= 0.9x raw msg/s", 0.9);
    } else {
        s.ratio_target("async produce >= 0.95x raw msg/s", 0.95);
        s.cpu_ratio_target("async produce CPU/record <= 1.2x raw", 1.2);
    }
    s.notes.push("rate = records over the time from the first send to the end of the flush (ours: + all delivery tasks done); a fresh topic per run".into());
    Ok(())
}

/// What the plugin's side notes in a scenario.
const PLUGIN_NOTE: &str = "plugin = the tRPC-Go plugin v1.2.0 (sarama 1.40.1) in a child process on the same YAML (interop/cmd/plugin-peer); its CPU and peak RSS are the child's own (/proc/PID/stat, VmHWM), read before it exits";

fn plugin_run(round: u32, child: plugin::ChildRun) -> Run {
    let mut run = Run::new("plugin", round, child.messages, child.seconds, VALUE);
    run.set_cpu(child.cpu_seconds);
    run.peak_rss_kib = child.peak_rss_kib;
    run
}

/// Fails on the embedded broker unless `topic` holds the `n` records `side` produced.
async fn check_held(
    ctx: &Ctx,
    bootstrap: &str,
    topic: &str,
    side: &str,
    round: u32,
    n: u64,
) -> Result<(), String> {
    let b = bootstrap.to_owned();
    let t = topic.to_owned();
    let held = tokio::task::spawn_blocking(move || records_in(&b, &t, PARTITIONS))
        .await
        .map_err(|e| e.to_string())??;
    if held != n as i64 && ctx.broker.is_embedded() {
        return Err(format!(
            "{side} round {round}: the broker holds {held} records, {n} were produced"
        ));
    }
    Ok(())
}

/// slow-handler: 5 ms per message, sequential per partition vs key-ordered.
pub async fn slow_handler(ctx: &Ctx) -> Scenario {
    let seq_n = ctx.args.slow_messages;
    let n_conc = ctx.args.key_ordered_concurrency;
    let conc_n = seq_n * 10;
    let mut s = Scenario::new(
        "slow-handler",
        &format!("handler waits {} ms (tokio::time::sleep) per record, 1000 keys, 4 partitions; sequential per partition ({seq_n} records) vs keyOrderedConcurrency={n_conc} ({conc_n} records); per-key order asserted in the handler; maxWaitTime=10 ms on both sides", handlers::SLOW_DELAY.as_millis()),
    );
    let result = slow_runs(ctx, &mut s, seq_n, conc_n, n_conc).await;
    finish(s, result)
}

async fn slow_runs(
    ctx: &Ctx,
    s: &mut Scenario,
    seq_n: u64,
    conc_n: u64,
    n_conc: u32,
) -> Result<(), String> {
    ctx.done_step();
    let ordered = format!("ordered-{n_conc}");
    let mut unavailable = None;
    let mut violations = 0;
    let mut max_in_flight = 0;
    // Both sides fetch with FETCH_WAIT, as every other consumer of the bench.
    for round in 1..=ctx.args.rounds {
        for (side, n, extra) in [
            ("sequential", seq_n, FETCH_WAIT.to_owned()),
            (
                ordered.as_str(),
                conc_n,
                format!("&keyOrderedConcurrency={n_conc}{FETCH_WAIT}"),
            ),
        ] {
            if side != "sequential" && unavailable.is_some() {
                ctx.done_step();
                continue;
            }
            let topic = ctx.unique("slow");
            fill(ctx, &topic, 4, n, VALUE, Layout::Keys(1000)).await?;
            let group = ctx.unique("g");
            let yaml = consumer_yaml(
                handlers::SLOW,
                &ctx.broker.bootstrap(),
                &topic,
                &group,
                &extra,
            );
            if let Err(e) = kafka_runtime::config::Config::from_yaml_str(&yaml) {
                unavailable = Some(e.to_string());
                ctx.done_step();
                continue;
            }
            ctx.step(format!("slow-handler round {round}: {side}"));
            KEY_ORDER.reset();
            probe::reset_peak_rss();
            let cpu0 = probe::cpu_seconds();
            let span = consume::ours(yaml, handlers::SLOW, n, ctx.deadline(), None).await?;
            violations += KEY_ORDER.violations();
            max_in_flight = max_in_flight.max(KEY_ORDER.max_in_flight());
            let mut run = Run::new(side, round, span.messages, secs(span), VALUE);
            run.peak_rss_kib = probe::peak_rss_kib();
            run.set_cpu(probe::cpu_seconds().zip(cpu0).map(|(b, a)| b - a));
            s.runs.push(run);
            ctx.done_step();
        }
    }
    s.summarise(&ordered, "sequential");
    s.notes.push(format!(
        "per-key order violations: {violations}; most handlers running at once: {max_in_flight}"
    ));
    s.notes
        .push("maxWaitTime=10 ms on both sides, as in the other consume scenarios".into());
    match (&unavailable, s.ratio) {
        (Some(e), _) => {
            s.notes.push(format!(
                "keyOrderedConcurrency is not available in this build: {e}"
            ));
            s.targets.push(Target {
                name: format!("key-ordered {n_conc} >= 60x sequential"),
                wanted: ">= 60x".into(),
                measured: "not available".into(),
                met: false,
            });
        }
        (None, Some(ratio)) => s.targets.push(Target {
            name: format!("key-ordered {n_conc} >= 60x sequential, per-key order kept"),
            wanted: ">= 60x, 0 order violations".into(),
            measured: format!("{ratio:.1}x, {violations} violations"),
            met: ratio >= 60.0 && violations == 0,
        }),
        (None, None) => {}
    }
    if violations > 0 {
        return Err(format!("{violations} per-key order violations"));
    }
    Ok(())
}

/// latency: a paced producer, end-to-end latency of ours vs raw.
pub async fn latency(ctx: &Ctx) -> Scenario {
    let rate = ctx.args.latency_rate.max(1);
    let n = rate * ctx.args.latency_secs.max(1);
    let mut s = Scenario::new(
        "latency",
        &format!("{n} records at {rate}/s (payload stamped with its send time, {PARTITIONS} partitions, producer linger.ms=1, consumer maxWaitTime=10 ms for both sides: the mock cluster holds a fetch for the whole wait) once the consumer owns its partitions; end-to-end latency, ours (single-message handler) vs raw poll loop"),
    );
    let result = latency_runs(ctx, &mut s, rate, n).await;
    finish(s, result)
}

async fn latency_runs(ctx: &Ctx, s: &mut Scenario, rate: u64, n: u64) -> Result<(), String> {
    ctx.done_step();
    let bootstrap = ctx.broker.bootstrap();
    for round in 1..=ctx.args.rounds {
        for side in ["ours", "raw"] {
            let topic = ctx.unique("lat");
            ctx.create_topic(&topic, PARTITIONS).await?;
            let group = ctx.unique("g");
            let yaml = consumer_yaml(
                handlers::LATENCY,
                &bootstrap,
                &topic,
                &group,
                "&maxWaitTime=10",
            );
            ctx.step(format!("latency round {round}: {side}"));
            probe::reset_latency();
            probe::reset_peak_rss();
            let cpu0 = probe::cpu_seconds();
            let ready = Arc::new(AtomicBool::new(false));
            let deadline = ctx.deadline();
            let consumer = if side == "ours" {
                tokio::spawn(consume::ours(
                    yaml,
                    handlers::LATENCY,
                    n,
                    deadline,
                    Some(ready.clone()),
                ))
            } else {
                let props = consumer_properties(&yaml, handlers::LATENCY)?;
                let (t, r) = (topic.clone(), ready.clone());
                tokio::spawn(async move {
                    raw_consume(props, &t, n, deadline, RawWork::Latency, Some(r)).await
                })
            };
            while !ready.load(std::sync::atomic::Ordering::SeqCst) {
                if consumer.is_finished() || Instant::now() > deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let (b, t) = (bootstrap.clone(), topic.clone());
            tokio::task::spawn_blocking(move || paced_produce(&b, &t, n, rate))
                .await
                .map_err(|e| e.to_string())??;
            let span = consumer.await.map_err(|e| e.to_string())??;
            let (p50, p99) = probe::latency_percentiles();
            let mut run = Run::new(side, round, span.messages, secs(span), VALUE);
            run.p50_us = Some(p50);
            run.p99_us = Some(p99);
            run.peak_rss_kib = probe::peak_rss_kib();
            run.set_cpu(probe::cpu_seconds().zip(cpu0).map(|(b, a)| b - a));
            s.runs.push(run);
            ctx.done_step();
        }
    }
    s.summarise("ours", "raw");
    // The latency ratio matters here, not the (fixed) rate.
    s.ratio = None;
    if let (Some(ours), Some(raw)) = (
        s.side("ours").and_then(|x| x.p99_us),
        s.side("raw").and_then(|x| x.p99_us),
    ) {
        let ratio = ours as f64 / raw.max(1) as f64;
        s.targets.push(Target {
            name: "latency p99 <= 1.2x raw p99".into(),
            wanted: "<= 1.20x".into(),
            measured: format!("{ratio:.2}x ({ours} µs vs {raw} µs, medians of rounds)"),
            met: ratio <= 1.2,
        });
    }
    Ok(())
}

/// Sends `n` stamped records at `rate` per second.
fn paced_produce(bootstrap: &str, topic: &str, n: u64, rate: u64) -> Result<(), String> {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "1")
        .create()
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut payload = vec![b'x'; VALUE];
    for i in 0..n {
        let due = start + Duration::from_nanos(i * 1_000_000_000 / rate);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        payload[..8].copy_from_slice(&probe::now_nanos().to_le_bytes());
        producer
            .send(BaseRecord::<(), [u8]>::to(topic).payload(&payload))
            .map_err(|(e, _)| e.to_string())?;
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(Duration::from_secs(60))
        .map_err(|e| e.to_string())
}

const BACKLOG_VALUE: usize = 1024;

/// backlog: drain a large backlog in a child process, report its peak RSS.
pub async fn backlog(ctx: &Ctx) -> Scenario {
    let n = ctx.args.backlog_messages;
    // The mock cluster keeps about 5 MB per partition: spread the backlog
    // over enough partitions (4 MB each) to keep all of it.
    let partitions = if ctx.broker.is_embedded() {
        let bytes = n * (BACKLOG_VALUE as u64 + 64);
        (bytes.div_ceil(4 << 20) as i32).max(PARTITIONS)
    } else {
        PARTITIONS
    };
    let mut s = Scenario::new(
        "backlog",
        &format!("drain {n} x 1 KiB records ({partitions} partitions) with a fresh group; the consumer runs in a child process (`kafka-bench __backlog-consumer`) whose VmHWM is its peak RSS"),
    );
    let result = backlog_runs(ctx, &mut s, n, partitions).await;
    finish(s, result)
}

async fn backlog_runs(ctx: &Ctx, s: &mut Scenario, n: u64, partitions: i32) -> Result<(), String> {
    let topic = ctx.unique("backlog");
    fill(
        ctx,
        &topic,
        partitions,
        n,
        BACKLOG_VALUE,
        Layout::RoundRobin,
    )
    .await?;
    ctx.done_step();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    for round in 1..=ctx.args.backlog_rounds {
        for side in ["ours", "raw"] {
            ctx.step(format!("backlog round {round}: {side} (child process)"));
            let output = tokio::process::Command::new(&exe)
                .args([
                    "__backlog-consumer",
                    "--side",
                    side,
                    "--bootstrap",
                    &ctx.broker.bootstrap(),
                    "--topic",
                    &topic,
                    "--group",
                    &ctx.unique("g"),
                    "--messages",
                    &n.to_string(),
                    "--timeout",
                    &ctx.args.run_timeout.to_string(),
                ])
                .output()
                .await
                .map_err(|e| format!("cannot run the backlog consumer: {e}"))?;
            if !output.status.success() {
                return Err(format!(
                    "backlog consumer ({side}) failed: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                ));
            }
            let stdout = String::from_utf8_lossy(&output.stdout);
            let line = stdout.lines().last().unwrap_or_default();
            let child: ChildResult = serde_json::from_str(line)
                .map_err(|e| format!("backlog consumer ({side}) answered {line:?}: {e}"))?;
            let mut run = Run::new(side, round, child.messages, child.seconds, BACKLOG_VALUE);
            run.peak_rss_kib = Some(child.peak_rss_kib);
            run.set_cpu(child.cpu_seconds);
            s.runs.push(run);
            ctx.done_step();
        }
    }
    s.summarise("ours", "raw");
    let peak = |side| s.side(side).and_then(|x| x.peak_rss_kib);
    if let (Some(ours), Some(raw)) = (peak("ours"), peak("raw")) {
        let times = ours as f64 / raw.max(1) as f64;
        s.targets.push(Target {
            name: "backlog peak RSS < 64 MiB and <= 1.5x raw's".into(),
            wanted: "< 64 MiB, <= 1.50x".into(),
            measured: format!(
                "{:.1} MiB, {times:.2}x ({:.1} MiB raw)",
                ours as f64 / 1024.0,
                raw as f64 / 1024.0
            ),
            met: ours < 64 * 1024 && times <= 1.5,
        });
    }
    Ok(())
}

/// What the backlog child prints (one JSON line).
#[derive(serde::Serialize, serde::Deserialize)]
struct ChildResult {
    messages: u64,
    seconds: f64,
    peak_rss_kib: u64,
    cpu_seconds: Option<f64>,
}

/// The backlog consumer's side, in the child process.
pub async fn backlog_child(
    side: &str,
    bootstrap: &str,
    topic: &str,
    group: &str,
    messages: u64,
    timeout: u64,
) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let yaml = consumer_yaml(handlers::NOOP, bootstrap, topic, group, FETCH_WAIT);
    let span = match side {
        "ours" => consume::ours(yaml, handlers::NOOP, messages, deadline, None).await?,
        "raw" => {
            let props = consumer_properties(&yaml, handlers::NOOP)?;
            raw_consume(props, topic, messages, deadline, RawWork::Noop, None).await?
        }
        other => return Err(format!("unknown side {other:?} (ours, raw)")),
    };
    let result = ChildResult {
        messages: span.messages,
        seconds: secs(span),
        peak_rss_kib: probe::peak_rss_kib().ok_or("cannot read VmHWM from /proc/self/status")?,
        cpu_seconds: probe::cpu_seconds(),
    };
    serde_json::to_string(&result).map_err(|e| e.to_string())
}

/// One side of produce-async alone on an existing `topic` (hidden
/// `__produce-async`, for profiling): the same YAML and properties as the
/// scenario's runs.
pub async fn produce_async_child(
    side: &str,
    bootstrap: &str,
    topic: &str,
    n: u64,
) -> Result<String, String> {
    let yaml = producer_yaml(produce::PRODUCER, bootstrap, topic, "&async=1");
    let elapsed = match side {
        "ours" => produce::ours_async(&yaml, n, VALUE).await?,
        "raw" => {
            let props = producer_properties(&yaml, produce::PRODUCER)?;
            let t = topic.to_owned();
            tokio::task::spawn_blocking(move || produce::raw_async(&props, &t, n, VALUE))
                .await
                .map_err(|e| e.to_string())??
        }
        other => return Err(format!("--side {other}: use ours or raw")),
    };
    Ok(format!(
        "{side}: {n} records in {:.3} s",
        elapsed.as_secs_f64()
    ))
}
