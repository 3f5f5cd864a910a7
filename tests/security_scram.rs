//! SASL on Apache Kafka's SASL_PLAINTEXT listener (`scripts/kafka.sh
//! start`): round trips with SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN, and
//! fast, explicit authentication errors for a wrong password, a wrong
//! mechanism and an unknown user.
//!
//! Clients: the framework's own consumer (`serve()` with a
//! `#[kafka_consumer]` handler) and producer (`RuntimeHandle`,
//! `send_message`), plain rdkafka clients built by the mapping layer
//! (`client_config()`) from real addresses, and the runtime's
//! `security::probe_authentication`.

mod secure_support;

use std::time::{Duration, Instant};

use kafka_rs::unique_name;
use kafka_runtime::config::{parse_consumer_address, parse_producer_target};
use kafka_runtime::security::{check_services, probe_authentication_async, ProbeError};
use std::sync::Arc;

use kafka_runtime::config::Config;
use kafka_runtime::producer::Headers;
use kafka_runtime::rdkafka::consumer::{Consumer, StreamConsumer};
use kafka_runtime::rdkafka::Message;
use kafka_runtime::{kafka_consumer, Context, HandlerError, RuntimeHandle};
use secure_support::{
    consumer_address, consumer_yaml, create_topic, encode, produce_one, producer_target,
    round_trip, serve_until, Sasl, Seen,
};

static SERVED: Seen = Seen::new();

#[kafka_consumer(service = "secure.scram.consumer")]
async fn scram_consumer(_ctx: Context, payload: String) -> Result<(), HandlerError> {
    SERVED.push(payload);
    Ok(())
}

#[kafka_consumer(service = "secure.scram.rejected")]
async fn rejected_consumer(_ctx: Context, _payload: String) -> Result<(), HandlerError> {
    panic!("a consumer with a wrong password never receives a record");
}

/// A wrong password, mechanism or user must be an authentication error
/// within this (issue #21's limit; measured in tens of milliseconds).
const FAST: Duration = Duration::from_secs(5);

fn sasl(mechanism: &str, user: &str, password: &str) -> String {
    format!(
        "mechanism={mechanism}&user={}&password={}",
        encode(user),
        encode(password)
    )
}

async fn scram_round_trip(mechanism: &str) {
    let broker = Sasl::from_env();
    let topic = unique_name(&format!("scram-{}", mechanism.to_lowercase()));
    let security = sasl(mechanism, broker.user_for(mechanism), &broker.password);
    round_trip(
        &consumer_address(&broker.bootstrap, &topic, &security),
        &producer_target(&broker.bootstrap, &topic, &security),
        &topic,
    )
    .await;
}

#[tokio::test]
async fn scram_sha_256_produces_and_consumes() {
    scram_round_trip("SCRAM-SHA-256").await;
}

#[tokio::test]
async fn scram_sha_512_produces_and_consumes() {
    scram_round_trip("SCRAM-SHA-512").await;
}

#[tokio::test]
async fn plain_produces_and_consumes() {
    scram_round_trip("PLAIN").await;
}

/// Probes a consumer and a producer configured with `security`; both must
/// fail with an authentication error within [`FAST`].
async fn assert_rejected(security: &str, expected: &[&str]) {
    let broker = Sasl::from_env();
    let topic = unique_name("rejected");
    let consumer =
        parse_consumer_address("c", &consumer_address(&broker.bootstrap, &topic, security))
            .unwrap();
    let producer =
        parse_producer_target("p", &producer_target(&broker.bootstrap, &topic, security)).unwrap();
    for (side, config) in [
        ("consumer", consumer.client_config()),
        ("producer", producer.client_config()),
    ] {
        let started = Instant::now();
        let err = probe_authentication_async(config, Duration::from_secs(30))
            .await
            .expect_err("the broker must refuse these credentials");
        let took = started.elapsed();
        assert!(
            matches!(err, ProbeError::Authentication { .. }),
            "{side}: expected an authentication error, got: {err}"
        );
        assert!(
            took < FAST,
            "{side}: the authentication error took {took:?} (limit {FAST:?})"
        );
        let text = err.to_string();
        assert!(
            text.starts_with("authentication failed with mechanism "),
            "{side}: {text}"
        );
        for part in expected {
            assert!(text.contains(part), "{side}: `{part}` missing from: {text}");
        }
        assert!(!text.contains(&broker.password), "{side}: {text}");
        eprintln!("{side}: rejected in {took:?}: {text}");
    }
}

