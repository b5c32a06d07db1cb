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

const STAGES: [&str; 7] = [
    "collect", "table", "pad", "locate", "patch", "verify", "btf",
];

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

/// `kslink show` prints every artifact of a real run as text and as JSON, with what they
/// hold (the symbols as nm lines, the table's count), and says what a file that is no
/// artifact is.
#[test]
fn show_prints_every_artifact_of_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let built = dir.path().join("built");
    let out = kslink(&["demo", "--quiet", "--keep", built.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let work = built.join(".kslink-demo");
    let show = |file: &str, json: bool| {
        let path = work.join(file);
        let mut args = vec!["show", path.to_str().unwrap()];
        if json {
            args.push("--json");
        }
        let out = kslink(&args);
        assert!(out.status.success(), "show {file}: {}", stderr(&out));
        stdout(&out)
    };
    for (file, kind) in [
        ("predicted.symbols", "SymbolSet"),
        ("final.symbols", "SymbolSet"),
        ("first.table", "KallsymsTable"),
        ("final.table", "KallsymsTable"),
        ("frame.pad", "PadSpec"),
        ("location", "TableLocation"),
        ("patch.report", "PatchReport"),
    ] {
        let text = show(file, false);
        assert_eq!(text.lines().next(), Some(kind), "{file}:\n{text}");
        let json: serde_json::Value = serde_json::from_str(&show(file, true)).unwrap();
        assert_eq!(json["kind"], kind, "{file}");
        assert!(json["content"].is_object(), "{file}");
    }
    let symbols = show("final.symbols", false);
    assert!(
        symbols
            .lines()
            .any(|l| l.trim_start().ends_with(" T demo_main")),
        "{symbols}"
    );
    let table: serde_json::Value = serde_json::from_str(&show("final.table", true)).unwrap();
    let report: serde_json::Value = serde_json::from_str(&show("patch.report", true)).unwrap();
    assert_eq!(table["content"]["num_syms"], report["content"]["num_syms"]);
    assert_eq!(table["content"]["num_syms"], 43);

    let out = kslink(&["show", built.join("demo").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("an ELF file, not a kslink artifact"),
        "{}",
        stderr(&out)
    );
}

/// The README's walk through the pipeline by hand runs as printed: the example links once
/// and passes its own check.
#[test]
fn the_readme_walkthrough_runs_as_printed() {
    let top = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(top.join("README.md")).unwrap();
    let section = readme
        .split("\n## The pipeline by hand\n")
        .nth(1)
        .expect("the README has the walkthrough");
    let script: Vec<&str> = section
        .lines()
        .skip_while(|line| !line.starts_with("    "))
        .take_while(|line| line.starts_with("    ") || line.is_empty())
        .map(|line| line.strip_prefix("    ").unwrap_or(line))
        .collect();
    assert!(script.len() > 10, "{script:?}");
    let dir = tempfile::tempdir().unwrap();
    let script = script
        .join("\n")
        .replace("/tmp/walk", &dir.path().join("walk").display().to_string());
    let bin = bin_path("kslink");
    let out = Command::new("bash")
        .args(["-e", "-c", &script])
        .current_dir(&top)
        // The binaries under test, whichever profile built them.
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.parent().unwrap().display(),
                std::env::var("PATH").unwrap()
            ),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("selfcheck: pass"), "{}", stdout(&out));
    assert!(stdout(&out).contains("pad_waste: 0"), "{}", stdout(&out));
}

/// A mistyped value gets a suggestion, and a file where a directory belongs is named as
/// such, each in one line with exit status 2.
#[test]
fn mistyped_values_get_suggestions() {
    let dir = tempfile::tempdir().unwrap();
    let link = |flags: &[&str]| {
        let mut args = vec!["link", "--all-symbols", "-o", "prog"];
        args.extend(flags);
        args.extend(["--", "ld", "-T", "demo.lds", "demo.o"]);
        Command::new(bin_path("kslink"))
            .args(&args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    for (flags, said) in [
        (
            &["--profile", "6.12"][..],
            "unknown profile \"6.12\" (did you mean linux-6.12?)",
        ),
        (
            &["--arch", "x86-64"][..],
            "unknown arch \"x86-64\" (did you mean x86_64?)",
        ),
    ] {
        let out = link(flags);
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
        assert!(stderr(&out).contains(said), "{}", stderr(&out));
    }
    let file = dir.path().join("afile");
    std::fs::write(&file, "").unwrap();
    let out = kslink(&["demo", "--keep", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("afile: not a directory: --keep names the directory"),
        "{}",
        stderr(&out)
    );
}
