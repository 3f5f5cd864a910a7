//! TLS (SSL and SASL_SSL) against tansu, with certificates this test
//! generates. tansu 0.6.0 cannot serve TLS (its `--cert`/`--key` options
//! are mutually exclusive and its TLS acceptor is never used), so
//! `scripts/tansu-secure.sh` starts tansu advertising a TLS port and this
//! test puts an OpenSSL TLS server there that forwards to tansu's plain port.
//!
//! Clients are plain rdkafka clients built by the mapping layer from real
//! addresses with the `tls*` keys.

mod secure_support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kafka_rs::unique_name;
use kafka_runtime::config::parse_producer_target;
use kafka_runtime::security::{probe_authentication_async, ProbeError};
use secure_support::tls::{certs, terminator, Terminator, CLIENT_KEY_PASSWORD};
use secure_support::{consumer_address, encode, producer_target, required_env, round_trip, Scram};

fn tls_broker() -> (String, &'static Terminator) {
    let bootstrap = required_env("KAFKA_RS_TEST_TLS_BOOTSTRAP");
    let upstream = required_env("KAFKA_RS_TEST_TLS_UPSTREAM");
    let terminator = terminator(&bootstrap, &upstream);
    (bootstrap, terminator)
}

fn path(p: &std::path::Path) -> String {
    encode(&p.display().to_string())
}

#[tokio::test]
async fn ssl_round_trip_with_the_ca() {
    let (bootstrap, terminator) = tls_broker();
    let before = terminator.handshakes.load(Ordering::SeqCst);
    let topic = unique_name("tls");
    let security = format!("tlsCaFile={}", path(&certs().ca));
    round_trip(
        &consumer_address(&bootstrap, &topic, &security),
        &producer_target(&bootstrap, &topic, &security),
        &topic,
    )
    .await;
    assert!(terminator.handshakes.load(Ordering::SeqCst) > before);
}

#[tokio::test]
async fn ssl_round_trip_with_a_client_certificate_and_encrypted_key() {
    let (bootstrap, terminator) = tls_broker();
    let before = terminator.verified_clients.load(Ordering::SeqCst);
    let certs = certs();
    let topic = unique_name("mtls");
    let security = format!(
        "protocol=SSL&tlsCaFile={}&tlsCertFile={}&tlsKeyFile={}&tlsKeyPassword={}",
        path(&certs.ca),
        path(&certs.client_cert),
        path(&certs.client_key),
        encode(CLIENT_KEY_PASSWORD)
    );
    round_trip(
        &consumer_address(&bootstrap, &topic, &security),
        &producer_target(&bootstrap, &topic, &security),
        &topic,
    )
    .await;
    assert!(
        terminator.verified_clients.load(Ordering::SeqCst) > before,
        "the TLS server saw no verified client certificate"
    );
}

#[tokio::test]
async fn an_untrusted_broker_certificate_is_a_tls_error_within_seconds() {
    let (bootstrap, _) = tls_broker();
    let target = producer_target(
        &bootstrap,
        "unused",
        &format!("tlsCaFile={}", path(&certs().other_ca)),
    );
    let mut config = parse_producer_target("p", &target).unwrap().client_config();
    // Debug logging queues many events ahead of the error one.
    config.set("debug", "broker,security");
    let started = Instant::now();
    let err = probe_authentication_async(config, Duration::from_secs(30))
        .await
        .expect_err("the broker's certificate is not signed by this CA");
    assert!(matches!(err, ProbeError::Tls { .. }), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        err.to_string().starts_with("TLS handshake failed: "),
        "{err}"
    );
}

#[tokio::test]
async fn insecure_skip_verify_accepts_an_unknown_certificate() {
    let (bootstrap, _) = tls_broker();
    let target = producer_target(
        &bootstrap,
        "unused",
        &format!(
            "tlsCaFile={}&tlsInsecureSkipVerify=true",
            path(&certs().other_ca)
        ),
    );
    let config = parse_producer_target("p", &target).unwrap().client_config();
    probe_authentication_async(config, Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn a_wrong_key_password_is_reported_without_showing_it() {
    let (bootstrap, _) = tls_broker();
    let certs = certs();
    let wrong = "not-the-key-password-19";
    let target = producer_target(
        &bootstrap,
        "unused",
        &format!(
            "tlsCaFile={}&tlsCertFile={}&tlsKeyFile={}&tlsKeyPassword={wrong}",
            path(&certs.ca),
            path(&certs.client_cert),
            path(&certs.client_key)
        ),
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

#[tokio::test]
async fn sasl_ssl_round_trip_with_scram_sha_512() {
    let bootstrap = required_env("KAFKA_RS_TEST_SASL_SSL_BOOTSTRAP");
    let upstream = required_env("KAFKA_RS_TEST_SASL_SSL_UPSTREAM");
    let terminator = terminator(&bootstrap, &upstream);
    let before = terminator.handshakes.load(Ordering::SeqCst);
    let scram = Scram::from_env();
    let topic = unique_name("sasl-ssl");
    let security = format!(
        "mechanism=SCRAM-SHA-512&user={}&password={}&tlsCaFile={}",
        encode(&scram.user_512),
        encode(&scram.password),
        path(&certs().ca)
    );
    let target = producer_target(&bootstrap, &topic, &security);
    assert_eq!(
        parse_producer_target("p", &target)
            .unwrap()
            .librdkafka_properties()
            .get("security.protocol"),
        Some("sasl_ssl")
    );
    round_trip(
        &consumer_address(&bootstrap, &topic, &security),
        &target,
        &topic,
    )
    .await;
    assert!(terminator.handshakes.load(Ordering::SeqCst) > before);
}
