//! The executable's own contract: help that explains the slack and the exit statuses, usage
//! errors that exit 2. (Having an integration test here also makes `cargo test --workspace`
//! build the executable that the workspace's `tests/` crate runs.)

use std::process::Command;

fn kslink_pad() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kslink-pad"))
}

#[test]
fn help_explains_the_slack_and_the_exit_statuses() {
    let out = kslink_pad().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "TABLE",
        "--at-least",
        "--slack-per-mille",
        "[default: 0]",
        "The default slack is 0",
        "Exit status",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn usage_errors_exit_2_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("frame.pad");
    let output = output.to_str().unwrap();
    for args in [
        vec!["table.tbl"],
        vec!["-o", output],
        vec!["--slack-per-mille", "10001", "-o", output, "table.tbl"],
        vec!["--slack-per-mille", "-1", "-o", output, "table.tbl"],
        vec!["--frame", "x", "-o", output, "table.tbl"],
    ] {
        let out = kslink_pad().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!dir.path().join("frame.pad").exists(), "{args:?}");
    }
}
