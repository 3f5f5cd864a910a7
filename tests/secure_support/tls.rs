//! Certificates made by the test (the `openssl` command) and a TLS
//! terminator in front of tansu's plain port: tansu 0.6.0 cannot serve TLS
//! itself, so this real OpenSSL server does the TLS half of the connection
//! and passes the bytes on to the real broker.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use openssl::ssl::{Ssl, SslAcceptor, SslFiletype, SslMethod, SslVerifyMode};
use tokio::net::{TcpListener, TcpStream};

/// Password of the generated client key (it is encrypted, to exercise
/// `tlsKeyPassword`).
pub const CLIENT_KEY_PASSWORD: &str = "client-key-pw-7f3a";

/// The files of one generated certificate set.
#[derive(Debug)]
pub struct Certs {
    pub dir: PathBuf,
    /// The CA that signed the server and client certificates.
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    /// Encrypted with [`CLIENT_KEY_PASSWORD`].
    pub client_key: PathBuf,
    /// A CA that signed nothing the broker presents.
    pub other_ca: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the openssl command ({e}); the TLS tests need it"));
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Generates (once per test process) a CA, a server certificate for
/// 127.0.0.1/localhost and a client certificate with an encrypted key.
pub fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(kafka_rs::unique_name("tls"));
        std::fs::create_dir_all(&dir).expect("create the certificate directory");
        let days = ["-days", "2"];
        for ca in ["ca", "other-ca"] {
            let subject = format!("/CN=kafka-rs test {ca}");
            openssl(
                &dir,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.pem"),
                    days[0],
                    days[1],
                    "-subj",
                    &subject,
                ],
            );
        }
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .expect("write server.ext");
        openssl(
            &dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
        );
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                days[0],
                days[1],
                "-extfile",
                "server.ext",
            ],
        );
        let passout = format!("pass:{CLIENT_KEY_PASSWORD}");
        openssl(
            &dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-keyout",
                "client.key",
                "-passout",
                &passout,
                "-out",
                "client.csr",
                "-subj",
                "/CN=kafka-rs test client",
            ],
        );
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                "client.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "client.pem",
                days[0],
                days[1],
            ],
        );
        Certs {
            ca: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
            other_ca: dir.join("other-ca.pem"),
            dir,
        }
    })
}

/// A running TLS terminator.
#[derive(Debug)]
pub struct Terminator {
    /// Connections that presented a client certificate the CA verified.
    pub verified_clients: Arc<AtomicUsize>,
    /// Connections that completed the TLS handshake.
    pub handshakes: Arc<AtomicUsize>,
}

/// Starts (once per `listen` address and test process) a TLS server on
/// `listen` with the generated server certificate that forwards every
/// connection to `upstream`. Client certificates are optional and, when
/// presented, verified against the generated CA.
pub fn terminator(listen: &str, upstream: &str) -> &'static Terminator {
    static TERMINATORS: OnceLock<std::sync::Mutex<Vec<(String, &'static Terminator)>>> =
        OnceLock::new();
    let registry = TERMINATORS.get_or_init(Default::default);
    let mut started = registry.lock().unwrap();
    if let Some((_, t)) = started.iter().find(|(addr, _)| addr == listen) {
        return t;
    }
    let certs = certs();
    let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
    builder
        .set_private_key_file(&certs.server_key, SslFiletype::PEM)
        .unwrap();
    builder
        .set_certificate_chain_file(&certs.server_cert)
        .unwrap();
    builder.check_private_key().unwrap();
    builder.set_ca_file(&certs.ca).unwrap();
    builder.set_verify(SslVerifyMode::PEER);
    let acceptor = builder.build();

    let terminator: &'static Terminator = Box::leak(Box::new(Terminator {
        verified_clients: Arc::new(AtomicUsize::new(0)),
        handshakes: Arc::new(AtomicUsize::new(0)),
    }));
    let verified = Arc::clone(&terminator.verified_clients);
    let handshakes = Arc::clone(&terminator.handshakes);
    let listen_addr: SocketAddr = listen.parse().expect("listen address");
    let upstream = upstream.to_owned();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    // Its own runtime on its own thread: it outlives every test's runtime.
    std::thread::Builder::new()
        .name(format!("tls-terminator-{listen}"))
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = TcpListener::bind(listen_addr)
                    .await
                    .unwrap_or_else(|e| panic!("bind the TLS port {listen_addr}: {e}"));
                ready_tx.send(()).unwrap();
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let ssl = Ssl::new(acceptor.context()).unwrap();
                    let upstream = upstream.clone();
                    let verified = Arc::clone(&verified);
                    let handshakes = Arc::clone(&handshakes);
                    tokio::spawn(async move {
                        let mut tls = tokio_openssl::SslStream::new(ssl, tcp).unwrap();
                        if Pin::new(&mut tls).accept().await.is_err() {
                            return; // a client that does not trust us, or speaks no TLS
                        }
                        handshakes.fetch_add(1, Ordering::SeqCst);
                        if tls.ssl().peer_certificate().is_some() {
                            verified.fetch_add(1, Ordering::SeqCst);
                        }
                        let Ok(mut broker) = TcpStream::connect(&upstream).await else {
                            return;
                        };
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut broker).await;
                    });
                }
            });
        })
        .unwrap();
    ready_rx.recv().expect("the TLS terminator started");
    started.push((listen.to_owned(), terminator));
    terminator
}
