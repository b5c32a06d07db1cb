//! The executable's own contract: help that teaches, usage errors that exit 2 with one line.
//! (Having an integration test here also makes `cargo test --workspace` build `kslink`, which
//! the workspace's `tests/` crate runs.)

use std::process::Command;

fn kslink() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kslink"))
}

#[test]
fn help_names_the_commands_and_exit_statuses() {
    let out = kslink().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in ["link", "demo", "kslink table", "Exit status"] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
    let out = kslink().args(["link", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "{kallsyms}",
        "--stage",
        "--work-dir",
        "--json",
        "--dry-run",
        "LINKER ARGS",
    ] {
        assert!(help.contains(needle), "link --help lacks {needle}:\n{help}");
    }
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    let cases: &[&[&str]] = &[
        &["link", "-o", "out"],
        &["link", "-o", "out", "--", "ld", "-o", "x", "a.o"],
        &["link", "-o", "out", "--", "ld", "a.o"],
        &[
            "link",
            "-o",
            "out",
            "--stage",
            "nosuch=/bin/true",
            "--",
            "ld",
            "-T",
            "s",
            "a.o",
        ],
        &[
            "link", "-o", "out", "--stage", "table", "--", "ld", "-T", "s", "a.o",
        ],
        &["no-such-stage-xyz"],
    ];
    let dir = tempfile::tempdir().unwrap();
    for args in cases {
        let out = kslink()
            .args(*args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.trim().is_empty(), "{args:?}: no message");
        if !stderr.starts_with("error:") {
            // clap's own errors carry a usage block; kslink's are one line
            assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        }
    }
    assert!(!dir.path().join("out").exists());
}
