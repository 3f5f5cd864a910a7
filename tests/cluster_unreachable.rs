//! Brokers unreachable, on the three-node cluster: all three nodes down when
//! `serve()` and a producer start, then, once they run, all three down for
//! longer than every request timeout. In both cases the process reports
//! clear errors (a startup warning naming the service, producer errors
//! naming the topic and the deadline), and once the nodes are back it
//! recovers on its own: the same `serve()` and the same producer, never
//! restarted, deliver and handle everything acknowledged.
//!
//! Size: `CLUSTER_OUTAGE_S` (default 20) seconds for the second outage
//! (the producer's timeout is 5 s, the group session 6 s).

mod cluster_support;
mod reliability_support;

use std::future::IntoFuture;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use cluster_support::*;
use kafka_runtime::config::Config;
use kafka_runtime::producer::Headers;
use kafka_runtime::{kafka_consumer, Context, HandlerError};
use reliability_support::{
    assert_nothing_lost, assert_repeats_explained, high_watermarks, now_ms, poll, repeats, report,
    unique_name, CommitWatch, Exposure, Line,
};

const PARTITIONS: i32 = 4;
const SERVICE: &str = "cluster.unreachable";
const PRODUCER: &str = "cluster.unreachable.producer";
/// The producer's delivery timeout (`timeout:`), in ms.
const PRODUCER_TIMEOUT_MS: u64 = 5_000;
const COMMIT_INTERVAL: Duration = Duration::from_millis(500);
/// One commit interval plus the commit's round trip.
const WINDOW_MS: u64 = 1_500;

/// What the handler saw, as record file lines (run `serve`).
static HANDLED: Mutex<Vec<Line>> = Mutex::new(Vec::new());

#[kafka_consumer(service = "cluster.unreachable")]
async fn handle(ctx: Context, _payload: String) -> Result<(), HandlerError> {
    let raw = ctx.raw();
    HANDLED.lock().unwrap().push(Line {
        done: true,
        run: "serve".to_owned(),
        partition: raw.partition,
        offset: raw.offset,
        at_ms: now_ms(),
    });
    Ok(())
}

fn handled() -> Vec<Line> {
    HANDLED.lock().unwrap().clone()
}

