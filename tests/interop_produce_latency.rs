//! A producer that awaits each send, side by side with the plugin's
//! synchronous `Produce`, on Apache Kafka 4.1.1 with one `trpc_go.yaml`
//! (the plugin's defaults, `flushFrequency=0`): kafka-rs takes at most 1.2x
//! the plugin's time per record. Rounds are interleaved (plugin, kafka-rs,
//! plugin, ...) and the medians compared; a round of kafka-rs with
//! `flushFrequency=5` (librdkafka's own linger, the old mapping of 0) shows
//! what the default used to cost.

mod interop_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use interop_support::*;
use kafka_runtime::config::Config;
use kafka_runtime::producer::Headers;
use kafka_runtime::RuntimeHandle;

const RECORDS: u64 = 1_000;
const ROUNDS: usize = 3;
const PRODUCER: &str = "interop.latency.producer";
const TARGET: f64 = 1.2;

/// The plugin's synchronous `Produce`, one call after the other; seconds per record.
fn plugin_round(yaml: &std::path::Path) -> f64 {
    let mut child = Command::new(plugin_peer())
        .arg("-conf")
        .arg(yaml)
        .args([
            "-mode",
            "bench-produce",
            "-service",
            PRODUCER,
            "-concurrency",
            "1",
            "-n",
        ])
        .arg(RECORDS.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("plugin-peer");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let figures = stdout
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
        .find(|v| v["event"] == "figures")
        .expect("the plugin's figures");
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert_eq!(figures["failed"], 0, "the plugin failed sends");
    figures["seconds"].as_f64().unwrap() / RECORDS as f64
}

/// kafka-rs's `produce`, awaited one after the other; seconds per record.
async fn kafka_rs_round(yaml: &std::path::Path, records: u64) -> f64 {
    let runtime = RuntimeHandle::start(Arc::new(Config::from_path(yaml).unwrap()))
        .await
        .unwrap();
    let producer = runtime.producer(PRODUCER).unwrap();
    let value = vec![b'x'; 100];
    // The first send connects and fetches metadata, as the plugin does
    // before its timed span.
    producer
        .produce(None::<&str>, &value, Headers::new())
        .await
        .unwrap();
    let started = Instant::now();
    for _ in 0..records {
        producer
            .produce(None::<&str>, &value, Headers::new())
            .await
            .unwrap();
    }
    let per_record = started.elapsed().as_secs_f64() / records as f64;
    runtime.shutdown(Duration::from_secs(10)).await.unwrap();
    per_record
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awaited_sends_keep_up_with_the_plugins_synchronous_produce() {
    let bootstrap = Kafka::V4.bootstrap();
    let dir = scratch("latency");
    let topic = unique_name("latency");
    create_topic(&bootstrap, &topic, 8).await;
    let target = format!("kafka://{bootstrap}?topic={topic}&clientid=latency");
    let yaml = write_yaml(&dir, &[], &[(PRODUCER, target.clone())]);
    let lingering = write_yaml(
        &dir,
        &[],
        &[(PRODUCER, format!("{target}&flushFrequency=5"))],
    );

    let (mut plugin, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let y = yaml.clone();
        plugin.push(
            tokio::task::spawn_blocking(move || plugin_round(&y))
                .await
                .unwrap(),
        );
        ours.push(kafka_rs_round(&yaml, RECORDS).await);
    }
    let old_default = kafka_rs_round(&lingering, RECORDS / 5).await;
    let (plugin, ours) = (median(plugin), median(ours));
    let ratio = ours / plugin;
    report(&format!(
        "awaited sequential sends, {RECORDS} x 100 B, medians of {ROUNDS} interleaved rounds: plugin Produce {:.3} ms/record, kafka-rs produce {:.3} ms/record: {ratio:.2}x (target <= {TARGET}x); kafka-rs with flushFrequency=5 (the old mapping of 0) {:.3} ms/record",
        plugin * 1e3,
        ours * 1e3,
        old_default * 1e3
    ));
    assert!(
        ratio <= TARGET,
        "kafka-rs takes {ratio:.2}x the plugin's time per awaited record"
    );
}
