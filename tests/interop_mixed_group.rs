//! One consumer group, plugin and kafka-rs members at once, for
//! `strategy=range` and `strategy=roundrobin` (set on both sides; on Apache
//! Kafka 3.9.1, where the plugin commits, and range on 4.1.1 too): an
//! 8-partition topic while records flow, members joining and leaving.
//! Every record is handled, and no partition is owned by two members at
//! once: on each partition, in handling order, the handling member changes
//! only together with a newer group generation, and only after the previous
//! member's handler returned.

mod interop_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use interop_support::*;
use kafka_runtime::rdkafka::producer::{FutureProducer, FutureRecord};
use kafka_runtime::rdkafka::ClientConfig;

const PARTITIONS: i32 = 8;
const RATE_PER_SEC: u64 = 200;
const HANDLER_DELAY: Duration = Duration::from_millis(2);
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

async fn started(member: &Member) {
    wait_for(
        &format!(
            "{} member {} to handle records",
            member.side.name(),
            member.name
        ),
        STEP_TIMEOUT,
        || !member.handled().is_empty(),
    )
    .await;
}

/// Checks the ownership rule on every partition; returns how many times a
/// partition changed hands.
fn check_ownership(events: &[(String, Handled)]) -> usize {
    let mut by_partition: BTreeMap<i32, Vec<&(String, Handled)>> = BTreeMap::new();
    for e in events {
        assert!(
            e.1.generation >= 0,
            "{} handled a record outside a generation",
            e.0
        );
        by_partition.entry(e.1.partition).or_default().push(e);
    }
    let mut moves = 0;
    for (partition, mut list) in by_partition {
        list.sort_by_key(|(_, h)| h.start_ns);
        for pair in list.windows(2) {
            let ((a, x), (b, y)) = (pair[0], pair[1]);
            assert!(
                y.generation >= x.generation,
                "partition {partition}: {b} handled offset {} in generation {} after {a} handled offset {} in generation {}",
                y.offset, y.generation, x.offset, x.generation
            );
            if a != b {
                moves += 1;
                assert!(
                    y.generation > x.generation,
                    "partition {partition}: {a} and {b} both handled it in generation {}",
                    x.generation
                );
                assert!(
                    x.end_ns <= y.start_ns,
                    "partition {partition}: {b} started offset {} while {a} was still handling offset {}",
                    y.offset, x.offset
                );
            }
        }
    }
    moves
}

async fn mixed_group(kafka: Kafka, strategy: &str) {
    let bootstrap = kafka.bootstrap();
    let dir = scratch(&format!("mixed-{strategy}"));
    let topic = unique_name(&format!("mixed-{strategy}"));
    create_topic(&bootstrap, &topic, PARTITIONS).await;
    let group = unique_name(&format!("mixed-{strategy}-g"));
    let yaml = write_yaml(
        &dir,
        &[(
            "interop.mixed.consumer",
            format!("{bootstrap}?topics={topic}&group={group}&strategy={strategy}&initial=oldest"),
        )],
        &[],
    );

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("linger.ms", "0")
        .create()
        .unwrap();
    // Records flow until every membership change is done.
    let flow = Arc::new(AtomicBool::new(true));
    let flowing = {
        let (topic, flow) = (topic.clone(), flow.clone());
        tokio::spawn(async move {
            let mut pace = tokio::time::interval(Duration::from_micros(1_000_000 / RATE_PER_SEC));
            let mut i = 0;
            while flow.load(Ordering::SeqCst) {
                pace.tick().await;
                let (key, value) = (format!("k{i}"), format!("r-{i}"));
                producer
                    .send(
                        FutureRecord::to(&topic).key(&key).payload(&value),
                        Duration::from_secs(30),
                    )
                    .await
                    .map_err(|(e, _)| e)
                    .unwrap();
                i += 1;
            }
            i
        })
    };

    let mut a = Member::start(Side::Plugin, "go-a", &yaml, HANDLER_DELAY);
    let mut b = Member::start(Side::KafkaRs, "rs-b", &yaml, HANDLER_DELAY);
    started(&a).await;
    started(&b).await;
    let c = Member::start(Side::Plugin, "go-c", &yaml, HANDLER_DELAY);
    started(&c).await;
    let d = Member::start(Side::KafkaRs, "rs-d", &yaml, HANDLER_DELAY);
    started(&d).await;
    a.stop();
    assert!(b.stop().success(), "{}", b.log_text());
    // The remaining two get the stopped members' partitions: both handle
    // records after the others left, while records still flow (the group
    // takes a rebalance to hand them over; stopping the flow first could
    // leave nothing new for one of them).
    let (c_before, d_before) = (c.handled().len(), d.handled().len());
    wait_for(
        "the remaining members to handle records after the others left",
        Duration::from_secs(90),
        || c.handled().len() > c_before && d.handled().len() > d_before,
    )
    .await;
    flow.store(false, Ordering::SeqCst);
    let records = flowing.await.unwrap();
    let mut members = vec![a, b, c, d];
    let all = |members: &[Member]| -> Vec<(String, Handled)> {
        members
            .iter()
            .flat_map(|m| m.handled().into_iter().map(|h| (m.name.clone(), h)))
            .collect()
    };
    let handled_values = |members: &[Member]| -> BTreeSet<Vec<u8>> {
        all(members)
            .into_iter()
            .filter_map(|(_, h)| h.value)
            .collect()
    };
    wait_for(
        "every record to be handled",
        Duration::from_secs(120),
        || handled_values(&members).len() >= records,
    )
    .await;
    for m in &mut members[2..] {
        m.stop();
    }

    let events = all(&members);
    let values = handled_values(&members);
    for i in 0..records {
        assert!(
            values.contains(format!("r-{i}").as_bytes()),
            "record r-{i} was never handled"
        );
    }
    let moves = check_ownership(&events);
    let generations: BTreeSet<i32> = events.iter().map(|(_, h)| h.generation).collect();
    let per_member: Vec<String> = members
        .iter()
        .map(|m| format!("{} ({}) {}", m.name, m.side.name(), m.handled().len()))
        .collect();
    report(&format!(
        "mixed group on Kafka {}, strategy={strategy}: {records}/{records} records handled while 4 members joined and 2 left ({} handlings: {} duplicates after rebalances), {} generations, partitions changed hands {moves} times, never two owners at once; handled per member: {}",
        kafka.version(),
        events.len(),
        events.len() - records,
        generations.len(),
        per_member.join(", ")
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn range_group_on_kafka_3() {
    mixed_group(Kafka::V3, "range").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn roundrobin_group_on_kafka_3() {
    mixed_group(Kafka::V3, "roundrobin").await;
}

/// On Kafka 4 the plugin's members commit nothing (see
/// interop_stop_and_swap.rs), so partitions they hand over restart at the
/// last kafka-rs commit or `initial`: many more duplicates, nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn range_group_on_kafka_4() {
    mixed_group(Kafka::V4, "range").await;
}
