//! The executable's own contract: help that teaches, usage errors that exit 2. (Having an
//! integration test here also makes `cargo test --workspace` build the executable that the
//! workspace's `tests/` crate runs.)

use std::process::Command;

fn kslink_locate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kslink-locate"))
}

#[test]
fn help_names_the_inputs_output_and_exit_status() {
    let out = kslink_locate().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in ["PADSPEC", "--section", "LOCATION", "ELF", "Exit status"] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["vmlinux"][..],
        &["--pad", "p", "vmlinux"],
        &["--pad", "p", "-o", "l"],
    ] {
        let out = kslink_locate().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}
