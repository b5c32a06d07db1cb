//! The work directory's record of finished steps, which makes a build resumable.
//!
//! Every step has a key: a SHA-256 over the step's name, its command line, and the identity of
//! each input. An input made by an earlier step is identified by that step's key; any other
//! input by its [`Stamp`] (length, modification and change times, inode), which is how make
//! decides what changed, and costs nothing on a 1 GB `vmlinux.o`. The change time is what no
//! write can keep (a tool that restores the modification time after writing, as `cp -p` or
//! `touch -r` do, still moves it), so an output that anything but its step wrote is never
//! taken for that step's. A finished step leaves a record
//! (`journal/STEP.json`, written atomically after its outputs): the key and the stamps of
//! its outputs. A step is skipped when its record has the same key and every output still has
//! its recorded stamp; anything else runs it again, and the steps after it follow because
//! their keys contain its key.
//!
//! One step rewrites an earlier step's output in place: the patch writes the final table over
//! the linked file. It records the stamp it started from ([`StepRecord::rewrites`]) before
//! touching the file, so the linked file still counts as the link's output afterwards, and an
//! interrupted patch is simply run again (it is idempotent) instead of relinking.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use kslink_schema::fsio::AtomicFile;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What identifies one version of a file cheaply: length, modification and change times,
/// inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// Length in bytes.
    pub len: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Nanoseconds of the modification time.
    pub mtime_nsec: i64,
    /// Status change time, seconds since the epoch: set by the kernel on every write.
    pub ctime: i64,
    /// Nanoseconds of the status change time.
    pub ctime_nsec: i64,
    /// Inode number.
    pub ino: u64,
    /// Device number.
    pub dev: u64,
}

impl Stamp {
    /// The stamp of the file at `path`, or `None` if it does not exist.
    pub fn of(path: &Path) -> io::Result<Option<Stamp>> {
        match fs::metadata(path) {
            Ok(meta) => Ok(Some(Stamp {
                len: meta.len(),
                mtime: meta.mtime(),
                mtime_nsec: meta.mtime_nsec(),
                ctime: meta.ctime(),
                ctime_nsec: meta.ctime_nsec(),
                ino: meta.ino(),
                dev: meta.dev(),
            })),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }
}

/// A file a step wrote, as it was when the step finished.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedFile {
    /// The file.
    pub path: PathBuf,
    /// Its stamp then.
    pub stamp: Stamp,
}

/// The record a finished (or, for in-place rewrites, a started) step leaves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The step's name.
    pub step: String,
    /// The step's key (hex SHA-256).
    pub key: String,
    /// False while an in-place step is under way: its `rewrites` are recorded, its outputs
    /// are not yet.
    pub finished: bool,
    /// The files it wrote.
    pub outputs: Vec<RecordedFile>,
    /// Files of earlier steps it rewrites in place, with the stamp they had before.
    pub rewrites: Vec<RecordedFile>,
    /// Wall time it took.
    pub seconds: f64,
}

/// The journal of one work directory.
pub struct Journal {
    dir: PathBuf,
    records: HashMap<String, StepRecord>,
}

impl Journal {
    /// Opens the journal in `work_dir/journal` (creating it if needed, unless `read_only`:
    /// a dry run finds an empty journal where there is none), reading every record. A
    /// record that cannot be read is ignored: its step runs again.
    pub fn open(work_dir: &Path, read_only: bool) -> io::Result<Journal> {
        let dir = work_dir.join("journal");
        let mut records = HashMap::new();
        if read_only && !dir.is_dir() {
            return Ok(Journal { dir, records });
        }
        fs::create_dir_all(&dir)?;
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json") {
                if let Some(record) = fs::read(&path)
                    .ok()
                    .and_then(|bytes| serde_json::from_slice::<StepRecord>(&bytes).ok())
                {
                    records.insert(record.step.clone(), record);
                }
            }
        }
        Ok(Journal { dir, records })
    }

    /// True if `step` finished with this key and its outputs are as it left them.
    pub fn is_done(&self, step: &str, key: &str) -> io::Result<bool> {
        let Some(record) = self.records.get(step) else {
            return Ok(false);
        };
        if !record.finished || record.key != key {
            return Ok(false);
        }
        for output in &record.outputs {
            if !self.is_current(output)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// True if the file still has the recorded stamp, or later steps rewrote it in place
    /// from that stamp and it is as the last of them left it (or one of them was cut short:
    /// it runs again, and is idempotent).
    fn is_current(&self, file: &RecordedFile) -> io::Result<bool> {
        let now = Stamp::of(&file.path)?;
        Ok(self.became(&file.path, file.stamp, now, self.records.len()))
    }

    /// True if the file at `path` with the stamp `from` is the one there `now`: itself, or
    /// through at most `rewrites` recorded rewrites.
    fn became(&self, path: &Path, from: Stamp, now: Option<Stamp>, rewrites: usize) -> bool {
        if now == Some(from) {
            return true;
        }
        rewrites > 0
            && self.records.values().any(|record| {
                record
                    .rewrites
                    .iter()
                    .any(|rewrite| rewrite.path == path && rewrite.stamp == from)
                    && (!record.finished
                        || record.outputs.iter().any(|output| {
                            output.path == path
                                && output.stamp != from
                                && self.became(path, output.stamp, now, rewrites - 1)
                        }))
            })
    }

    /// The record of `step`, if any.
    pub fn record(&self, step: &str) -> Option<&StepRecord> {
        self.records.get(step)
    }

    /// Forgets `step` (before running it again, so that a run cut short is not taken for a
    /// finished one).
    pub fn forget(&mut self, step: &str) -> io::Result<()> {
        self.records.remove(step);
        match fs::remove_file(self.path(step)) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        }
    }

    /// Stores a record, atomically.
    pub fn store(&mut self, record: StepRecord) -> io::Result<()> {
        let mut file = AtomicFile::create(&self.path(&record.step))?;
        serde_json::to_writer_pretty(&mut file, &record)?;
        file.write_all(b"\n")?;
        file.commit()?;
        self.records.insert(record.step.clone(), record);
        Ok(())
    }

    fn path(&self, step: &str) -> PathBuf {
        self.dir.join(format!("{step}.json"))
    }
}

/// Builds a step key from its parts.
#[derive(Default)]
pub struct KeyBuilder(Sha256);

impl KeyBuilder {
    /// Adds one part; parts are length-prefixed so that no two lists hash alike.
    pub fn part(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    /// The key, as hex.
    pub fn finish(self) -> String {
        self.0
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}
