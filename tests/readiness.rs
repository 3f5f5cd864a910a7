//! Readiness on Apache Kafka: `serve().readiness()` and its HTTP endpoint
//! (`GET /ready`) say not ready until every service's member joined its
//! group and every producer reached a broker, then ready, then not ready
//! once `serve()` stops; a member whose group refuses its assignment
//! protocol (a `range` group joined with `roundrobin`) is never ready and
//! says why, before `serve()` gives up with `Error::GroupProtocol`.
//!
//! Needs Apache Kafka's group coordinator (protocol refusals): feature
//! `kafka-broker-tests`, run in the Apache Kafka phase of `scripts/test.sh`.

mod consumer_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use consumer_support::*;
use kafka_runtime::config::Config;
use kafka_runtime::readiness::ComponentState;
use kafka_runtime::{kafka_consumer, kafka_producer, Error, HandlerError, Message, RawProducer};

#[kafka_consumer(service = "readiness.orders")]
async fn orders(_msg: Message) -> Result<(), HandlerError> {
    Ok(())
}

#[kafka_consumer(service = "readiness.refunds")]
async fn refunds(_msg: Message) -> Result<(), HandlerError> {
    Ok(())
}

/// A producer, so that readiness waits for one to reach a broker (built by
/// the runtime at startup; nothing here sends with it).
#[allow(dead_code)]
#[kafka_producer(service = "readiness.out")]
struct Out(RawProducer);

/// The consumer services (the given ones) plus the producer service.
fn with_producer(bootstrap: &str, services: &[Service], topic: &str) -> Config {
    let consumers = config(bootstrap, services);
    let yaml = format!("client:\n  service:\n    - name: readiness.out\n      target: kafka://{bootstrap}?topic={topic}\n");
    let producers = Config::from_yaml_str(&yaml).expect("producer config");
    let mut config = consumers;
    config.producers = producers.producers;
    config
}

