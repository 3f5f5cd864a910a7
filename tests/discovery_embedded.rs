//! Discovery end to end: a resolver registered by the test, and the
//! built-in `dns` and `env` resolvers, turn the service name of an address
//! into the brokers of a real broker (the embedded one, or Apache Kafka when
//! `KAFKA_RS_TEST_BOOTSTRAP` is set); a consumer and a producer configured
//! from the resolved `trpc_go.yaml` then exchange a record. Every discovery
//! error is checked as a loaded configuration reports it.
//!
//! Clients are plain rdkafka clients built by the mapping layer.

mod secure_support;

use kafka_rs::{unique_name, TestBroker};
use kafka_runtime::config::Config;
use kafka_runtime::discovery::{register_resolver, DiscoveryError, EnvResolver};
use kafka_runtime::{kafka_consumer, Context, HandlerError};
use secure_support::{produce_and_consume_with, produce_one, serve_until, Seen};

static DISCOVERED: Seen = Seen::new();

#[kafka_consumer(service = "discovery.serve.consumer")]
async fn discovered_consumer(_ctx: Context, payload: String) -> Result<(), HandlerError> {
    DISCOVERED.push(payload);
    Ok(())
}

/// A `trpc_go.yaml` with one consumer and one producer whose addresses name
/// `service` through `discover`/`namespace`.
fn yaml(service: &str, discover: &str, namespace: &str, topic: &str) -> String {
    let group = unique_name("discovery-group");
    format!(
        "server:\n  service:\n    - name: trpc.app.server.consumer\n      protocol: kafka\n      \
         address: {service}?topics={topic}&group={group}&initial=oldest&discover={discover}&namespace={namespace}\n\
         client:\n  service:\n    - name: trpc.app.server.producer\n      \
         target: kafka://{service}?topic={topic}&discover={discover}&namespace={namespace}\n"
    )
}

/// Loads `yaml`, resolves discovery and exchanges a record on `topic`.
async fn resolve_and_exchange(broker: &TestBroker, yaml: &str, topic: &str) -> Config {
    broker.create_topic(topic, 1).await.unwrap();
    let config = Config::from_yaml_str(yaml).unwrap_or_else(|e| panic!("{e}"));
    assert!(config.needs_discovery());
    let config = config.resolve_discovery().unwrap_or_else(|e| panic!("{e}"));
    assert!(!config.needs_discovery());
    let consumer = &config.consumers[0].config;
    let producer = &config.producers[0].config;
    produce_and_consume_with(&producer.client_config(), &consumer.client_config(), topic).await;
    config
}

#[tokio::test]
async fn a_registered_resolver_supplies_the_brokers() {
    let broker = TestBroker::start().await.unwrap();
    let bootstrap = broker.bootstrap();
    let resolver = unique_name("test-registry");
    let brokers: Vec<String> = bootstrap.split(',').map(str::to_owned).collect();
    register_resolver(resolver.clone(), move |service: &str, namespace: &str| {
        if (service, namespace) == ("trpc.kafka.orders", "Test") {
            Ok(brokers.clone())
        } else {
            Err(DiscoveryError::new(format!(
                "no such service {service}/{namespace}"
            )))
        }
    });
    let topic = unique_name("discovered");
    let config = resolve_and_exchange(
        &broker,
        &yaml("trpc.kafka.orders", &resolver, "Test", &topic),
        &topic,
    )
    .await;
    assert_eq!(
        config.consumers[0].config.common.brokers.join(","),
        bootstrap
    );
    assert_eq!(
        config.producers[0].config.common.brokers.join(","),
        bootstrap
    );
}

#[tokio::test]
async fn the_dns_resolver_resolves_localhost() {
    let broker = TestBroker::start().await.unwrap();
    let bootstrap = broker.bootstrap();
    let port = bootstrap
        .split(',')
        .next()
        .and_then(|b| b.rsplit_once(':'))
        .map(|(_, port)| port.to_owned())
        .expect("a host:port bootstrap");
    let topic = unique_name("dns");
    let config = resolve_and_exchange(
        &broker,
        &yaml(&format!("localhost:{port}"), "dns", "Any", &topic),
        &topic,
    )
    .await;
    let brokers = &config.producers[0].config.common.brokers;
    assert!(
        brokers.iter().any(|b| b == &format!("127.0.0.1:{port}")),
        "{brokers:?}"
    );
}

