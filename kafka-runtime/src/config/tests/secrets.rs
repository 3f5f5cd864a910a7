//! A SASL password never shows: not in `Debug` of configs or properties,
//! not in any error.

use super::super::yaml::from_yaml_with_env;
use super::super::{parse_consumer_address, parse_producer_target, Properties};

const PASSWORD: &str = "Pa55-w0rd-XYZ";

fn assert_hidden(what: &str, text: &str) {
    assert!(
        !text.contains(PASSWORD),
        "{what} shows the password: {text}"
    );
    // Percent-encoded forms of it must not leak either.
    assert!(
        !text.contains("w0rd"),
        "{what} shows part of the password: {text}"
    );
}

#[test]
fn configs_and_properties_redact_the_password() {
    let address =
        format!("h:1?topics=t&group=g&mechanism=SCRAM-SHA-512&user=alice&password={PASSWORD}");
    let consumer = parse_consumer_address("svc", &address).unwrap();
    assert_hidden("ConsumerConfig Debug", &format!("{consumer:?}"));
    assert_hidden("ConsumerConfig pretty Debug", &format!("{consumer:#?}"));
    let props = consumer.librdkafka_properties();
    assert_eq!(props.get("sasl.password"), Some(PASSWORD));
    assert_hidden("Properties Debug", &format!("{props:?}"));
    assert_hidden("Properties Display", &format!("{props}"));
    assert!(format!("{props}").contains("sasl.password=***"));
    assert_hidden(
        "ClientConfig Debug",
        &format!("{:?}", consumer.client_config()),
    );

    let target = format!(
        "kafka://h:1?topic=t&mechanism=PLAIN&user=alice&password={PASSWORD}&protocol=SASL_SSL"
    );
    let producer = parse_producer_target("svc", &target).unwrap();
    assert_hidden("ProducerConfig Debug", &format!("{producer:?}"));
    assert_hidden(
        "Properties Debug",
        &format!("{:?}", producer.librdkafka_properties()),
    );
    assert_hidden(
        "ClientConfig Debug",
        &format!("{:?}", producer.client_config()),
    );

    let yaml = format!(
        "server:\n  service:\n    - {{name: c, address: '{address}', protocol: kafka}}\nclient:\n  service:\n    - {{name: p, target: '{target}'}}\n"
    );
    let config = from_yaml_with_env(&yaml, |_| None).unwrap();
    assert_hidden("Config Debug", &format!("{config:?}"));
}

#[test]
fn overrides_and_secret_property_names_are_redacted() {
    let mut props = Properties::new();
    props.set("ssl.key.password", PASSWORD);
    props.set("sasl.oauthbearer.client.secret", PASSWORD);
    props.set("ssl.keystore.password", PASSWORD);
    props.set("client.id", "visible");
    assert_hidden("Properties Debug", &format!("{props:?}"));
    assert_hidden("Properties Display", &format!("{props}"));
    assert!(format!("{props:?}").contains("visible"));

    let mut consumer = parse_consumer_address("svc", "h:1?topics=t&group=g").unwrap();
    consumer
        .common
        .librdkafka_overrides
        .insert("ssl.key.password".to_owned(), PASSWORD.to_owned());
    assert_hidden(
        "ConsumerConfig Debug with overrides",
        &format!("{consumer:?}"),
    );
    assert_hidden(
        "override Properties",
        &format!("{:?}", consumer.librdkafka_properties()),
    );
}

