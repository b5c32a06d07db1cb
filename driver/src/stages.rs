//! The stage executables: which program runs each stage, and how it is found.
//!
//! A stage is run as its own executable, so that any program that reads and writes the same
//! artifacts can stand in for it (`--stage table=/path/to/my-table`). By default stage `NAME`
//! is `kslink-NAME` from the directory the driver itself is in, or else from `PATH`.

use std::collections::BTreeMap;
use std::env;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The stages the driver runs, by the names `--stage` takes.
pub const STAGE_NAMES: [&str; 6] = ["collect", "table", "pad", "locate", "patch", "btf"];

/// The executable of every stage.
#[derive(Clone, Debug)]
pub struct StageSet {
    executables: BTreeMap<&'static str, PathBuf>,
}

impl StageSet {
    /// The default executables, with `overrides` (`NAME=EXE` pairs) in their place.
    pub fn new(overrides: &[(String, PathBuf)]) -> Result<StageSet, String> {
        let mut executables = BTreeMap::new();
        for name in STAGE_NAMES {
            executables.insert(name, default_executable(name));
        }
        for (name, exe) in overrides {
            let Some(known) = STAGE_NAMES.iter().find(|known| **known == name.as_str()) else {
                return Err(format!(
                    "--stage {name}={}: no stage is called {name} (stages: {})",
                    exe.display(),
                    STAGE_NAMES.join(", ")
                ));
            };
            executables.insert(known, exe.clone());
        }
        Ok(StageSet { executables })
    }

    /// The executable that runs stage `name` (one of [`STAGE_NAMES`]).
    pub fn executable(&self, name: &str) -> &Path {
        &self.executables[name]
    }
}

/// `kslink-NAME` beside the running driver if it is there, else the bare name for `PATH`.
pub fn default_executable(name: &str) -> PathBuf {
    let file = format!("kslink-{name}");
    env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&file)))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from(file))
}

/// Parses a `--stage NAME=EXE` value.
pub fn parse_override(value: &str) -> Result<(String, PathBuf), String> {
    match value.split_once('=') {
        Some((name, exe)) if !name.is_empty() && !exe.is_empty() => {
            Ok((name.to_string(), PathBuf::from(OsStr::new(exe))))
        }
        _ => Err(format!("expected NAME=EXECUTABLE, got `{value}`")),
    }
}
