//! Rebalance hooks and pause/resume from user code, on a real broker.

mod consumer_support;

use std::future::IntoFuture;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use consumer_support::*;
use kafka_runtime::{kafka_consumer, Context, HandlerError, PartitionsEvent, ServiceControl};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

static HOOKED: Seen = Seen::new();
static PAUSED: Seen = Seen::new();

#[kafka_consumer(service = "obs.hooks")]
async fn hooked(ctx: Context, payload: String) -> Result<(), HandlerError> {
    let raw = ctx.raw();
    HOOKED.push(&raw.topic, raw.partition, raw.offset, &payload);
    Ok(())
}

#[kafka_consumer(service = "obs.pause")]
async fn paused(ctx: Context, payload: String) -> Result<(), HandlerError> {
    let raw = ctx.raw();
    PAUSED.push(&raw.topic, raw.partition, raw.offset, &payload);
    Ok(())
}

type Events = Arc<Mutex<Vec<PartitionsEvent>>>;

/// `serve()` for `service` with recording hooks, plus its control handle.
struct Served {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), kafka_runtime::Error>>,
    control: ServiceControl,
    assigned: Events,
    revoked: Events,
}

fn serve(config: kafka_runtime::config::Config, service: &str) -> Served {
    let (tx, rx) = oneshot::channel::<()>();
    let (assigned, revoked): (Events, Events) = Default::default();
    let (a, r) = (assigned.clone(), revoked.clone());
    let serve = kafka_runtime::serve()
        .config(config)
        .only_services([service])
        .shutdown_timeout(Duration::from_secs(10))
        .on_partitions_assigned(move |ev| a.lock().unwrap().push(ev.clone()))
        .on_partitions_revoked(move |ev| r.lock().unwrap().push(ev.clone()))
        .with_graceful_shutdown(async {
            let _ = rx.await;
        });
    let control = serve.control();
    Served {
        stop: Some(tx),
        task: tokio::spawn(serve.into_future()),
        control,
        assigned,
        revoked,
    }
}

impl Served {
    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(WAIT, &mut self.task)
            .await
            .expect("serve() returns after shutdown")
            .expect("serve() does not panic")
            .expect("serve() ends without error");
    }

    fn partitions(events: &Events) -> Vec<(String, i32)> {
        let mut all: Vec<(String, i32)> = events
            .lock()
            .unwrap()
            .iter()
            .flat_map(|e| e.partitions.clone())
            .collect();
        all.sort();
        all
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rebalance_hooks_report_service_and_partitions() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("obs-hooks");
    broker.create_topic(&topic, 2).await.unwrap();
    let served = serve(
        config(&broker.bootstrap(), &[Service::new("obs.hooks", &topic)]),
        "obs.hooks",
    );
    let expected = vec![(topic.clone(), 0), (topic.clone(), 1)];
    let assigned = served.assigned.clone();
    eventually("the assigned hook reports both partitions", || {
        Served::partitions(&assigned) == expected
    })
    .await;
    assert!(served
        .assigned
        .lock()
        .unwrap()
        .iter()
        .all(|e| e.service == "obs.hooks"));
    assert!(served.revoked.lock().unwrap().is_empty());

    // Handling still works with hooks registered.
    let producer = producer(&broker.bootstrap());
    produce(&producer, &topic, Some(1), "k", "after assignment").await;
    eventually("the record is handled", || HOOKED.count(&topic) == 1).await;

    // Leaving the group on shutdown revokes everything, after handlers finished.
    let revoked = served.revoked.clone();
    served.stop().await;
    assert_eq!(Served::partitions(&revoked), expected);
    assert!(revoked
        .lock()
        .unwrap()
        .iter()
        .all(|e| e.service == "obs.hooks"));
}

