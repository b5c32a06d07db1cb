//! The executable's own contract: help that teaches, errors that exit non-zero with one
//! line. (Having an integration test here also makes `cargo test --workspace` build the
//! executable that the workspace's `tests/` crate runs.)

use std::process::Command;

fn kslink_verify() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kslink-verify"))
}

#[test]
fn help_names_what_it_reads() {
    let out = kslink_verify().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "/proc/kallsyms",
        "KallsymsTable",
        "--check",
        "--text-address",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn a_text_file_is_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "not a table\n").unwrap();
    let out = kslink_verify().arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("notes.txt"), "{stderr}");
}
