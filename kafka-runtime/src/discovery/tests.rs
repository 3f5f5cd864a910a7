//! The registry, the built-in resolvers and every discovery error, on real
//! name resolution and real environment variables (names unique per test).

use super::*;
use crate::config::{parse_consumer_address, parse_producer_target};

fn consumer_with(discover: &str, service: &str) -> crate::config::ConsumerConfig {
    parse_consumer_address(
        "svc",
        &format!("{service}?topics=t&group=g&discover={discover}&namespace=Test"),
    )
    .unwrap()
}

#[test]
fn builtins_are_registered() {
    let names = registered_resolvers();
    assert!(names.contains(&"dns".to_owned()), "{names:?}");
    assert!(names.contains(&"env".to_owned()), "{names:?}");
}

#[test]
fn dns_resolves_localhost_with_the_port() {
    let brokers = DnsResolver.resolve("localhost:9092", "any").unwrap();
    assert!(!brokers.is_empty());
    assert!(brokers.iter().all(|b| b.ends_with(":9092")), "{brokers:?}");
    assert!(
        brokers
            .iter()
            .any(|b| b == "127.0.0.1:9092" || b == "[::1]:9092"),
        "{brokers:?}"
    );
    let mut cfg = consumer_with("dns", "localhost:9092");
    cfg.common.resolve_discovery("svc").unwrap();
    assert_eq!(cfg.common.discover, None);
    assert!(cfg
        .librdkafka_properties()
        .get("bootstrap.servers")
        .is_some_and(|b| b.contains(":9092") && !b.contains("localhost")));
}

#[test]
fn dns_errors_say_what_is_wrong() {
    let err = consumer_with("dns", "kafka-service")
        .common
        .resolve_discovery("svc")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "service `svc`: `discover=dns`: resolver `dns` could not resolve `kafka-service` in namespace `Test`: \
         the `dns` resolver needs the service as `host:port` (e.g. `kafka.internal:9092`)"
    );
    let err = consumer_with("dns", "no-such-host.invalid:9092")
        .common
        .resolve_discovery("svc")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("service `svc`: `discover=dns`: resolver `dns` could not resolve `no-such-host.invalid:9092` in namespace `Test`: DNS lookup of `no-such-host.invalid` failed"),
        "{err}"
    );
}

#[test]
fn env_reads_the_namespaced_variable() {
    assert_eq!(
        EnvResolver::variable("trpc.kafka.orders", "Production"),
        "KAFKA_RS_DISCOVERY_PRODUCTION_TRPC_KAFKA_ORDERS"
    );
    let service = format!("env.ok.{}", std::process::id());
    // SAFETY (edition 2024 makes `set_var` unsafe): the variable's name is
    // unique to this test (process id), and no other code of this test
    // binary writes the environment while tests run.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var(
            EnvResolver::variable(&service, "Test"),
            "127.0.0.1:9092, 127.0.0.2:9093",
        )
    };
    let producer = parse_producer_target(
        "p",
        &format!("kafka://{service}?topic=t&discover=env&namespace=Test"),
    )
    .unwrap();
    let mut common = producer.common.clone();
    common.resolve_discovery("p").unwrap();
    assert_eq!(common.brokers, ["127.0.0.1:9092", "127.0.0.2:9093"]);
    // Resolved configs hold brokers only: resolving again changes nothing.
    common.resolve_discovery("p").unwrap();
    assert_eq!(common.brokers, ["127.0.0.1:9092", "127.0.0.2:9093"]);
}

#[test]
fn unset_or_empty_env_variables_are_errors() {
    let service = format!("env.missing.{}", std::process::id());
    let err = consumer_with("env", &service)
        .common
        .resolve_discovery("svc")
        .unwrap_err()
        .to_string();
    let variable = EnvResolver::variable(&service, "Test");
    assert_eq!(
        err,
        format!("service `svc`: `discover=env`: resolver `env` could not resolve `{service}` in namespace `Test`: environment variable `{variable}` is not set")
    );
    let service = format!("env.empty.{}", std::process::id());
    // SAFETY (edition 2024 makes `set_var` unsafe): the variable's name is
    // unique to this test (process id), and no other code of this test
    // binary writes the environment while tests run.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var(EnvResolver::variable(&service, "Test"), " , ")
    };
    let err = consumer_with("env", &service)
        .common
        .resolve_discovery("svc")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!("service `svc`: `discover=env`: resolver `env` found no brokers for `{service}` in namespace `Test`")
    );
}

#[test]
fn unknown_resolver_lists_the_registered_ones() {
    let err = consumer_with("polaris-unregistered", "my.kafka")
        .common
        .resolve_discovery("svc")
        .unwrap_err();
    assert_eq!(err.key.as_deref(), Some("discover"));
    assert_eq!(err.value.as_deref(), Some("polaris-unregistered"));
    let text = err.to_string();
    assert!(
        text.starts_with("service `svc`: `discover=polaris-unregistered`: no discovery resolver named `polaris-unregistered` is registered; registered resolvers: "),
        "{text}"
    );
    assert!(text.contains("dns") && text.contains("env"), "{text}");
}

#[test]
fn registered_resolvers_are_used_and_their_results_checked() {
    register_resolver(
        "unit-test-registry",
        |service: &str, namespace: &str| match (service, namespace) {
            ("orders", "Test") => Ok(vec!["10.0.0.1:9092".to_owned(), "10.0.0.2:9092".to_owned()]),
            ("empty", _) => Ok(Vec::new()),
            ("bad", _) => Ok(vec!["10.0.0.1".to_owned()]),
            _ => Err(DiscoveryError::new("registry unavailable")),
        },
    );
    let mut ok = consumer_with("unit-test-registry", "orders");
    ok.common.resolve_discovery("svc").unwrap();
    assert_eq!(ok.common.brokers, ["10.0.0.1:9092", "10.0.0.2:9092"]);

    let err = |service: &str| {
        consumer_with("unit-test-registry", service)
            .common
            .resolve_discovery("svc")
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err("empty"),
        "service `svc`: `discover=unit-test-registry`: resolver `unit-test-registry` found no brokers for `empty` in namespace `Test`"
    );
    assert!(
        err("bad").starts_with("service `svc`: `discover=unit-test-registry`: resolver `unit-test-registry` returned a bad broker for `bad` in namespace `Test`: broker `10.0.0.1`: missing `:port`"),
        "{}",
        err("bad")
    );
    assert_eq!(
        err("down"),
        "service `svc`: `discover=unit-test-registry`: resolver `unit-test-registry` could not resolve `down` in namespace `Test`: registry unavailable"
    );
}

#[test]
fn a_whole_config_is_resolved() {
    register_resolver("unit-test-config", |service: &str, _: &str| {
        Ok(vec![format!("{service}.example:9092")])
    });
    let yaml = "server:\n  service:\n    - name: c\n      address: a?topics=t&group=g&discover=unit-test-config&namespace=N\n      protocol: kafka\n\
                client:\n  service:\n    - name: p\n      target: kafka://b?topic=t&discover=unit-test-config&namespace=N\n    - name: q\n      target: kafka://127.0.0.1:9092?topic=t\n";
    let config = Config::from_yaml_str(yaml).unwrap();
    assert!(config.needs_discovery());
    let config = config.resolve_discovery().unwrap();
    assert!(!config.needs_discovery());
    assert_eq!(
        config.consumers[0].config.common.brokers,
        ["a.example:9092"]
    );
    assert_eq!(
        config.producers[0].config.common.brokers,
        ["b.example:9092"]
    );
    assert_eq!(
        config.producers[1].config.common.brokers,
        ["127.0.0.1:9092"]
    );
}
