//! `GET /ready` over HTTP for orchestrators' probes (feature
//! `readiness-http`): 200 with the report when ready, 503 with the report
//! when not, so a Kubernetes `readinessProbe` with `httpGet` needs nothing
//! else.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use super::Readiness;

/// The path the endpoint answers on.
pub const READY_PATH: &str = "/ready";

/// A running readiness endpoint; dropping it stops it (and its connections).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// let readiness = kafka_runtime::serve().readiness();
/// let endpoint = readiness.serve_http("127.0.0.1:0".parse().unwrap()).await?;
/// println!("probe http://{}/ready", endpoint.local_addr());
/// drop(endpoint); // stops serving
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ReadinessEndpoint {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl ReadinessEndpoint {
    /// The address it listens on (the bound port when asked for port 0).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let endpoint = kafka_runtime::serve().readiness().serve_http("127.0.0.1:0".parse().unwrap()).await?;
    /// assert_ne!(endpoint.local_addr().port(), 0);
    /// # Ok(()) }
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for ReadinessEndpoint {
    fn drop(&mut self) {
        // The accept loop owns the connections' JoinSet: aborting it ends them.
        self.task.abort();
    }
}

impl Readiness {
    /// Serves `GET /ready` (and `HEAD`) on `addr` until the returned
    /// endpoint is dropped: `200 OK` when ready, `503 Service Unavailable`
    /// when not, the [report](Readiness::report) as plain text either way;
    /// other paths answer 404. Call it inside a tokio runtime.
    /// [`Serve::readiness_endpoint`](crate::Serve::readiness_endpoint)
    /// runs one for the lifetime of `serve()`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let endpoint = kafka_runtime::serve().readiness().serve_http("127.0.0.1:0".parse().unwrap()).await?;
    /// # drop(endpoint);
    /// # Ok(()) }
    /// ```
    pub async fn serve_http(&self, addr: SocketAddr) -> std::io::Result<ReadinessEndpoint> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let readiness = self.clone();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        tracing::warn!(%error, "readiness endpoint: accept failed");
                        continue;
                    }
                };
                // Reap finished connections as new ones come.
                while connections.try_join_next().is_some() {}
                let readiness = readiness.clone();
                connections.spawn(async move {
                    let service = service_fn(move |request| answer(readiness.clone(), request));
                    let served = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                    if let Err(error) = served {
                        tracing::debug!(%error, "readiness endpoint: connection ended with an error");
                    }
                });
            }
        });
        Ok(ReadinessEndpoint { addr, task })
    }
}

async fn answer(
    readiness: Readiness,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = |status: StatusCode, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    };
    if request.uri().path() != READY_PATH {
        return Ok(response(
            StatusCode::NOT_FOUND,
            format!("not found; the readiness report is at {READY_PATH}\n"),
        ));
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return Ok(response(
            StatusCode::METHOD_NOT_ALLOWED,
            "allowed: GET, HEAD\n".to_owned(),
        ));
    }
    let report = readiness.report();
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok(response(status, report.to_string()))
}
