//! The executable's own contract: help that teaches, usage errors that exit 2. (Having an
//! integration test here also makes `cargo test --workspace` build the executable that the
//! workspace's `tests/` crate runs.)

use std::process::Command;

fn kslink_patch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kslink-patch"))
}

#[test]
fn help_names_the_inputs_outputs_and_exit_status() {
    let out = kslink_patch().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "--location",
        "--table",
        "--report",
        "--in-place",
        "Exit status",
        "3 when",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let common = ["--location", "l", "--table", "t"];
    for extra in [
        &["elf"][..],
        &["-o", "out", "--in-place", "elf"],
        &["--in-place"],
    ] {
        let out = kslink_patch().args(common).args(extra).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
    }
}