/// How long a paused service is watched for handling nothing. Proving an
/// absence needs a window; it is several poll and fetch intervals long.
const QUIET: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pause_holds_messages_uncommitted_and_resume_handles_them() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("obs-pause");
    broker.create_topic(&topic, 2).await.unwrap();
    let service = Service::new("obs.pause", &topic);
    let group = service.group.clone();
    let bootstrap = broker.bootstrap();
    let served = serve(config(&bootstrap, &[service]), "obs.pause");
    let producer = producer(&bootstrap);

    // Unknown services are refused with the list of running ones.
    let assigned = served.assigned.clone();
    eventually("partitions assigned", || {
        Served::partitions(&assigned).len() == 2
    })
    .await;
    let err = served.control.pause("obs.nope").unwrap_err();
    assert_eq!(err.running, vec!["obs.pause".to_owned()]);
    assert!(err.to_string().contains("obs.nope"), "{err}");

    for i in 0..2 {
        produce(&producer, &topic, Some(i % 2), "k", &format!("m{i}")).await;
    }
    eventually("2 handled before pausing", || PAUSED.count(&topic) == 2).await;

    served.control.pause("obs.pause").unwrap();
    assert_eq!(served.control.is_paused("obs.pause"), Some(true));
    for i in 2..5 {
        produce(&producer, &topic, Some(i % 2), "k", &format!("m{i}")).await;
    }
    let handled_while_paused = kafka_rs::wait_until(QUIET, || PAUSED.count(&topic) > 2).await;
    assert!(!handled_while_paused, "a paused service handled a message");

    served.control.resume("obs.pause").unwrap();
    eventually("all 5 handled after resume", || PAUSED.count(&topic) == 5).await;

    // Paused again, messages arrive, and the service stops while paused:
    // nothing of them may be committed, so the next run handles them.
    served.control.pause("obs.pause").unwrap();
    for i in 5..8 {
        produce(&producer, &topic, Some(i % 2), "k", &format!("m{i}")).await;
    }
    let handled_while_paused = kafka_rs::wait_until(QUIET, || PAUSED.count(&topic) > 5).await;
    assert!(!handled_while_paused, "a paused service handled a message");
    served.stop().await;
    assert_eq!(PAUSED.count(&topic), 5);

    let restarted = serve(
        config(
            &bootstrap,
            &[Service::new("obs.pause", &topic).group(&group)],
        ),
        "obs.pause",
    );
    eventually("the held-back messages are handled by the next run", || {
        PAUSED.count(&topic) >= 8
    })
    .await;
    restarted.stop().await;
    let mut payloads = PAUSED.payloads(&topic);
    payloads.sort();
    let expected: Vec<String> = (0..8).map(|i| format!("m{i}")).collect();
    assert_eq!(payloads, expected, "each message handled exactly once");
}

static REBALANCED: Seen = Seen::new();

#[kafka_consumer(service = "obs.pause.rebalance")]
async fn rebalanced(ctx: Context, payload: String) -> Result<(), HandlerError> {
    let raw = ctx.raw();
    REBALANCED.push(&raw.topic, raw.partition, raw.offset, &payload);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_member_stays_paused_across_a_rebalance() {
    init_logs();
    let broker = TestBroker::start().await.unwrap();
    let topic = unique_name("obs-pause-rebalance");
    broker.create_topic(&topic, 2).await.unwrap();
    let bootstrap = broker.bootstrap();
    let name = "obs.pause.rebalance";
    let first_service = Service::new(name, &topic);
    let group = first_service.group.clone();
    let first = serve(config(&bootstrap, &[first_service]), name);
    let assigned = first.assigned.clone();
    eventually("the first member owns both partitions", || {
        Served::partitions(&assigned).len() == 2
    })
    .await;
    first.control.pause(name).unwrap();

    // A second, unpaused member joins: the partitions are split, and the
    // first member's new share must stay paused.
    let second = serve(
        config(&bootstrap, &[Service::new(name, &topic).group(&group)]),
        name,
    );
    let second_assigned = second.assigned.clone();
    // With the default `sticky` (cooperative) strategy only partitions that
    // move are revoked and assigned; the first member keeps the other one.
    let first_revoked = first.revoked.clone();
    let split = kafka_rs::wait_until(WAIT, || {
        Served::partitions(&second_assigned).len() == 1 && !first_revoked.lock().unwrap().is_empty()
    })
    .await;
    assert!(
        split,
        "first: assigned {:?} revoked {:?}; second: assigned {:?}",
        first.assigned.lock().unwrap(),
        first.revoked.lock().unwrap(),
        second.assigned.lock().unwrap(),
    );
    let second_share = Served::partitions(&second.assigned);
    let first_share: Vec<(String, i32)> = [(topic.clone(), 0), (topic.clone(), 1)]
        .into_iter()
        .filter(|p| !second_share.contains(p))
        .collect();
    assert_eq!(first_share.len(), 1);

    let producer = producer(&bootstrap);
    for p in 0..2 {
        produce(&producer, &topic, Some(p), "k", &format!("p{p}")).await;
    }
    let (second_partition, first_partition) = (second_share[0].1, first_share[0].1);
    eventually("the unpaused member handles its partition", || {
        REBALANCED.count(&topic) == 1
    })
    .await;
    assert_eq!(
        REBALANCED.with_partitions(&topic),
        vec![(second_partition, format!("p{second_partition}"))]
    );
    let handled_while_paused = kafka_rs::wait_until(QUIET, || REBALANCED.count(&topic) > 1).await;
    assert!(!handled_while_paused, "the paused member handled a message");

    first.control.resume(name).unwrap();
    eventually("the resumed member handles its partition", || {
        REBALANCED.count(&topic) == 2
    })
    .await;
    assert_eq!(
        REBALANCED.with_partitions(&topic)[1],
        (first_partition, format!("p{first_partition}"))
    );
    second.stop().await;
    first.stop().await;
}
