//! What a user sees of `kslink` itself: the help that lists every stage, `kslink help
//! STAGE`, suggestions for a mistyped command, the defaults in `kslink link --help`.

use std::process::{Command, Output};

use kslink_tests::bin_path;

fn kslink(args: &[&str]) -> Output {
    Command::new(bin_path("kslink"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const STAGES: [&str; 6] = ["collect", "table", "pad", "locate", "patch", "verify"];

#[test]
fn the_help_lists_every_command_and_stage_with_its_job() {
    let out = kslink(&["--help"]);
    assert!(out.status.success());
    let help = stdout(&out);
    for command in ["link", "demo", "help"].iter().chain(STAGES.iter()) {
        assert!(
            help.lines().any(|line| {
                let mut words = line.split_whitespace();
                words.next() == Some(command) && words.next().is_some()
            }),
            "no line for {command} in:\n{help}"
        );
    }
}

#[test]
fn help_for_a_stage_is_the_stages_own() {
    for stage in STAGES {
        let through = kslink(&["help", stage]);
        assert!(through.status.success(), "kslink help {stage}: {through:?}");
        let own = Command::new(bin_path(&format!("kslink-{stage}")))
            .arg("--help")
            .output()
            .unwrap();
        assert_eq!(stdout(&through), stdout(&own), "kslink help {stage}");
        assert!(!stdout(&own).is_empty());
        let dashed = kslink(&[stage, "--help"]);
        assert_eq!(stdout(&dashed), stdout(&own), "kslink {stage} --help");
    }
    let link = kslink(&["help", "link"]);
    assert!(link.status.success());
    assert!(stdout(&link).contains("--all-symbols"), "{}", stdout(&link));
}

#[test]
fn a_mistyped_command_gets_a_suggestion() {
    let out = kslink(&["lnik"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("'link'"), "{}", stderr(&out));
    let out = kslink(&["help", "tabel"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no command `tabel` (did you mean `table`?)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn link_help_shows_the_defaults() {
    let out = kslink(&["link", "--help"]);
    assert!(out.status.success());
    let help = stdout(&out);
    assert!(help.contains("[default: linux-6.12]"), "{help}");
    assert!(help.contains("(default: System.map beside OUT)"), "{help}");
    assert!(
        help.contains("(default: .kslink-NAME beside OUT)"),
        "{help}"
    );
}
