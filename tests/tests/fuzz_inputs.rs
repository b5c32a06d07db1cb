//! Replays every committed fuzz input through its target's function, without a fuzzer:
//! `fuzz/corpus/TARGET/` (the seeds and what the fuzzer kept) and `fuzz/regressions/TARGET/`
//! (every crash, hang or blow-up a fuzzer found, minimized). Any panic fails the test, as
//! does an input that takes longer than `SLOW`.
//!
//! The functions are those of `kslink-fuzz-targets`, which the cargo-fuzz targets of `fuzz/`
//! call; see `fuzz/README.md`.

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kslink_fuzz_targets::{Target, TARGETS};

/// Longer than any committed input should take: the fuzzers run with `-timeout=10`.
const SLOW: Duration = Duration::from_secs(10);

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of `dir`, sorted; none if it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("reading a fuzz input directory").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every file through `run`; returns one line per failure.
fn replay(files: &[PathBuf], run: Target) -> Vec<String> {
    let mut failures = Vec::new();
    for file in files {
        let data = fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let start = Instant::now();
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| run(&data)));
        let took = start.elapsed();
        match outcome {
            Err(payload) => {
                let message = payload
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| payload.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)");
                failures.push(format!("{}: panicked: {message}", file.display()));
            }
            Ok(()) if took > SLOW => {
                failures.push(format!("{}: took {took:?}", file.display()));
            }
            Ok(()) => {}
        }
    }
    failures
}

#[test]
fn committed_fuzz_inputs_do_not_panic() {
    let fuzz = fuzz_dir();
    let mut failures = Vec::new();
    for &(name, run) in TARGETS {
        let corpus = inputs(&fuzz.join("corpus").join(name));
        assert!(
            !corpus.is_empty(),
            "fuzz/corpus/{name}/ has no seeds: every target keeps its corpus"
        );
        failures.extend(replay(&corpus, run));
        failures.extend(replay(&inputs(&fuzz.join("regressions").join(name)), run));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_input_directory_is_a_target() {
    let names: Vec<&str> = TARGETS.iter().map(|&(name, _)| name).collect();
    for kind in ["corpus", "regressions"] {
        for dir in inputs_dirs(&fuzz_dir().join(kind)) {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                names.contains(&name.as_str()),
                "fuzz/{kind}/{name}/ belongs to no target of kslink-fuzz-targets: its inputs \
                 would never be replayed"
            );
        }
    }
}

fn inputs_dirs(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_panicking_parser_fails_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("input");
    fs::write(&file, b"x").unwrap();
    let failures = replay(&[file], |data| {
        let _ = data[1];
    });
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].contains("panicked"), "{failures:?}");
}
