//! TLS on Apache Kafka's own listeners (`scripts/kafka.sh start`): SSL with
//! the CA, SSL with a client certificate the broker requires (mTLS, the key
//! encrypted), SASL_SSL with SCRAM and PLAIN, and clear errors for an
//! untrusted broker, a missing client certificate and a wrong key password.
//!
//! Clients are plain rdkafka clients built by the mapping layer from real
//! addresses with the `tls*` keys.

mod secure_support;

use std::time::{Duration, Instant};

use kafka_rs::unique_name;
use kafka_runtime::config::parse_producer_target;
use kafka_runtime::security::{probe_authentication_async, ProbeError};
use secure_support::tls::Tls;
use secure_support::{consumer_address, encode, producer_target, round_trip, Sasl};

fn path(p: &std::path::Path) -> String {
    encode(&p.display().to_string())
}

/// The address query of a client presenting the test's client certificate.
fn client_certificate(tls: &Tls, key_password: &str) -> String {
    format!(
        "protocol=SSL&tlsCaFile={}&tlsCertFile={}&tlsKeyFile={}&tlsKeyPassword={}",
        path(&tls.ca),
        path(&tls.client_cert),
        path(&tls.client_key),
        encode(key_password)
    )
}

/// Probes a producer on `bootstrap` configured with `security`; returns the
/// error, which must come within 10 s.
async fn probe_error(bootstrap: &str, security: &str) -> ProbeError {
    let target = producer_target(bootstrap, "unused", security);
    let mut config = parse_producer_target("p", &target).unwrap().client_config();
    // Debug logging queues many events ahead of the error one.
    config.set("debug", "broker,security");
    let started = Instant::now();
    let err = probe_authentication_async(config, Duration::from_secs(30))
        .await
        .expect_err("the connection must be refused");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the error took {:?}: {err}",
        started.elapsed()
    );
    err
}

#[tokio::test]
async fn ssl_round_trip_with_the_ca() {
    let tls = Tls::from_env();
    let topic = unique_name("tls");
    let security = format!("tlsCaFile={}", path(&tls.ca));
    round_trip(
        &consumer_address(&tls.ssl_bootstrap, &topic, &security),
        &producer_target(&tls.ssl_bootstrap, &topic, &security),
        &topic,
    )
    .await;
}

/// The negative control of the round trips: the TLS listener really speaks
/// TLS, so a client without it does not get through.
#[tokio::test]
async fn a_plaintext_client_cannot_use_the_tls_listener() {
    let tls = Tls::from_env();
    let target = producer_target(&tls.ssl_bootstrap, "unused", "protocol=PLAINTEXT");
    let config = parse_producer_target("p", &target).unwrap().client_config();
    let result = probe_authentication_async(config, Duration::from_secs(5)).await;
    assert!(
        result.is_err(),
        "a plaintext client reached the TLS listener"
    );
}

#[tokio::test]
async fn mtls_round_trip_with_a_client_certificate_and_encrypted_key() {
    let tls = Tls::from_env();
    let topic = unique_name("mtls");
    let security = client_certificate(&tls, &tls.client_key_password);
    round_trip(
        &consumer_address(&tls.mtls_bootstrap, &topic, &security),
        &producer_target(&tls.mtls_bootstrap, &topic, &security),
        &topic,
    )
    .await;
}

/// The listener that requires a client certificate refuses a client that
/// has none: so the round trip above was admitted by its certificate.
#[tokio::test]
async fn the_mtls_listener_refuses_a_client_without_a_certificate() {
    let tls = Tls::from_env();
    let err = probe_error(&tls.mtls_bootstrap, &format!("tlsCaFile={}", path(&tls.ca))).await;
    assert!(matches!(err, ProbeError::Tls { .. }), "{err}");
}

#[tokio::test]
async fn an_untrusted_broker_certificate_is_a_tls_error_within_seconds() {
    let tls = Tls::from_env();
    let err = probe_error(
        &tls.ssl_bootstrap,
        &format!("tlsCaFile={}", path(&tls.other_ca)),
    )
    .await;
    assert!(matches!(err, ProbeError::Tls { .. }), "{err}");
    assert!(
        err.to_string().starts_with("TLS handshake failed: "),
        "{err}"
    );
}

#[tokio::test]
async fn insecure_skip_verify_accepts_an_unknown_certificate() {
    let tls = Tls::from_env();
    let target = producer_target(
        &tls.ssl_bootstrap,
        "unused",
        &format!(
            "tlsCaFile={}&tlsInsecureSkipVerify=true",
            path(&tls.other_ca)
        ),
    );
    let config = parse_producer_target("p", &target).unwrap().client_config();
    probe_authentication_async(config, Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn a_wrong_key_password_is_reported_without_showing_it() {
    let tls = Tls::from_env();
    let wrong = "not-the-key-password-19";
    let target = producer_target(
        &tls.mtls_bootstrap,
        "unused",
        &client_certificate(&tls, wrong),
    );
    let config = parse_producer_target("p", &target).unwrap().client_config();
    let err = probe_authentication_async(config, Duration::from_secs(10))
        .await
        .expect_err("the key cannot be decrypted");
    assert!(
        matches!(err, ProbeError::Client { .. } | ProbeError::Tls { .. }),
        "{err}"
    );
    assert!(!err.to_string().contains(wrong), "{err}");
}

async fn sasl_ssl_round_trip(mechanism: &str) {
    let tls = Tls::from_env();
    let sasl = Sasl::from_env();
    let topic = unique_name("sasl-ssl");
    let security = format!(
        "mechanism={mechanism}&user={}&password={}&tlsCaFile={}",
        encode(sasl.user_for(mechanism)),
        encode(&sasl.password),
        path(&tls.ca)
    );
    let target = producer_target(&tls.sasl_ssl_bootstrap, &topic, &security);
    assert_eq!(
        parse_producer_target("p", &target)
            .unwrap()
            .librdkafka_properties()
            .get("security.protocol"),
        Some("sasl_ssl")
    );
    round_trip(
        &consumer_address(&tls.sasl_ssl_bootstrap, &topic, &security),
        &target,
        &topic,
    )
    .await;
}

#[tokio::test]
async fn sasl_ssl_round_trip_with_scram_sha_512() {
    sasl_ssl_round_trip("SCRAM-SHA-512").await;
}

#[tokio::test]
async fn sasl_ssl_round_trip_with_plain() {
    sasl_ssl_round_trip("PLAIN").await;
}