#[tokio::test]
async fn wrong_password_is_an_authentication_error_within_seconds() {
    let broker = Sasl::from_env();
    let wrong = format!("{}-wrong", broker.password);
    assert_rejected(
        &sasl("SCRAM-SHA-512", &broker.user_512, &wrong),
        &[
            "with mechanism SCRAM-SHA-512",
            "invalid credentials with SASL mechanism SCRAM-SHA-512",
        ],
    )
    .await;
    assert_rejected(
        &sasl("SCRAM-SHA-256", &broker.user_256, &wrong),
        &[
            "with mechanism SCRAM-SHA-256",
            "invalid credentials with SASL mechanism SCRAM-SHA-256",
        ],
    )
    .await;
}

#[tokio::test]
async fn wrong_mechanism_is_an_authentication_error_within_seconds() {
    let broker = Sasl::from_env();
    // The user has a SCRAM-SHA-512 credential only.
    assert_rejected(
        &sasl("SCRAM-SHA-256", &broker.user_512, &broker.password),
        &[
            "with mechanism SCRAM-SHA-256",
            "invalid credentials with SASL mechanism SCRAM-SHA-256",
        ],
    )
    .await;
    // A SCRAM user has no PLAIN credential.
    assert_rejected(
        &sasl("PLAIN", &broker.user_512, &broker.password),
        &[
            "with mechanism PLAIN",
            "Authentication failed: Invalid username or password",
        ],
    )
    .await;
}

