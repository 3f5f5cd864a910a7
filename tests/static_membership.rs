//! Static membership (`groupInstanceId`) on Apache Kafka, measured from the
//! rebalance hooks of `serve()`: a member stopped and started again within
//! its session timeout gets the same partitions back, and the other member
//! of the group is neither revoked nor assigned anything meanwhile, with
//! the eager `range` strategy (where any rebalance revokes every member's
//! partitions, so the hooks see every rebalance) and with `sticky`. The same
//! restart with dynamic members (no `groupInstanceId`) and `range` makes the
//! other member's hooks show the rebalances: the measurement tells the two
//! apart. (With cooperative `sticky`, a dynamic restart rebalances too, but
//! a member whose partitions stay is told nothing, so that pair would not.)
//!
//! Needs Apache Kafka's group coordinator (the embedded mock cluster does
//! not implement static membership): feature `kafka-broker-tests`, run in
//! the Apache Kafka phase of `scripts/test.sh`.

mod consumer_support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use consumer_support::*;
use kafka_runtime::{kafka_consumer, Context, HandlerError, Message};

const SERVICE: &str = "static.member";
const PARTITIONS: i32 = 4;

/// (topic, member id, partition) of every handled record.
static HANDLED: Mutex<Vec<(String, String, i32)>> = Mutex::new(Vec::new());

#[kafka_consumer(service = "static.member")]
async fn handle(ctx: Context, msg: Message) -> Result<(), HandlerError> {
    let member = ctx
        .raw()
        .member_id
        .as_deref()
        .unwrap_or_default()
        .to_owned();
    HANDLED
        .lock()
        .unwrap()
        .push((msg.topic.to_string(), member, msg.partition));
    Ok(())
}

/// What one member's hooks saw: ("assigned" | "revoked", partition).
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<(&'static str, i32)>>>);

impl Events {
    fn all(&self) -> Vec<(&'static str, i32)> {
        self.0.lock().unwrap().clone()
    }

    /// The partitions held now: assigned minus revoked, in order.
    fn held(&self) -> BTreeSet<i32> {
        let mut held = BTreeSet::new();
        for (kind, p) in self.all() {
            match kind {
                "assigned" => held.insert(p),
                _ => held.remove(&p),
            };
        }
        held
    }
}

struct Member {
    events: Events,
    running: Running,
}

/// A `serve()` of the service, with hooks, as member `instance` (static
/// when given).
fn member(
    broker: &str,
    topic: &str,
    group: &str,
    strategy: &str,
    instance: Option<&str>,
) -> Member {
    let mut service = Service::new(SERVICE, topic)
        .group(group)
        .key("strategy", strategy)
        .key("groupSessionTimeout", 30_000);
    if let Some(instance) = instance {
        service = service.key("groupInstanceId", instance);
    }
    let config = config(broker, &[service]);
    let events = Events::default();
    let (assigned, revoked) = (events.clone(), events.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serve = kafka_runtime::serve()
        .config(config)
        .shutdown_timeout(Duration::from_secs(10))
        .on_partitions_assigned(move |ev| {
            let mut seen = assigned.0.lock().unwrap();
            seen.extend(ev.partitions.iter().map(|(_, p)| ("assigned", *p)));
        })
        .on_partitions_revoked(move |ev| {
            let mut seen = revoked.0.lock().unwrap();
            seen.extend(ev.partitions.iter().map(|(_, p)| ("revoked", *p)));
        })
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        });
    Member {
        events,
        running: Running::from_parts(stop, tokio::spawn(async move { serve.await })),
    }
}

/// Records to every partition until each was handled again after `from`
/// (an index into HANDLED): both members are working.
async fn until_every_partition_handled(
    producer: &kafka_runtime::rdkafka::producer::FutureProducer,
    topic: &str,
    from: usize,
) {
    for p in 0..PARTITIONS {
        produce(producer, topic, Some(p), "k", "v").await;
    }
    eventually("a record of every partition handled", || {
        let handled = HANDLED.lock().unwrap();
        let partitions: BTreeSet<i32> = handled[from..]
            .iter()
            .filter(|(t, ..)| t == topic)
            .map(|(_, _, p)| *p)
            .collect();
        partitions.len() == PARTITIONS as usize
    })
    .await;
}

