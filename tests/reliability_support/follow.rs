//! Following a record file as it grows: each read parses only the lines
//! appended since the last one, so a test can watch a file of a hundred
//! thousand lines every few hundred milliseconds.

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{parse_assignment, parse_line, Line};

/// The lines of one record file read so far.
pub struct Follow {
    path: PathBuf,
    /// Bytes consumed: always the end of a whole line.
    position: u64,
    lines: Vec<Line>,
    handled: BTreeSet<(i32, i64)>,
    /// Per run: records handled and the time of its last one.
    runs: HashMap<String, (usize, u128)>,
    /// Per run: when it was first given partitions.
    assigned: HashMap<String, u128>,
    /// When any process was last given or deprived of partitions.
    last_change: Option<u128>,
}

impl Follow {
    /// Follows `path` (a missing file has no lines yet).
    pub fn new(path: &Path) -> Self {
        Follow {
            path: path.to_owned(),
            position: 0,
            lines: Vec::new(),
            handled: BTreeSet::new(),
            runs: HashMap::new(),
            assigned: HashMap::new(),
            last_change: None,
        }
    }

    /// Reads what was appended since the last call.
    pub fn update(&mut self) -> &mut Self {
        let Ok(mut file) = std::fs::File::open(&self.path) else {
            return self;
        };
        if file.seek(SeekFrom::Start(self.position)).is_err() {
            return self;
        }
        let mut bytes = Vec::new();
        if file.read_to_end(&mut bytes).is_err() {
            return self;
        }
        // A line still being written stays for the next call.
        let Some(end) = bytes.iter().rposition(|b| *b == b'\n') else {
            return self;
        };
        self.position += end as u64 + 1;
        for text in String::from_utf8_lossy(&bytes[..end]).lines() {
            if let Some(a) = parse_assignment(text) {
                self.last_change = self.last_change.max(Some(a.at_ms));
                if a.assigned {
                    self.assigned.entry(a.run).or_insert(a.at_ms);
                }
            }
            if let Some(line) = parse_line(text) {
                if line.done {
                    self.handled.insert((line.partition, line.offset));
                    let run = self.runs.entry(line.run.clone()).or_default();
                    run.0 += 1;
                    run.1 = run.1.max(line.at_ms);
                }
                self.lines.push(line);
            }
        }
        self
    }

    /// Every line read so far.
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// Distinct records handled to the end.
    pub fn handled_unique(&self) -> usize {
        self.handled.len()
    }

    /// Records `run` handled to the end.
    pub fn handled_by(&self, run: &str) -> usize {
        self.runs.get(run).map_or(0, |r| r.0)
    }

    /// When `run` was first given partitions (unix ms), if ever.
    pub fn first_assigned(&self, run: &str) -> Option<u128> {
        self.assigned.get(run).copied()
    }

    /// When any process was last given or deprived of partitions (unix ms).
    pub fn last_change(&self) -> Option<u128> {
        self.last_change
    }

    /// When `run` last handled a record (unix ms), if ever.
    pub fn last_handled_by(&self, run: &str) -> Option<u128> {
        self.runs.get(run).map(|r| r.1)
    }
}
