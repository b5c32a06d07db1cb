//! The executable's own contract: help that teaches, usage errors that exit 2. (Having an
//! integration test here also makes `cargo test --workspace` build the executable that the
//! workspace's `tests/` crate runs.)

use std::process::Command;

fn kslink_table() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kslink-table"))
}

#[test]
fn help_names_the_input_outputs_and_profiles() {
    let out = kslink_table().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "INPUT",
        "--emit-object",
        "--emit-asm",
        "linux-6.12",
        "linux-6.1",
        "--frame",
        "Exit status",
        "3 when the table does not fit the frame",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("map");
    std::fs::write(&map, "ffffffff81000000 T _text\n").unwrap();
    for args in [
        vec!["--profile", "linux-9.9"],
        vec!["--arch", "vax"],
        vec!["--base-relative"],
    ] {
        let out = kslink_table().args(&args).arg(&map).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("kslink-table: error: "), "{stderr}");
    }
}
