//! The executable's own contract: help that says what it reads and writes, errors that exit
//! non-zero with one line. (An integration test here also makes `cargo test --workspace`
//! build the executable that the workspace's `tests/` crate runs.)

use std::process::Command;

fn kslink_collect() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kslink-collect"))
}

#[test]
fn help_names_what_it_reads_and_writes() {
    let out = kslink_collect().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "--linked",
        "--emit-map",
        "--emit-nm",
        "SymbolSet",
        "mksysmap",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn a_text_file_is_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "not an ELF file\n").unwrap();
    let map = dir.path().join("System.map");
    let out = kslink_collect()
        .arg("--linked")
        .arg(&file)
        .arg("--emit-map")
        .arg(&map)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        format!(
            "kslink-collect: error: {}: not an ELF file\n",
            file.display()
        )
    );
    assert!(!map.exists());
}

#[test]
fn no_input_is_a_usage_error() {
    let out = kslink_collect().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn linker_flavour_is_gnu_or_lld_and_only_for_predict() {
    let out = kslink_collect()
        .args(["--predict", "--linker", "gold", "-T", "x.lds", "a.o"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("unknown linker gold: use gnu (GNU ld: ld, ld.bfd) or lld (ld.lld)"),
        "{stderr}"
    );
    let out = kslink_collect()
        .args(["--linked", "vmlinux", "--linker", "lld"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let help = kslink_collect().arg("--help").output().unwrap();
    assert!(String::from_utf8(help.stdout).unwrap().contains("--linker"));
}

/// With no arguments it shows its help, which names all three modes, and exits 2.
#[test]
fn no_arguments_show_the_three_modes() {
    let out = kslink_collect().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let help =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    for mode in ["--linked", "--predict", "--compare"] {
        assert!(help.contains(mode), "{help}");
    }
    assert!(
        !help.contains("required arguments were not provided"),
        "{help}"
    );
}
