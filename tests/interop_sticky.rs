//! The default strategy on both sides (`sticky`) cannot make one group:
//! sarama's `sticky` is an eager assignor, kafka-rs's is librdkafka's
//! `cooperative-sticky` (librdkafka has no eager sticky), so the two share
//! no protocol. A kafka-rs member that joins a group of plugin members
//! fails clearly once the conflict outlasts the group session timeout
//! (members of a stopped service have left by then): `serve()` returns one
//! error naming the group, the protocols on both sides and the recipe. Its
//! readiness handle is never ready and names the refusal before that. The
//! plugin's members go on unaffected.

mod interop_support;

use std::time::{Duration, Instant};

use interop_support::*;
use kafka_runtime::rdkafka::producer::{FutureProducer, FutureRecord};
use kafka_runtime::rdkafka::ClientConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kafka_rs_member_in_a_group_of_sticky_plugin_members_fails_clearly() {
    let kafka = Kafka::V3;
    let bootstrap = kafka.bootstrap();
    let dir = scratch("sticky");
    let topic = unique_name("sticky");
    create_topic(&bootstrap, &topic, 4).await;
    let group = unique_name("sticky-g");
    // Both sides at their default strategy; a short session keeps the test short.
    let yaml = write_yaml(
        &dir,
        &[(
            "interop.sticky.consumer",
            format!("{bootstrap}?topics={topic}&group={group}&groupSessionTimeout=6000"),
        )],
        &[],
    );
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("linger.ms", "0")
        .create()
        .unwrap();
    let send = |i: usize| {
        let (producer, topic) = (producer.clone(), topic.clone());
        async move {
            producer
                .send(
                    FutureRecord::<(), _>::to(&topic).payload(&format!("s-{i}")),
                    Duration::from_secs(30),
                )
                .await
                .map_err(|(e, _)| e)
                .unwrap();
        }
    };

    let mut plugin = Member::start(Side::Plugin, "go", &yaml, Duration::ZERO);
    let mut i = 0;
    while plugin.handled().is_empty() {
        assert!(i < 3_000, "the plugin member did not join within 60 s");
        send(i).await;
        i += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let joined = Instant::now();
    let mut ours = Member::start(Side::KafkaRs, "rs", &yaml, Duration::ZERO);
    wait_for(
        "the kafka-rs member to give up",
        Duration::from_secs(60),
        || ours.exited().is_some(),
    )
    .await;
    let failed_after = joined.elapsed();
    let status = ours.exited().unwrap();
    assert!(
        !status.success(),
        "the kafka-rs member exited with {status}"
    );
    let error = ours
        .serve_error()
        .unwrap_or_else(|| panic!("serve() returned no error; log:\n{}", ours.log_text()));
    for needed in [
        group.as_str(),
        "`sticky`",
        "`cooperative-sticky`",
        "strategy=range",
        "stop",
        "MIGRATING.md",
    ] {
        assert!(
            error.contains(needed),
            "the error does not name {needed:?}: {error}"
        );
    }
    assert!(
        ours.handled().is_empty(),
        "the kafka-rs member handled records"
    );
    // Its readiness handle never said ready, and said why before serve()
    // returned the error.
    let readiness = ours.readiness();
    assert!(
        readiness.iter().all(|(ready, ..)| !ready),
        "the refused member was ready at some point: {readiness:?}"
    );
    let said_why = readiness
        .iter()
        .find(|(_, report, _)| report.contains(&group) && report.contains("refuses"))
        .unwrap_or_else(|| panic!("no readiness report named the refusal: {readiness:?}"));
    assert!(
        !said_why.2,
        "the refusal reached the readiness handle only after serve() failed: {readiness:?}"
    );

    // The plugin's member keeps its partitions and goes on handling.
    let before = plugin.handled().len();
    send(i).await;
    wait_for(
        "the plugin member to go on handling",
        Duration::from_secs(30),
        || plugin.handled().len() > before,
    )
    .await;
    plugin.stop();
    report(&format!(
        "default strategy (sticky) on both sides, Kafka {}: the kafka-rs member's serve() returned after {:.1} s (groupSessionTimeout=6000): {error}",
        kafka.version(),
        failed_after.as_secs_f64()
    ));
}