fn handled_unique() -> usize {
    handled()
        .iter()
        .map(|l| (l.partition, l.offset))
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

/// Everything logged at INFO and above, captured for the whole binary.
fn logs() -> String {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    let logs = LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let _ = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || LogWriter(sink.clone()))
            .try_init();
        logs
    });
    String::from_utf8_lossy(&logs.lock().unwrap()).into_owned()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // Also to stderr, so a failing run shows what happened.
        let _ = std::io::stderr().write_all(buf);
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends `value-i` for `range`, one at a time; returns the acknowledged
/// (index, partition, offset) and the errors.
async fn send_each(
    producer: &kafka_runtime::RawProducer,
    topic: &str,
    range: std::ops::Range<usize>,
) -> (Vec<(usize, i32, i64)>, Vec<String>) {
    let (mut acked, mut failed) = (Vec::new(), Vec::new());
    for i in range {
        match producer
            .send_message(
                topic,
                format!("key-{i}"),
                format!("value-{i}"),
                Headers::new(),
            )
            .await
        {
            Ok(d) => acked.push((i, d.partition, d.offset)),
            Err(e) => failed.push(e.to_string()),
        }
    }
    (acked, failed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn brokers_unreachable_at_startup_or_for_long_give_clear_errors_then_recovery() {
    logs();
    let outage = Duration::from_secs(env_size("OUTAGE_S", 20) as u64);
    let cluster = Cluster::connect().await;
    cluster.heal().await;
    let bootstrap = cluster.bootstrap();
    let topic = unique_name("cluster-unreachable");
    cluster
        .broker
        .create_topic(&topic, PARTITIONS)
        .await
        .unwrap();
    cluster.wait_in_sync().await;
    let group = unique_name("cluster-unreachable-group");
    let yaml = format!(
        "server:\n  service:\n    - name: {SERVICE}\n      address: {bootstrap}?topics={topic}&group={group}&initial=oldest&groupSessionTimeout=6000\n      protocol: kafka\n\
         client:\n  service:\n    - name: {PRODUCER}\n      target: kafka://{bootstrap}?topic={topic}&requiredAcks=-1&idempotent=true\n      timeout: {PRODUCER_TIMEOUT_MS}\n"
    );
    let mut config = Config::from_yaml_str(&yaml).unwrap();
    config.consumers[0].config.commit_interval = COMMIT_INTERVAL;

    // 1. Every node down, then the process starts.
    cluster.script(&["kill-node", "1", "2", "3"]);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(
        kafka_runtime::serve()
            .config(config.clone())
            .only_services([SERVICE])
            .shutdown_timeout(Duration::from_secs(10))
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .into_future(),
    );
    let startup_warned = poll(Duration::from_secs(60), Duration::from_millis(100), || {
        logs().contains("kafka brokers not reachable at startup; the client keeps retrying")
    })
    .await;
    assert!(
        startup_warned,
        "serve() said nothing about unreachable brokers:\n{}",
        logs()
    );
    let warning = logs()
        .lines()
        .find(|l| l.contains("not reachable at startup"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        warning.contains(SERVICE) && warning.contains("no broker answered"),
        "{warning}"
    );
    let runtime = kafka_runtime::RuntimeHandle::start(Arc::new(config.clone()))
        .await
        .expect("the producer starts although no broker answers");
    let producer = runtime.producer(PRODUCER).unwrap();
    let started = Instant::now();
    let (acked, failed) = send_each(&producer, &topic, 0..1).await;
    let first_error_after = started.elapsed();
    assert!(acked.is_empty(), "no broker, yet acknowledged: {acked:?}");
    let startup_error = failed.first().cloned().expect("an error");
    assert!(
        startup_error.contains(&format!("topic `{topic}`"))
            && (startup_error.contains("no acknowledgement")
                || startup_error.contains("unreachable")),
        "{startup_error}"
    );
    assert!(
        first_error_after < Duration::from_millis(PRODUCER_TIMEOUT_MS) + Duration::from_secs(5),
        "the send failed only after {first_error_after:?}"
    );
    assert!(
        !serving.is_finished(),
        "serve() gave up instead of retrying"
    );

    let up_at = Instant::now();
    cluster.script(&["start-node", "1", "2", "3"]);
    cluster.wait_in_sync().await;
    let nodes_up_after = up_at.elapsed();
    // The same producer and serve(), never restarted.
    let (acked_1, failed_1) = send_each(&producer, &topic, 1..201).await;
    let recovered = poll(Duration::from_secs(120), Duration::from_millis(100), || {
        handled_unique() >= acked_1.len()
    })
    .await;
    assert!(
        recovered,
        "serve() handled nothing after the brokers came up"
    );
    assert!(!serving.is_finished());

    // 2. Running, then every node down for longer than the timeouts.
    let watch = CommitWatch::start(&bootstrap, &group, &topic, PARTITIONS, None);
    let (mut acked_2, mut failed_2) = send_each(&producer, &topic, 201..301).await;
    let killed_at = now_ms();
    cluster.script(&["kill-node", "1", "2", "3"]);
    let down = Instant::now();
    let mut next = 301;
    let mut outage_errors = Vec::new();
    while down.elapsed() < outage {
        let (a, f) = send_each(&producer, &topic, next..next + 1).await;
        acked_2.extend(a);
        outage_errors.extend(f);
        next += 1;
    }
    let restart_at = now_ms();
    cluster.script(&["start-node", "1", "2", "3"]);
    cluster.wait_in_sync().await;
    let (a, f) = send_each(&producer, &topic, next..next + 200).await;
    acked_2.extend(a);
    failed_2.extend(f);
    let high = high_watermarks(&bootstrap, &topic, PARTITIONS);
    let in_log = high.values().sum::<i64>() as usize;
    let all = poll(Duration::from_secs(180), Duration::from_millis(200), || {
        handled_unique() >= in_log
    })
    .await;
    assert!(
        all,
        "serve() handled every record in the log after the outage"
    );
    let all_committed = poll(Duration::from_secs(60), Duration::from_millis(200), || {
        reliability_support::committed(&bootstrap, &group, &topic, PARTITIONS) == high
    })
    .await;
    let samples = watch.stop().await;
    assert!(all_committed, "commits resumed after the outage");
    assert!(
        !serving.is_finished(),
        "serve() kept running through both outages"
    );
    let _ = stop.send(());
    serving
        .await
        .expect("serve() does not panic")
        .expect("serve() ends cleanly");
    runtime.shutdown(Duration::from_secs(10)).await.unwrap();

    assert!(
        failed_1.is_empty() && failed_2.is_empty(),
        "sends failed while the brokers were up: {failed_1:?} {failed_2:?}"
    );
    assert!(!outage_errors.is_empty(), "the outage produced no error");
    for e in &outage_errors {
        assert!(
            e.contains(&format!("topic `{topic}`"))
                && (e.contains("no acknowledgement") || e.contains("unreachable")),
            "{e}"
        );
    }
    // Everything acknowledged is in the log, where it was acknowledged; the
    // sends that failed are not (they never left the client).
    let log = read_log(&bootstrap, &topic, PARTITIONS).await;
    let acknowledged: Vec<(usize, i32, i64)> =
        acked_1.iter().chain(acked_2.iter()).cloned().collect();
    let logged: std::collections::HashSet<&String> = log.values().collect();
    for (i, p, o) in &acknowledged {
        let value = format!("value-{i}");
        if *o < 0 {
            // Acknowledged without its offset (a retried idempotent batch
            // the broker had written): it must be in the log all the same.
            assert!(logged.contains(&value), "record {i}");
        } else {
            assert_eq!(log.get(&(*p, *o)), Some(&value), "record {i}");
        }
    }
    assert_eq!(
        log.len(),
        acknowledged.len(),
        "the log holds exactly the acknowledged records"
    );
    let lines = handled();
    let (handled_count, distinct, duplicates) = assert_nothing_lost(&high, &lines);
    let resumed = samples
        .advanced_after(restart_at)
        .unwrap_or_else(|| panic!("commits never advanced after the outage: {samples:?}"));
    let exposure = Exposure::around("outage", killed_at, resumed, WINDOW_MS);
    assert_repeats_explained(&repeats(&lines), std::slice::from_ref(&exposure));
    // The consumer's side of the outage: its warnings name the service and
    // say the brokers are down.
    let text = logs();
    let consumer_errors = text
        .lines()
        .filter(|l| {
            l.contains("consumer error")
                && l.contains(&format!("service=\"{SERVICE}\""))
                && (l.contains("AllBrokersDown") || l.contains("BrokerTransportFailure"))
        })
        .count();
    let producer_errors = text
        .lines()
        .filter(|l| l.contains("kafka producer error") && l.contains(PRODUCER))
        .count();
    assert!(
        consumer_errors > 0,
        "the consumer logged nothing about the brokers being down"
    );
    report(&format!(
        "brokers unreachable [Apache Kafka, 3 nodes]: (1) all nodes down at startup: serve() \
         warned `{}` and kept running, a send failed after {:.1} s with `{startup_error}`; \
         nodes up and in sync {:.1} s later, the same processes then delivered 200 and handled them; \
         (2) all nodes SIGKILLed for {:.0} s (producer timeout {PRODUCER_TIMEOUT_MS} ms, \
         session 6000 ms): {} sends failed with `{}`; {consumer_errors} consumer warnings \
         (`consumer error` AllBrokersDown / BrokerTransportFailure naming the service) and \
         {producer_errors} producer warnings in all; after recovery acknowledged {} in all, in the log {} (lost 0, the \
         failed sends not written), handled {handled_count} ({distinct} distinct), lost 0, \
         handled twice {duplicates} (all handled from {WINDOW_MS} ms before the outage until \
         commits resumed {} ms after the restart began); serve() and the producer never restarted",
        warning
            .split_once("WARN")
            .map(|(_, w)| w.trim())
            .unwrap_or(&warning),
        first_error_after.as_secs_f64(),
        nodes_up_after.as_secs_f64(),
        outage.as_secs_f64(),
        outage_errors.len(),
        outage_errors.first().cloned().unwrap_or_default(),
        acknowledged.len(),
        log.len(),
        resumed.saturating_sub(restart_at),
    ));
}
