//! The third side: the tRPC-Go Kafka plugin itself (v1.2.0, sarama 1.40.1),
//! run as a child process (`interop/cmd/plugin-peer`, built with `go build`
//! when `--plugin` is given) on the same YAML as ours. The child prints its
//! timed span as one JSON line and waits for its stdin to close; meanwhile
//! the bench reads the child's CPU time (`/proc/PID/stat`) and peak RSS
//! (`VmHWM`), so the figures are the client process's alone.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::probe;

/// What one run of the plugin's side measured.
pub struct ChildRun {
    pub messages: u64,
    pub seconds: f64,
    pub cpu_seconds: Option<f64>,
    pub peak_rss_kib: Option<u64>,
}

/// Builds `plugin-peer` from `interop/` into `target/interop/bin` (the Go
/// module cache makes later builds quick) and returns its path.
pub fn build() -> Result<PathBuf, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = root.join("target/interop/bin/plugin-peer");
    let status = std::process::Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg("./cmd/plugin-peer")
        .current_dir(root.join("interop"))
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("--plugin needs Go to build interop/cmd/plugin-peer: {e}"))?;
    if !status.success() {
        return Err(format!(
            "go build of interop/cmd/plugin-peer failed ({status})"
        ));
    }
    Ok(out)
}

/// Writes `yaml` where the child can read it.
fn write_yaml(yaml: &str) -> Result<PathBuf, String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench/plugin");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(format!("{}.yaml", probe::now_nanos()));
    std::fs::write(&path, yaml).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// The plugin consuming `n` records with a no-op handler (a batch handler
/// when `batch`; the YAML's address then has `batch=N`).
pub async fn consume(
    peer: &Path,
    yaml: &str,
    n: u64,
    batch: bool,
    deadline: Instant,
) -> Result<ChildRun, String> {
    let mut args = vec![
        "-mode".to_owned(),
        "bench-consume".to_owned(),
        "-n".to_owned(),
        n.to_string(),
    ];
    if batch {
        args.push("-batch".to_owned());
    }
    run(peer, yaml, &args, deadline).await
}

/// A produce run of the plugin's side.
pub struct ProduceRun<'a> {
    /// The client service of the YAML to produce with.
    pub service: &'a str,
    pub messages: u64,
    pub value_size: usize,
    /// Goroutines calling `Produce` at once.
    pub concurrency: u64,
    /// The target has `async=1`: `Produce` queues, the plugin's callbacks
    /// report the acknowledgements that end the span.
    pub asynchronous: bool,
}

/// The plugin producing as `spec` says.
pub async fn produce(
    peer: &Path,
    yaml: &str,
    spec: &ProduceRun<'_>,
    deadline: Instant,
) -> Result<ChildRun, String> {
    let mut args: Vec<String> = vec![
        "-mode".into(),
        "bench-produce".into(),
        "-service".into(),
        spec.service.into(),
        "-n".into(),
        spec.messages.to_string(),
        "-size".into(),
        spec.value_size.to_string(),
        "-concurrency".into(),
        spec.concurrency.to_string(),
    ];
    if spec.asynchronous {
        args.push("-async".to_owned());
    }
    run(peer, yaml, &args, deadline).await
}

async fn run(
    peer: &Path,
    yaml: &str,
    args: &[String],
    deadline: Instant,
) -> Result<ChildRun, String> {
    let conf = write_yaml(yaml)?;
    let mut child = Command::new(peer)
        .arg("-conf")
        .arg(&conf)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", peer.display()))?;
    let pid = child
        .id()
        .ok_or("the plugin's process ended at once")?
        .to_string();
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    let figures = tokio::time::timeout_at(deadline.into(), async {
        while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                if v["event"] == "figures" {
                    return Ok(v);
                }
            }
        }
        Err("the plugin's process ended without figures".to_owned())
    })
    .await
    .map_err(|_| "the plugin's side did not finish before the run timeout".to_owned())??;
    // The child waits for stdin to close: its /proc entries still exist.
    let cpu_seconds = probe::cpu_seconds_of(&pid);
    let peak_rss_kib = probe::peak_rss_kib_of(&pid);
    drop(child.stdin.take());
    let status = child.wait().await.map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&conf);
    if !status.success() {
        return Err(format!("the plugin's process failed ({status})"));
    }
    if figures["failed"].as_u64().unwrap_or(0) > 0 {
        return Err(format!("the plugin failed {} sends", figures["failed"]));
    }
    Ok(ChildRun {
        messages: figures["messages"]
            .as_u64()
            .ok_or("figures without messages")?,
        seconds: figures["seconds"]
            .as_f64()
            .ok_or("figures without seconds")?,
        cpu_seconds,
        peak_rss_kib,
    })
}
