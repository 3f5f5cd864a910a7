//! An Apache Kafka the bench starts itself through `scripts/kafka.sh` (when
//! `--broker kafka` comes without `--bootstrap`), stopped when the value is
//! dropped.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A single-node Apache Kafka in its own state directory.
pub struct StartedKafka {
    script: PathBuf,
    state: PathBuf,
    version: String,
    /// The PLAINTEXT listener.
    pub bootstrap: String,
}

impl StartedKafka {
    /// Starts Apache Kafka `version` (as `scripts/kafka.sh` names it) in
    /// `target/kafka-bench-VERSION`, fetching its jars first if this machine
    /// has none.
    pub fn start(version: &str) -> Result<Self, String> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let script = root.join("scripts/kafka.sh");
        let state = root.join(format!("target/kafka-bench-{version}"));
        eprintln!(
            "kafka-bench: starting Apache Kafka {version} with scripts/kafka.sh (state in {})",
            state.display()
        );
        let output = Command::new("bash")
            .arg(&script)
            .arg("start")
            .env("KAFKA_VERSION", version)
            .env("KAFKA_STATE_DIR", &state)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !output.status.success() {
            return Err(format!("scripts/kafka.sh start failed ({})", output.status));
        }
        let exports = String::from_utf8_lossy(&output.stdout);
        let bootstrap = exports
            .lines()
            .find_map(|l| l.strip_prefix("export KAFKA_RS_TEST_BOOTSTRAP="))
            .ok_or("scripts/kafka.sh start printed no KAFKA_RS_TEST_BOOTSTRAP")?
            .to_owned();
        let version = exports
            .lines()
            .find_map(|l| l.strip_prefix("export KAFKA_RS_TEST_KAFKA_VERSION="))
            .unwrap_or(version)
            .to_owned();
        Ok(StartedKafka {
            script,
            state,
            version,
            bootstrap,
        })
    }

    /// The broker's version, as the script reports it.
    pub fn version(&self) -> &str {
        &self.version
    }
}

impl Drop for StartedKafka {
    fn drop(&mut self) {
        let stopped = Command::new("bash")
            .arg(&self.script)
            .arg("stop")
            .env("KAFKA_STATE_DIR", &self.state)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status();
        if !matches!(stopped, Ok(s) if s.success()) {
            eprintln!(
                "kafka-bench: could not stop the Apache Kafka in {}; stop it with KAFKA_STATE_DIR={} bash scripts/kafka.sh stop",
                self.state.display(),
                self.state.display()
            );
        }
    }
}