/// Apache Kafka answers an unknown user exactly as a wrong password (it does
/// not tell a client which users exist); the error still names the user the
/// client tried.
#[tokio::test]
async fn unknown_user_is_an_authentication_error_within_seconds() {
    let broker = Sasl::from_env();
    assert_rejected(
        &sasl("SCRAM-SHA-512", "nobody-here", &broker.password),
        &[
            "with mechanism SCRAM-SHA-512 for user `nobody-here`",
            "invalid credentials with SASL mechanism SCRAM-SHA-512",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_wrong_plain_password_is_an_authentication_error_within_seconds() {
    let broker = Sasl::from_env();
    assert_rejected(
        &sasl(
            "PLAIN",
            &broker.plain_user,
            &format!("{}-wrong", broker.password),
        ),
        &[
            "with mechanism PLAIN",
            "Authentication failed: Invalid username or password",
        ],
    )
    .await;
}

#[tokio::test]
async fn correct_credentials_pass_the_probe() {
    let broker = Sasl::from_env();
    for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let target = producer_target(
            &broker.bootstrap,
            "unused",
            &sasl(mechanism, broker.user_for(mechanism), &broker.password),
        );
        let config = parse_producer_target("p", &target).unwrap().client_config();
        probe_authentication_async(config, Duration::from_secs(10))
            .await
            .unwrap_or_else(|e| panic!("{mechanism}: {e}"));
    }
}

#[tokio::test]
async fn the_startup_check_names_the_service_and_the_cause() {
    let broker = Sasl::from_env();
    let wrong = format!("{}-wrong", broker.password);
    let target = producer_target(
        &broker.bootstrap,
        "unused",
        &sasl("SCRAM-SHA-512", &broker.user_512, &wrong),
    );
    let bad = parse_producer_target("trpc.app.orders", &target)
        .unwrap()
        .client_config();
    let good = parse_producer_target(
        "trpc.app.audit",
        &producer_target(
            &broker.bootstrap,
            "unused",
            &sasl("SCRAM-SHA-512", &broker.user_512, &broker.password),
        ),
    )
    .unwrap()
    .client_config();
    let started = Instant::now();
    let err = check_services(
        vec![
            ("trpc.app.audit".to_owned(), good),
            ("trpc.app.orders".to_owned(), bad),
        ],
        Duration::from_secs(30),
    )
    .await
    .expect_err("one service has a wrong password");
    assert!(started.elapsed() < FAST, "{:?}", started.elapsed());
    let text = err.to_string();
    assert!(
        text.starts_with(
            "service `trpc.app.orders` cannot connect to its brokers: authentication failed with mechanism SCRAM-SHA-512 for user `kafka-rs-512`: "
        ),
        "{text}"
    );
    assert!(!text.contains(&wrong), "{text}");
}

/// The secured broker, a fresh topic created over SCRAM with `mechanism`,
/// the security query for it and a producer target for the topic.
async fn secure_topic(prefix: &str, mechanism: &str) -> (Sasl, String, String, String) {
    let broker = Sasl::from_env();
    let topic = unique_name(prefix);
    let security = sasl(mechanism, broker.user_for(mechanism), &broker.password);
    let target = producer_target(&broker.bootstrap, &topic, &security);
    create_topic(
        &parse_producer_target("p", &target).unwrap().client_config(),
        &topic,
    )
    .await;
    (broker, topic, security, target)
}

/// The framework's consumer (`serve()` and a `#[kafka_consumer]` handler)
/// authenticates with SCRAM-SHA-512 and receives a record.
#[tokio::test]
async fn serve_consumes_with_scram() {
    let (broker, topic, security, target) = secure_topic("serve-scram", "SCRAM-SHA-512").await;
    let payload = unique_name("served");
    produce_one(&target, &topic, &payload).await;
    let yaml = consumer_yaml(
        "secure.scram.consumer",
        &consumer_address(&broker.bootstrap, &topic, &security),
    );
    serve_until(yaml, "secure.scram.consumer", || SERVED.contains(&payload)).await;
}

/// `serve()` with a wrong password stops at startup with an authentication
/// error naming the service, within seconds, before joining the group.
#[tokio::test]
async fn serve_fails_fast_on_a_wrong_password() {
    let broker = Sasl::from_env();
    let wrong = format!("{}-wrong", broker.password);
    let address = consumer_address(
        &broker.bootstrap,
        &unique_name("serve-rejected"),
        &sasl("SCRAM-SHA-256", &broker.user_256, &wrong),
    );
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        kafka_runtime::serve()
            .config_yaml(consumer_yaml("secure.scram.rejected", &address))
            .only_services(["secure.scram.rejected"]),
    )
    .await
    .expect("serve() returns instead of retrying for ever");
    let took = started.elapsed();
    let err = result.expect_err("the broker refuses the password");
    assert!(
        matches!(err, kafka_runtime::Error::Security { .. }),
        "expected a security error, got: {err}"
    );
    assert!(
        took < FAST,
        "serve() took {took:?} to fail (limit {FAST:?})"
    );
    let text = err.to_string();
    assert!(
        text.starts_with("service `secure.scram.rejected` cannot connect to its brokers: authentication failed with mechanism SCRAM-SHA-256 for user `kafka-rs-256`: "),
        "{text}"
    );
    assert!(!text.contains(&wrong), "{text}");
}

fn producer_yaml(name: &str, target: &str) -> String {
    format!("client:\n  service:\n    - name: {name}\n      target: \"{target}\"\n")
}

/// The framework's producer (`RuntimeHandle`, `send_message`) authenticates
/// with SCRAM-SHA-256; a plain consumer configured by the mapping layer
/// reads the record back.
#[tokio::test]
async fn runtime_producer_sends_with_scram() {
    let (broker, topic, security, target) = secure_topic("runtime-scram", "SCRAM-SHA-256").await;
    let config = Config::from_yaml_str(&producer_yaml("secure.scram.producer", &target)).unwrap();
    let runtime = RuntimeHandle::start(Arc::new(config))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let payload = unique_name("framework-payload");
    let delivered = runtime
        .producer("secure.scram.producer")
        .unwrap()
        .send_message(&topic, "k", &payload, Headers::new())
        .await
        .unwrap_or_else(|e| panic!("send_message: {e}"));
    runtime.shutdown(Duration::from_secs(10)).await.unwrap();

    let consumer: StreamConsumer =
        parse_consumer_address("c", &consumer_address(&broker.bootstrap, &topic, &security))
            .unwrap()
            .client_config()
            .create()
            .unwrap();
    consumer.subscribe(&[&topic]).unwrap();
    let message = tokio::time::timeout(Duration::from_secs(60), consumer.recv())
        .await
        .expect("the record arrives within 60 s")
        .unwrap();
    assert_eq!(message.payload(), Some(payload.as_bytes()));
    assert_eq!(message.offset(), delivered.offset);
}

/// `RuntimeHandle::start` (what `serve()` uses for producers) stops with an
/// authentication error naming the producer service, within seconds.
#[tokio::test]
async fn runtime_start_fails_fast_on_a_wrong_password() {
    let broker = Sasl::from_env();
    let wrong = format!("{}-wrong", broker.password);
    let target = producer_target(
        &broker.bootstrap,
        "unused",
        &sasl("SCRAM-SHA-512", &broker.user_512, &wrong),
    );
    let config =
        Config::from_yaml_str(&producer_yaml("secure.scram.bad-producer", &target)).unwrap();
    let started = Instant::now();
    let err = tokio::time::timeout(
        Duration::from_secs(30),
        RuntimeHandle::start(Arc::new(config)),
    )
    .await
    .expect("start returns instead of retrying for ever")
    .expect_err("the broker refuses the password");
    let took = started.elapsed();
    assert!(took < FAST, "took {took:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("service `secure.scram.bad-producer` cannot connect to its brokers: authentication failed with mechanism SCRAM-SHA-512 for user `kafka-rs-512`: "),
        "{text}"
    );
    assert!(!text.contains(&wrong), "{text}");
}
