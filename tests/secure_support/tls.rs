//! The TLS listeners of the Apache Kafka `scripts/kafka.sh start` runs, and
//! the certificates the script made for them: a CA that signed the broker's
//! certificate (127.0.0.1 and localhost) and a client certificate whose key
//! is encrypted, plus a CA that signed nothing here.

use std::path::PathBuf;

use super::required_env;

/// The TLS listeners and certificate files.
#[derive(Debug)]
pub struct Tls {
    /// SSL, no client certificate asked for.
    pub ssl_bootstrap: String,
    /// SSL with `ssl.client.auth=required`: only clients presenting a
    /// certificate signed by [`Tls::ca`] get in.
    pub mtls_bootstrap: String,
    /// SASL_SSL: the SASL users of [`super::Sasl`] over TLS.
    pub sasl_ssl_bootstrap: String,
    pub ca: PathBuf,
    pub other_ca: PathBuf,
    pub client_cert: PathBuf,
    /// Encrypted with [`Tls::client_key_password`].
    pub client_key: PathBuf,
    pub client_key_password: String,
}

impl Tls {
    pub fn from_env() -> Self {
        Tls {
            ssl_bootstrap: required_env("KAFKA_RS_TEST_SSL_BOOTSTRAP"),
            mtls_bootstrap: required_env("KAFKA_RS_TEST_MTLS_BOOTSTRAP"),
            sasl_ssl_bootstrap: required_env("KAFKA_RS_TEST_SASL_SSL_BOOTSTRAP"),
            ca: required_env("KAFKA_RS_TEST_TLS_CA").into(),
            other_ca: required_env("KAFKA_RS_TEST_TLS_OTHER_CA").into(),
            client_cert: required_env("KAFKA_RS_TEST_TLS_CLIENT_CERT").into(),
            client_key: required_env("KAFKA_RS_TEST_TLS_CLIENT_KEY").into(),
            client_key_password: required_env("KAFKA_RS_TEST_TLS_CLIENT_KEY_PASSWORD"),
        }
    }
}