#[tokio::test]
async fn the_env_resolver_reads_the_namespaced_variable() {
    let broker = TestBroker::start().await.unwrap();
    let service = unique_name("trpc.kafka.env");
    std::env::set_var(
        EnvResolver::variable(&service, "Production"),
        broker.bootstrap(),
    );
    let topic = unique_name("env");
    resolve_and_exchange(
        &broker,
        &yaml(&service, "env", "Production", &topic),
        &topic,
    )
    .await;
}

fn resolve_error(yaml: &str) -> String {
    Config::from_yaml_str(yaml)
        .and_then(Config::resolve_discovery)
        .expect_err("discovery must fail")
        .to_string()
}

#[test]
fn an_unknown_resolver_lists_the_registered_ones() {
    let err = resolve_error(&yaml("svc.a", "polaris", "Production", "t"));
    assert!(
        err.starts_with(
            "service `trpc.app.server.consumer`: `discover=polaris`: no discovery resolver named `polaris` is registered; registered resolvers: "
        ),
        "{err}"
    );
    assert!(err.contains("dns, env"), "{err}");
}

#[test]
fn a_missing_namespace_is_a_configuration_error() {
    let yaml =
        "server:\n  service:\n    - name: trpc.app.server.consumer\n      protocol: kafka\n      \
                address: svc.a?topics=t&group=g&discover=dns\n";
    let err = Config::from_yaml_str(yaml).unwrap_err().to_string();
    assert_eq!(
        err,
        "service `trpc.app.server.consumer`: `discover=dns`: `discover` requires `namespace` (e.g. `&namespace=Production`)"
    );
}

#[test]
fn an_empty_result_and_a_failing_resolver_are_startup_errors() {
    let resolver = unique_name("test-flaky-registry");
    register_resolver(resolver.clone(), |service: &str, _: &str| {
        if service == "svc.empty" {
            Ok(Vec::new())
        } else {
            Err(DiscoveryError::new("registry timed out"))
        }
    });
    let err = resolve_error(&yaml("svc.empty", &resolver, "Test", "t"));
    assert_eq!(
        err,
        format!("service `trpc.app.server.consumer`: `discover={resolver}`: resolver `{resolver}` found no brokers for `svc.empty` in namespace `Test`")
    );
    let err = resolve_error(&yaml("svc.down", &resolver, "Test", "t"));
    assert_eq!(
        err,
        format!("service `trpc.app.server.consumer`: `discover={resolver}`: resolver `{resolver}` could not resolve `svc.down` in namespace `Test`: registry timed out")
    );
}

/// `serve()` resolves `discover=` before its consumer connects.
#[tokio::test]
async fn serve_resolves_discovery_for_its_consumers() {
    let broker = TestBroker::start().await.unwrap();
    let bootstrap = broker.bootstrap();
    let resolver = unique_name("test-serve-registry");
    let brokers: Vec<String> = bootstrap.split(',').map(str::to_owned).collect();
    register_resolver(
        resolver.clone(),
        move |_: &str, _: &str| Ok(brokers.clone()),
    );
    let topic = unique_name("serve-discovered");
    broker.create_topic(&topic, 1).await.unwrap();
    let payload = unique_name("payload");
    produce_one(
        &format!("kafka://{bootstrap}?topic={topic}"),
        &topic,
        &payload,
    )
    .await;
    let group = unique_name("group");
    let yaml = format!(
        "server:\n  service:\n    - name: discovery.serve.consumer\n      protocol: kafka\n      \
         address: trpc.kafka.orders?topics={topic}&group={group}&initial=oldest&discover={resolver}&namespace=Test\n"
    );
    serve_until(yaml, "discovery.serve.consumer", || {
        DISCOVERED.contains(&payload)
    })
    .await;
}

/// `serve()` reports an unknown resolver at startup.
#[tokio::test]
async fn serve_reports_an_unknown_resolver() {
    let yaml =
        "server:\n  service:\n    - name: discovery.serve.consumer\n      protocol: kafka\n      \
                address: trpc.kafka.orders?topics=t&group=g&discover=nacos&namespace=Test\n";
    let err = kafka_runtime::serve()
        .config_yaml(yaml)
        .only_services(["discovery.serve.consumer"])
        .await
        .expect_err("no resolver named nacos");
    let text = err.to_string();
    assert!(
        text.starts_with("configuration error: service `discovery.serve.consumer`: `discover=nacos`: no discovery resolver named `nacos` is registered; registered resolvers: "),
        "{text}"
    );
}
