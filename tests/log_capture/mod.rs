//! What a test binary logs through `tracing`, captured by the one global
//! subscriber of that binary, for tests that assert on log lines.
#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// Everything logged at `level` and above since the first call of this
/// binary (the first call's `level` and `echo` hold for the whole binary);
/// with `echo`, every line also goes to stderr, so that a failing run shows
/// what happened.
pub fn logs(level: tracing::Level, echo: bool) -> String {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    let logs = LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let _ = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(level)
            .with_writer(move || LogWriter {
                sink: sink.clone(),
                echo,
            })
            .try_init();
        logs
    });
    String::from_utf8_lossy(&logs.lock().unwrap()).into_owned()
}

struct LogWriter {
    sink: Arc<Mutex<Vec<u8>>>,
    echo: bool,
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.echo {
            let _ = std::io::stderr().write_all(buf);
        }
        self.sink.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