/// Two members; the first is stopped and started again. Returns what the
/// other member's hooks saw from the stop on, and the partitions of the
/// first member before and after.
async fn restart_one(
    strategy: &str,
    instances: [Option<&str>; 2],
) -> (Vec<(&'static str, i32)>, BTreeSet<i32>, BTreeSet<i32>) {
    let broker = TestBroker::start().await.unwrap();
    assert_eq!(
        broker.kind(),
        "external",
        "this test needs Apache Kafka: run it through scripts/test.sh (Apache Kafka phase)"
    );
    let topic = unique_name("static");
    broker.create_topic(&topic, PARTITIONS).await.unwrap();
    let group = unique_name("static-group");
    let bootstrap = broker.bootstrap();
    let producer = producer(&bootstrap);

    let a = member(&bootstrap, &topic, &group, strategy, instances[0]);
    eventually("the first member to hold every partition", || {
        a.events.held().len() == PARTITIONS as usize
    })
    .await;
    let b = member(&bootstrap, &topic, &group, strategy, instances[1]);
    eventually("the partitions to be shared by both members", || {
        let (x, y) = (a.events.held(), b.events.held());
        !x.is_empty()
            && !y.is_empty()
            && x.len() + y.len() == PARTITIONS as usize
            && x.is_disjoint(&y)
    })
    .await;
    let from = HANDLED.lock().unwrap().len();
    until_every_partition_handled(&producer, &topic, from).await;

    let before = a.events.held();
    let b_seen = b.events.all().len();
    a.running.stop().await.expect("a clean stop");
    let again = member(&bootstrap, &topic, &group, strategy, instances[0]);
    eventually("the restarted member to be assigned partitions", || {
        !again.events.held().is_empty()
    })
    .await;
    // Both at work: any rebalance the restart caused has happened by the
    // time every partition's new record was handled by its owner.
    let from = HANDLED.lock().unwrap().len();
    until_every_partition_handled(&producer, &topic, from).await;
    eventually("the partitions to be shared by both members again", || {
        let (x, y) = (again.events.held(), b.events.held());
        x.len() + y.len() == PARTITIONS as usize && x.is_disjoint(&y)
    })
    .await;
    let after = again.events.held();
    let b_events = b.events.all()[b_seen..].to_vec();
    again.running.stop().await.expect("a clean stop");
    b.running.stop().await.expect("a clean stop");
    (b_events, before, after)
}

async fn static_restart(strategy: &str) {
    init_logs();
    let instances = [Some("static-a"), Some("static-b")];
    let (others, before, after) = restart_one(strategy, instances).await;
    assert_eq!(
        after, before,
        "the restarted static member got other partitions"
    );
    assert!(
        others.is_empty(),
        "the other member saw a rebalance during the restart: {others:?}"
    );
    eprintln!(
        "static membership, strategy={strategy}: member static-a held {before:?}; restarted within its 30 s session it holds {after:?}; the other member's hooks saw {} events during the restart",
        others.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_static_member_restarted_within_its_session_keeps_its_partitions_with_range() {
    static_restart("range").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_static_member_restarted_within_its_session_keeps_its_partitions_with_sticky() {
    static_restart("sticky").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_group_instance_id_the_same_restart_rebalances_the_other_member() {
    init_logs();
    let (others, before, _after) = restart_one("range", [None, None]).await;
    assert!(
        others.iter().any(|(kind, _)| *kind == "revoked"),
        "a dynamic member's stop and restart rebalance the group (member a held {before:?}), which the other member's hooks must show: {others:?}"
    );
    eprintln!(
        "dynamic membership, strategy=range: the same restart showed the other member {} hook events: {others:?}",
        others.len()
    );
}