async fn external() -> TestBroker {
    let broker = TestBroker::start().await.unwrap();
    assert_eq!(
        broker.kind(),
        "external",
        "this test needs Apache Kafka: run it through scripts/test.sh (Apache Kafka phase)"
    );
    broker
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ready_once_every_member_joined_and_the_producer_reached_a_broker() {
    init_logs();
    let broker = external().await;
    let bootstrap = broker.bootstrap();
    let (a, b) = (unique_name("ready-orders"), unique_name("ready-refunds"));
    broker.create_topic(&a, 2).await.unwrap();
    broker.create_topic(&b, 2).await.unwrap();
    let config = with_producer(
        &bootstrap,
        &[
            Service::new("readiness.orders", &a),
            Service::new("readiness.refunds", &b),
        ],
        &a,
    );
    let endpoint = kafka_rs::free_local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serve = kafka_runtime::serve()
        .config(config)
        .only_services(["readiness.orders", "readiness.refunds"])
        .readiness_endpoint(endpoint)
        .shutdown_timeout(Duration::from_secs(10))
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        });
    let readiness = serve.readiness();
    assert!(!readiness.is_ready(), "ready before serve() ran");
    let started = Instant::now();
    let running = Running::from_parts(stop, tokio::spawn(async move { serve.await }));

    // The endpoint answers from the start, 503 until ready.
    let mut first = None;
    eventually("the readiness endpoint to answer", || {
        first = kafka_rs::http_get(endpoint, "/ready").ok();
        first.is_some()
    })
    .await;
    let (status, body) = first.unwrap();
    if status == 200 {
        panic!("ready at once, before any member could join: {body}");
    }
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("not ready"), "{body}");

    tokio::time::timeout(WAIT, readiness.ready())
        .await
        .unwrap_or_else(|_| panic!("not ready within {WAIT:?}:\n{}", readiness.report()));
    let ready_after = started.elapsed();
    let report = readiness.report();
    assert!(report.ready);
    for service in ["readiness.orders", "readiness.refunds"] {
        assert_eq!(report.services[service], ComponentState::Ready, "{report}");
    }
    assert_eq!(report.producers.len(), 1, "{report}");
    assert!(
        report
            .producers
            .values()
            .all(|s| *s == ComponentState::Ready),
        "{report}"
    );
    let (status, body) = kafka_rs::http_get(endpoint, "/ready").unwrap();
    assert_eq!(
        (status, body.lines().next()),
        (200, Some("ready (serve() is running)")),
        "{body}"
    );
    assert!(body.contains("service readiness.orders: ready"), "{body}");
    let (status, _) = kafka_rs::http_get(endpoint, "/elsewhere").unwrap();
    assert_eq!(status, 404);

    running.stop().await.expect("a clean stop");
    assert!(!readiness.is_ready(), "still ready after serve() returned");
    assert!(
        readiness
            .report()
            .to_string()
            .starts_with("not ready (serve() is stopping"),
        "{}",
        readiness.report()
    );
    eprintln!(
        "readiness: two services and a producer on Apache Kafka: not ready (503) at start, ready (200) after {:.1} s, not ready after stop",
        ready_after.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_its_group_refuses_is_not_ready_and_says_why_before_serve_fails() {
    init_logs();
    let broker = external().await;
    let bootstrap = broker.bootstrap();
    let topic = unique_name("ready-conflict");
    broker.create_topic(&topic, 2).await.unwrap();
    let group = unique_name("ready-conflict-group");
    let member = |strategy: &str| {
        with_producer(
            &bootstrap,
            &[Service::new("readiness.orders", &topic)
                .group(&group)
                .key("strategy", strategy)],
            &topic,
        )
    };

    // A `range` member holds the group.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serve = kafka_runtime::serve()
        .config(member("range"))
        .only_services(["readiness.orders"])
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        });
    let holder = serve.readiness();
    let holding = Running::from_parts(stop, tokio::spawn(async move { serve.await }));
    tokio::time::timeout(WAIT, holder.ready())
        .await
        .unwrap_or_else(|_| panic!("the range member is not ready:\n{}", holder.report()));

    // A `roundrobin` member of the same group is refused.
    let serve = kafka_runtime::serve()
        .config(member("roundrobin"))
        .only_services(["readiness.orders"]);
    let refused = serve.readiness();
    let started = Instant::now();
    let failing = tokio::spawn(async move { serve.await });
    let ever_ready = Arc::new(AtomicBool::new(false));
    let watch = {
        let (refused, ever_ready) = (refused.clone(), ever_ready.clone());
        tokio::spawn(async move {
            refused.ready().await;
            ever_ready.store(true, Ordering::SeqCst);
        })
    };
    let says_why = |report: &kafka_runtime::readiness::ReadinessReport| {
        matches!(
            &report.services["readiness.orders"],
            ComponentState::Failing(why) if why.contains(&group) && why.contains("refuses")
        )
    };
    let mut seen = None;
    eventually("the refused member to say why it is not ready", || {
        let report = refused.report();
        let found = report.services.contains_key("readiness.orders") && says_why(&report);
        if found {
            seen = Some(report);
        }
        found
    })
    .await;
    let said_why_after = started.elapsed();
    assert!(
        !failing.is_finished(),
        "serve() returned before the handle said not ready"
    );
    assert!(!refused.is_ready());
    let outcome = tokio::time::timeout(Duration::from_secs(90), failing)
        .await
        .expect("serve() gives up after the session timeout")
        .expect("serve() does not panic");
    let failed_after = started.elapsed();
    assert!(
        matches!(outcome, Err(Error::GroupProtocol(_))),
        "expected Error::GroupProtocol, got {outcome:?}"
    );
    watch.abort();
    assert!(
        !ever_ready.load(Ordering::SeqCst),
        "the refused member was ready at some point"
    );
    assert!(
        holder.is_ready(),
        "the range member stays ready:\n{}",
        holder.report()
    );
    holding.stop().await.expect("a clean stop");
    eprintln!(
        "readiness: a roundrobin member in a range group was not ready from the start, said why after {:.1} s ({}), and serve() returned Error::GroupProtocol after {:.1} s",
        said_why_after.as_secs_f64(),
        seen.map(|r| r.services["readiness.orders"].to_string()).unwrap_or_default(),
        failed_after.as_secs_f64()
    );
}
