//! Stop-and-swap migration, for every strategy (`sticky`, the default, left
//! unset; `range`; `roundrobin`): two plugin members of a group handle a
//! batch and stop; a second batch arrives while the group is empty; two
//! kafka-rs members start in the same group with the same `trpc_go.yaml`.
//!
//! On Apache Kafka 3.9.1 the plugin commits, and kafka-rs resumes exactly
//! at the plugin's committed offsets: every record of the second batch is
//! handled, none of the first. On 4.1.1 sarama 1.40.1 commits nothing (it
//! sends OffsetCommit v1, which Kafka 4 removed), so the group has no
//! offsets and kafka-rs starts where `initial` says: with the default
//! `newest` the second batch is skipped, exactly as the plugin itself skips
//! it when it restarts on 4.x. Both outcomes are asserted.

mod interop_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use interop_support::*;
use kafka_rs::poll_every;
use kafka_runtime::rdkafka::producer::{FutureProducer, FutureRecord};
use kafka_runtime::rdkafka::ClientConfig;

const PARTITIONS: i32 = 4;
const BATCH: usize = 400;
/// How long the plugin gets to commit (sarama commits every 3 s).
const COMMIT_WAIT: Duration = Duration::from_secs(10);

struct Topic {
    bootstrap: String,
    name: String,
    producer: FutureProducer,
}

impl Topic {
    async fn send(&self, value: &str) {
        self.producer
            .send(
                FutureRecord::<(), _>::to(&self.name).payload(value),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }

    async fn batch(&self, prefix: &str) {
        for i in 0..BATCH {
            self.send(&format!("{prefix}-{i}")).await;
        }
    }

    /// Sends warm-up records until every member handled one: with
    /// `initial=newest` only records produced after a member joined count.
    async fn warm_up(&self, members: &[Member], prefix: &str) {
        for i in 0.. {
            if members.iter().all(|m| !m.handled().is_empty()) {
                return;
            }
            assert!(i < 3_000, "members did not join within 60 s");
            self.send(&format!("{prefix}-{i}")).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn values(members: &[Member], prefix: &str) -> BTreeSet<String> {
    members
        .iter()
        .flat_map(|m| m.handled())
        .filter_map(|h| String::from_utf8(h.value?).ok())
        .filter(|v| v.starts_with(&format!("{prefix}-")))
        .collect()
}

async fn all_handled(members: &[Member], prefix: &str) {
    wait_for(
        &format!("every {prefix} record to be handled"),
        Duration::from_secs(60),
        || values(members, prefix).len() >= BATCH,
    )
    .await;
}

async fn swap(kafka: Kafka, strategy: Option<&str>) {
    let bootstrap = kafka.bootstrap();
    let label = strategy.unwrap_or("sticky (default)");
    let dir = scratch("swap");
    let topic = Topic {
        name: unique_name("swap"),
        producer: ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("linger.ms", "0")
            .create()
            .unwrap(),
        bootstrap: bootstrap.clone(),
    };
    create_topic(&bootstrap, &topic.name, PARTITIONS).await;
    let group = unique_name("swap-g");
    let strategy_key = strategy.map_or(String::new(), |s| format!("&strategy={s}"));
    let yaml = write_yaml(
        &dir,
        &[(
            "interop.swap.consumer",
            format!(
                "{bootstrap}?topics={}&group={group}{strategy_key}",
                topic.name
            ),
        )],
        &[],
    );

    // The plugin's service: two members handle the first batch.
    let mut plugin = vec![
        Member::start(Side::Plugin, "go-1", &yaml, Duration::ZERO),
        Member::start(Side::Plugin, "go-2", &yaml, Duration::ZERO),
    ];
    topic.warm_up(&plugin, "warm").await;
    topic.batch("b1").await;
    all_handled(&plugin, "b1").await;
    let end = end_offsets(&bootstrap, &topic.name, PARTITIONS);
    let committed_all = poll_every(COMMIT_WAIT, Duration::from_millis(200), || {
        committed(&bootstrap, &group, &topic.name, PARTITIONS) == end
    })
    .await;
    for m in &mut plugin {
        m.stop();
    }
    let at_swap = committed(&topic.bootstrap, &group, &topic.name, PARTITIONS);

    // The swap: a batch arrives while no member runs, then kafka-rs starts.
    topic.batch("b2").await;
    let mut ours = vec![
        Member::start(Side::KafkaRs, "rs-1", &yaml, Duration::ZERO),
        Member::start(Side::KafkaRs, "rs-2", &yaml, Duration::ZERO),
    ];
    match kafka {
        Kafka::V3 => {
            assert!(
                committed_all,
                "{label}: the plugin did not commit its offsets within {COMMIT_WAIT:?} on {}",
                kafka.version()
            );
            assert_eq!(at_swap, end, "{label}: the plugin's final commits");
            all_handled(&ours, "b2").await;
            let handled: Vec<Handled> = ours.iter().flat_map(|m| m.handled()).collect();
            let replayed = values(&ours, "b1").len() + values(&ours, "warm").len();
            assert_eq!(
                replayed, 0,
                "{label}: kafka-rs handled records the plugin had committed"
            );
            let mut first: BTreeMap<i32, i64> = BTreeMap::new();
            for h in &handled {
                let e = first.entry(h.partition).or_insert(h.offset);
                *e = (*e).min(h.offset);
            }
            for (p, offset) in &first {
                assert_eq!(
                    Some(offset),
                    at_swap.get(p),
                    "{label}: partition {p} resumed at"
                );
            }
            report(&format!(
                "stop-and-swap on Kafka {}, strategy {label}: the plugin committed {:?}; kafka-rs resumed at exactly those offsets, handled {}/{BATCH} records of the batch sent while the group was empty and 0 of the plugin's",
                kafka.version(), at_swap, values(&ours, "b2").len()
            ));
        }
        Kafka::V4 => {
            assert!(
                !committed_all,
                "{label}: sarama committed on Kafka {}",
                kafka.version()
            );
            assert!(
                at_swap.is_empty(),
                "{label}: offsets committed on Kafka 4: {at_swap:?}"
            );
            topic.warm_up(&ours, "warm2").await;
            topic.batch("b3").await;
            all_handled(&ours, "b3").await;
            let skipped = BATCH - values(&ours, "b2").len();
            assert_eq!(skipped, BATCH, "{label}: with no commits and initial=newest, the batch sent while the group was empty is skipped");
            report(&format!(
                "stop-and-swap on Kafka {}, strategy {label}: the plugin committed nothing in {COMMIT_WAIT:?} (sarama's OffsetCommit v1 is gone from Kafka 4); kafka-rs started at initial=newest: {skipped}/{BATCH} records sent while the group was empty skipped, every later record handled",
                kafka.version()
            ));
        }
    }
    for m in &mut ours {
        assert!(m.stop().success(), "{}", m.log_text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_3_sticky() {
    swap(Kafka::V3, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_3_range() {
    swap(Kafka::V3, Some("range")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_3_roundrobin() {
    swap(Kafka::V3, Some("roundrobin")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_4_sticky() {
    swap(Kafka::V4, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_4_range() {
    swap(Kafka::V4, Some("range")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_4_roundrobin() {
    swap(Kafka::V4, Some("roundrobin")).await;
}