#[test]
fn errors_never_show_the_password() {
    let p = PASSWORD;
    let consumer_addresses = [
        // Errors on the password key itself.
        format!("h:1?topics=t&group=g&password={p}"),
        format!("h:1?topics=t&group=g&mechanism=PLAIN&user=u&password={p}&password={p}"),
        format!("h:1?topics=t&group=g&mechanism=PLAIN&password={p}"),
        // Errors on other keys of an address that holds a password.
        format!("h:1?topics=t&group=g&mechanism=PLAIN&user=u&password={p}&clinetid=x"),
        format!("h:1?topics=t&group=g&mechanism=PLAIN&user=u&password={p}&fetchMax=x"),
        format!("h:1?topics=t&mechanism=PLAIN&user=u&password={p}"),
        format!("h:1?topics=t&group=g&mechanism=PLAIN&user=u&password={p}&topic=x"),
        format!("h:1?topics=t&group=g&mechanism=PLAIN&user=u&password={p}%zz"),
        format!("h:1?topics=t&group=g&mechanism=PLAIN&user=u&password={p};x=1"),
        format!("h:1?topics=t&group=g&mechanism=PLAIN&user=u&password={p}&protocol=SSL"),
        format!("h:1?topics=t&group=g&mechanism=PLAIN&user=u&passwd={p}"),
        format!("h:1?topics=t&group=g&mechanism=PLAIN&user=u&pass_word={p}"),
        // Misspelt secret keys: unknown keys, their values secrets all the same.
        format!("h:1?topics=t&group=g&mechanism=PLAIN&user=u&pasword={p}"),
        format!("h:1?topics=t&group=g&mechanism=PLAIN&user=u&passwrod={p}"),
        format!("h:1?topics=t&group=g&tlsKeyPasword={p}"),
        format!("h:1?topics=t&group=g&tls_key_pasword={p}"),
        format!("h:1?topics=t&group=g&tlsKeyPassword={p}&tlsKeyPasword={p}"),
        format!("alice:{p}@h:1?topics=t&group=g"),
        format!("h:1,alice:{p}?topics=t&group=g"),
        format!("h:1&password={p}"),
        format!("kafka://h:1?topics=t&group=g&password={p}"),
        format!("?topics=t&group=g&mechanism=PLAIN&user=u&password={p}"),
    ];
    for address in &consumer_addresses {
        let err = parse_consumer_address("svc", address)
            .err()
            .unwrap_or_else(|| panic!("`{address}` should fail"));
        assert_hidden(&format!("error of `{address}`"), &err.to_string());
        assert_hidden(&format!("Debug error of `{address}`"), &format!("{err:?}"));
    }
    let producer_targets = [
        format!("kafka://h:1?topic=t&password={p}"),
        format!("kafka://h:1?topic=t&mechanism=PLAIN&user=u&password={p}&group=g"),
        format!("kafka://h:1?topic=t&mechanism=PLAIN&user=u&password={p}&idempotent=true&requiredAcks=0"),
        format!("kafka://h:1?topic=t&mechanism=PLAIN&user=u&password={p}&maxRetry=-1"),
        format!("kafka://h:1&mechanism=PLAIN&user=u&password={p}"),
        format!("kafka://h:1?topic=t&mechanism=PLAIN&user=u&pasword={p}"),
        format!("kafka://h:1?topic=t&tlsKeyFile=k.pem&tlsKeyPasword={p}"),
        format!("kafka://h:1?topic=t&saslPasswd={p}"),
    ];
    for target in &producer_targets {
        let err = parse_producer_target("svc", target)
            .err()
            .unwrap_or_else(|| panic!("`{target}` should fail"));
        assert_hidden(&format!("error of `{target}`"), &err.to_string());
        assert_hidden(&format!("Debug error of `{target}`"), &format!("{err:?}"));
    }
    // Loader errors around an address that holds a password.
    let yaml = format!(
        "server:\n  service:\n    - {{name: c, address: 'h:1?topics=t&group=g&password={p}&x=${{MISSING}}', protocol: kafka}}\n"
    );
    let err = from_yaml_with_env(&yaml, |_| None).unwrap_err();
    assert_hidden("loader error", &err.to_string());
    let yaml = format!(
        "server:\n  service:\n    - {{name: c, address: 'h:1?topics=t&group=g&password={p}', protocol: kafka, timeout: x}}\n"
    );
    let err = from_yaml_with_env(&yaml, |_| None).unwrap_err();
    assert_hidden("loader timeout error", &err.to_string());
}

#[test]
fn tls_key_password_is_redacted() {
    let tls =
        "tlsCertFile=src/config/tests/tls/client.pem&tlsKeyFile=src/config/tests/tls/client.key";
    let address = format!("h:1?topics=t&group=g&{tls}&tlsKeyPassword={PASSWORD}");
    let consumer = parse_consumer_address("svc", &address).unwrap();
    assert_eq!(
        consumer
            .common
            .tls
            .key_password
            .as_ref()
            .map(|p| p.expose()),
        Some(PASSWORD)
    );
    assert_hidden("ConsumerConfig Debug", &format!("{consumer:#?}"));
    let props = consumer.librdkafka_properties();
    assert_eq!(props.get("ssl.key.password"), Some(PASSWORD));
    assert_hidden("Properties Display", &format!("{props}"));
    assert_hidden(
        "ClientConfig Debug",
        &format!("{:?}", consumer.client_config()),
    );
    // Errors about the key password never show it.
    let no_key = format!("kafka://h:1?topic=t&tlsKeyPassword={PASSWORD}");
    let err = parse_producer_target("svc", &no_key)
        .unwrap_err()
        .to_string();
    assert_hidden("error", &err);
    assert!(err.contains("`tlsKeyPassword=***`"), "{err}");
}

/// What a user sees when `serve()` refuses a configuration with a misspelt
/// secret key: its error (text and `Debug`) and everything logged meanwhile.
#[test]
fn serve_hides_the_value_of_a_misspelt_secret_key() {
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Capture {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let logs = Capture::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (yaml, key) in [
        (
            format!("server:\n  service:\n    - {{name: c, protocol: kafka, address: '127.0.0.1:9092?topics=t&group=g&mechanism=PLAIN&user=u&pasword={PASSWORD}'}}\n"),
            "`pasword=***`",
        ),
        (
            format!("client:\n  service:\n    - {{name: p, target: 'kafka://127.0.0.1:9092?topic=t&tlsKeyPasword={PASSWORD}'}}\n"),
            "`tlsKeyPasword=***`",
        ),
    ] {
        tracing::info!("serve() with a misspelt secret key");
        let err = runtime
            .block_on(std::future::IntoFuture::into_future(
                crate::serve().config_yaml(yaml),
            ))
            .expect_err("an unknown key stops serve()");
        let text = err.to_string();
        assert!(text.contains(key), "{text}");
        assert_hidden("serve() error", &text);
        assert_hidden("serve() error Debug", &format!("{err:?}"));
    }
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        logged.contains("misspelt secret key"),
        "nothing captured: {logged}"
    );
    assert_hidden("logs", &logged);
}
