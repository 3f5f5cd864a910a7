//! The plugin's own examples and kafka-rs's examples of the same name, run
//! one after the other as one service's two implementations: the same
//! `trpc_go.yaml` (the plugin example's, with the broker address, topic and
//! group names made this run's), the same group, the same records. On Apache
//! Kafka 3.9.1, so that the plugin commits before kafka-rs takes over.
//!
//! The plugin's examples log each record with tRPC's logger (`%+v` of the
//! sarama message, the value as a byte list); kafka-rs's print it.

mod interop_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use interop_support::*;
use kafka_runtime::rdkafka::producer::{FutureProducer, FutureRecord};
use kafka_runtime::rdkafka::ClientConfig;

const RECORDS: usize = 5;

/// kafka-rs's example `name`, built by scripts/interop.sh.
fn kafka_rs_example(name: &str) -> PathBuf {
    let dir = std::env::var("KAFKA_RS_INTEROP_RS_EXAMPLES").unwrap_or_else(|_| {
        panic!("KAFKA_RS_INTEROP_RS_EXAMPLES is not set: run `bash scripts/interop.sh`")
    });
    let path = Path::new(&dir).join(name);
    assert!(
        path.is_file(),
        "kafka-rs's example {} was not built",
        path.display()
    );
    path
}

/// Values the plugin's example logged: `Value:[104 101 ...]` of each line.
fn plugin_values(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| {
            let rest = &l[l.find("Value:[")? + "Value:[".len()..];
            let list = &rest[..rest.find(']')?];
            let bytes: Vec<u8> = list
                .split_whitespace()
                .filter_map(|b| b.parse().ok())
                .collect();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        })
        .collect()
}

/// How often `value` appears in what an example logged.
fn times(side: Side, log: &str, value: &str) -> usize {
    match side {
        Side::Plugin => plugin_values(log).iter().filter(|v| *v == value).count(),
        Side::KafkaRs => log.lines().filter(|l| l.ends_with(value)).count(),
    }
}

struct Example {
    child: Child,
    log: PathBuf,
}

impl Example {
    fn start(side: Side, name: &str, dir: &Path, yaml: &Path) -> Example {
        let log = dir.join(format!("{}-{name}.log", side.name()));
        let out = std::fs::File::create(&log).unwrap();
        let mut command = match side {
            // tRPC-Go reads ./trpc_go.yaml.
            Side::Plugin => Command::new(plugin_example(name)),
            Side::KafkaRs => {
                let mut c = Command::new(kafka_rs_example(name));
                c.env("KAFKA_RS_EXAMPLE_CONFIG", yaml);
                c
            }
        };
        let child = command
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {} example {name}: {e}", side.name()));
        Example { child, log }
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let status = self.child.wait().unwrap();
        let text = self.text();
        assert!(
            status.success() || status.code().is_none(),
            "the example failed ({status}):\n{text}"
        );
        text
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs example `name` on `side` until it handled every record `services`
/// times; returns its log.
async fn run(
    side: Side,
    name: &str,
    dir: &Path,
    yaml: &Path,
    topic: &str,
    producer: &FutureProducer,
) -> String {
    let services = if name == "consumer_with_mulit_service" {
        2
    } else {
        1
    };
    let example = Example::start(side, name, dir, yaml);
    let send = |value: String| async move {
        producer
            .send(
                FutureRecord::to(topic).key("key").payload(&value),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    };
    // The examples start at the newest offset: warm up until they joined.
    let mut joined = false;
    for i in 0..3_000 {
        let warm = format!("warm-{}-{i}", side.name());
        send(warm.clone()).await;
        if poll(side, &example, &warm, services, Duration::from_millis(100)).await {
            joined = true;
            break;
        }
    }
    assert!(
        joined,
        "the {} example {name} never handled a record:\n{}",
        side.name(),
        example.text()
    );
    for i in 1..=RECORDS {
        send(format!("hello {i}")).await;
    }
    for i in 1..=RECORDS {
        let value = format!("hello {i}");
        assert!(
            poll(side, &example, &value, services, Duration::from_secs(30)).await,
            "the {} example {name} did not handle {value:?} {services} time(s):\n{}",
            side.name(),
            example.text()
        );
    }
    example.stop()
}

async fn poll(
    side: Side,
    example: &Example,
    value: &str,
    services: usize,
    timeout: Duration,
) -> bool {
    kafka_rs::poll_every(timeout, Duration::from_millis(50), || {
        times(side, &example.text(), value) >= services
    })
    .await
}

async fn same_example(name: &str) {
    let kafka = Kafka::V3;
    let bootstrap = kafka.bootstrap();
    let dir = scratch(&format!("example-{name}"));
    let original = std::fs::read_to_string(plugin_example(name).with_extension("yaml"))
        .expect("the plugin example's trpc_go.yaml, copied by scripts/interop.sh");
    let topic = unique_name("example-topic");
    let yaml_text = original
        .replace("127.0.0.1:9092", &bootstrap)
        .replace("test_topic", &topic)
        .replace("uzuki_consumer", &unique_name("example-group"));
    assert_ne!(yaml_text, original);
    let yaml = dir.join("trpc_go.yaml");
    std::fs::write(&yaml, &yaml_text).unwrap();
    create_topic(&bootstrap, &topic, 2).await;
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("linger.ms", "0")
        .create()
        .unwrap();
    run(Side::Plugin, name, &dir, &yaml, &topic, &producer).await;
    run(Side::KafkaRs, name, &dir, &yaml, &topic, &producer).await;
    let services = if name == "consumer_with_mulit_service" {
        2
    } else {
        1
    };
    report(&format!(
        "examples `{name}`: the plugin's and kafka-rs's, one after the other on the plugin example's trpc_go.yaml (address, topic and group substituted), Kafka {}: each handled the same {RECORDS} records x {services} service(s)",
        kafka.version()
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer() {
    same_example("consumer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_with_mulit_service() {
    same_example("consumer_with_mulit_service").await;
}
