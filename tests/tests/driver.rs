//! `kslink link` and `kslink demo` on the embedded example, with the real stage executables,
//! the system's cc, GNU ld and lld: one link, a table that decodes to the linked file's own
//! symbols, resume after SIGKILL at every step, swapped stages, a forced misfit, the BTF
//! check with the real pahole, bad input.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use kslink_driver::demo::DEMO_CFLAGS;
use kslink_schema::artifact;
use kslink_schema::{BtfFit, DataLayout, DatasecFit, KallsymsTable, TableOptions};
use kslink_table::{build, symbols_from_set, LINUX_6_12};
use kslink_tests::{bin_path, run_checked, write_executable};
use kslink_verify::ElfDecodeOptions;

/// The example's sources, from the repository.
fn demo_source(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/demo")
        .join(name)
}

fn kslink() -> Command {
    Command::new(bin_path("kslink"))
}

fn json_line(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("");
    serde_json::from_str(last).unwrap_or_else(|e| {
        panic!(
            "last line of stdout is not JSON ({e}):\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The table decoded from a linked file equals the table built from the file's own symbols,
/// decoded.
fn assert_table_matches_symbols(elf: &Path) {
    let bytes = fs::read(elf).unwrap();
    let linked = kslink_collect::collect_linked(elf).unwrap();
    let options = TableOptions {
        all_symbols: true,
        ..TableOptions::default()
    };
    let symbols = symbols_from_set(&linked, &LINUX_6_12, "linked");
    let built = build(symbols, &LINUX_6_12, options).unwrap();
    let layout = DataLayout {
        pointer_bytes: 8,
        big_endian: false,
    };
    let table: KallsymsTable = built.to_artifact(layout);
    let expected = kslink_verify::view_artifact(&table)
        .unwrap()
        .symbols()
        .unwrap();
    let file = object::File::parse(&*bytes).unwrap();
    let view = kslink_verify::view_elf(&file, ElfDecodeOptions::default()).unwrap();
    view.check().unwrap();
    assert_eq!(view.symbols().unwrap(), expected, "{}", elf.display());
    assert!(expected.len() > 30, "{} symbols", expected.len());
}

#[test]
fn demo_links_once_with_gnu_ld_and_lld() {
    for linker in ["ld", "ld.lld"] {
        let dir = tempfile::tempdir().unwrap();
        let out = kslink()
            .args(["demo", "--json", "--linker", linker, "--keep"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert_success(&out, linker);
        let report = json_line(&out);
        assert_eq!(report["selfcheck"], "pass", "{linker}: {report}");
        assert_eq!(report["links"], 1, "{linker}: {report}");
        assert_eq!(report["pad_waste"], 0, "{linker}: {report}");
        assert!(
            report["symbols"].as_u64().unwrap() > 30,
            "{linker}: {report}"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("selfcheck: pass"), "{stdout}");
        assert_table_matches_symbols(&dir.path().join("demo"));
    }
}

/// A directory with the example compiled, and wrapper stages that count their runs and can
/// kill the driver, so that a test can interrupt any step.
struct Bench {
    dir: tempfile::TempDir,
}

impl Bench {
    fn new() -> Bench {
        let dir = tempfile::tempdir().unwrap();
        for name in ["demo.c", "demo.lds"] {
            fs::copy(demo_source(name), dir.path().join(name)).unwrap();
        }
        let status = Command::new("cc")
            .args(DEMO_CFLAGS)
            .args(["-c", "-o", "demo.o", "demo.c"])
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert!(status.success());
        let bench = Bench { dir };
        for stage in ["collect", "table", "pad", "locate", "patch"] {
            bench.wrapper(stage, &bin_path(&format!("kslink-{stage}")));
        }
        bench.wrapper("ld", Path::new("/usr/bin/ld"));
        bench
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `wrap-NAME`: counts its run in `runs`; if the count is `$KILL_AT`, kills the driver
    /// (its parent) before (`$KILL_WHEN=before`) or after running the real program; while the
    /// file `$HOLD` exists, waits before running the real program; if NAME is `$HOOK_STEP`,
    /// runs the shell command `$HOOK_BEFORE` before the real program (`kill -SEGV $$` there
    /// makes the program die by a signal) and `$HOOK_AFTER` after it. The
    /// question the driver asks the linker in every build (`--version`, which says whose
    /// rules to predict by) and the table stage (`--check`, whether it knows the options) are
    /// passed on uncounted: they are no steps.
    fn wrapper(&self, name: &str, real: &Path) {
        let path = self.path(&format!("wrap-{name}"));
        let runs = self.path("runs");
        let script = format!(
            "#!/bin/bash\n\
             if [ \"$*\" = --version ]; then exec '{real}' --version; fi\n\
             case \" $* \" in *\" --check \"*) exec '{real}' \"$@\";; esac\n\
             echo {name} >> '{runs}'\n\
             n=$(wc -l < '{runs}')\n\
             if [ \"$n\" = \"$KILL_AT\" ] && [ \"$KILL_WHEN\" = before ]; then kill -9 $PPID; exit 1; fi\n\
             while [ -n \"$HOLD\" ] && [ -e \"$HOLD\" ]; do sleep 0.05; done\n\
             if [ \"$HOOK_STEP\" = {name} ]; then eval \"$HOOK_BEFORE\"; fi\n\
             '{real}' \"$@\"\n\
             rc=$?\n\
             if [ \"$HOOK_STEP\" = {name} ]; then eval \"$HOOK_AFTER\"; fi\n\
             if [ \"$n\" = \"$KILL_AT\" ]; then kill -9 $PPID; sleep 1; fi\n\
             exit $rc\n",
            runs = runs.display(),
            real = real.display()
        );
        write_executable(&path, script);
    }

    /// `kslink link` of the example into `out`, through the wrappers.
    fn link(&self, out: &str, extra: &[&str]) -> Command {
        let mut cmd = kslink();
        cmd.current_dir(self.dir.path());
        cmd.args(["link", "--all-symbols", "--json", "-o", out]);
        for stage in ["collect", "table", "pad", "locate", "patch"] {
            cmd.arg("--stage").arg(format!(
                "{stage}={}",
                self.path(&format!("wrap-{stage}")).display()
            ));
        }
        cmd.args(extra);
        cmd.args(["--", "./wrap-ld", "-T", "demo.lds", "demo.o"]);
        cmd.env_remove("KILL_AT");
        cmd
    }

    /// Links `out` with the work directory `work`, which must succeed: the output's bytes.
    fn link_output(&self, out: &str, work: &str) -> Vec<u8> {
        let result = self.link(out, &["--work-dir", work]).output().unwrap();
        assert_success(&result, &format!("the link of {out}"));
        fs::read(self.path(out)).unwrap()
    }

    fn runs(&self) -> Vec<String> {
        fs::read_to_string(self.path("runs"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn step_skipped(report: &serde_json::Value) -> Vec<(String, bool)> {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["skipped"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn resume_after_sigkill_at_every_step() {
    let bench = Bench::new();
    let out = bench
        .link("reference", &["--work-dir", "ref-work"])
        .output()
        .unwrap();
    assert_success(&out, "uninterrupted link");
    let reference = fs::read(bench.path("reference")).unwrap();
    let order = bench.runs();
    assert_eq!(
        order,
        ["collect", "table", "pad", "ld", "collect", "table", "locate", "patch"]
    );
    let run = Command::new(bench.path("reference")).output().unwrap();
    assert_success(&run, "the linked example");

    for when in ["before", "after"] {
        for kill_at in 1..=order.len() {
            let what = format!("killed {when} run {kill_at} ({})", order[kill_at - 1]);
            let out_name = format!("out-{when}-{kill_at}");
            let work = format!("work-{when}-{kill_at}");
            fs::remove_file(bench.path("runs")).unwrap();
            let mut killed = bench.link(&out_name, &["--work-dir", &work]);
            killed
                .env("KILL_AT", kill_at.to_string())
                .env("KILL_WHEN", when);
            let status = killed.process_group(0).status().unwrap();
            assert_eq!(status.signal(), Some(9), "{what}: {status:?}");
            assert!(!bench.path(&out_name).exists(), "{what}: an output exists");

            fs::remove_file(bench.path("runs")).unwrap();
            let out = bench
                .link(&out_name, &["--work-dir", &work])
                .output()
                .unwrap();
            assert_success(&out, &what);
            assert_eq!(
                fs::read(bench.path(&out_name)).unwrap(),
                reference,
                "{what}"
            );
            let report = json_line(&out);
            // What finished before the kill is not redone: the runs of the resumed build are
            // the rest of the order, from the killed step on.
            let resumed = bench.runs();
            assert_eq!(resumed, order[kill_at - 1..], "{what}: {report}");
            let links = u64::from(resumed.contains(&"ld".to_string()));
            assert_eq!(report["links"], links, "{what}: {report}");
            // The steps in pipeline order are the wrapped runs in order, then install.
            let steps = step_skipped(&report);
            assert_eq!(steps.len(), order.len() + 1, "{what}: {report}");
            for (i, (name, skipped)) in steps.iter().enumerate().take(order.len()) {
                assert_eq!(*skipped, i < kill_at - 1, "{what}: step {name}: {report}");
            }
        }
    }

    // Everything up to date: nothing runs, the output stays.
    fs::remove_file(bench.path("runs")).unwrap();
    let out = bench
        .link("reference", &["--work-dir", "ref-work"])
        .output()
        .unwrap();
    assert_success(&out, "up-to-date link");
    assert!(bench.runs().is_empty(), "{:?}", bench.runs());
    assert_eq!(json_line(&out)["links"], 0);
    assert_eq!(fs::read(bench.path("reference")).unwrap(), reference);
}

#[test]
fn a_swapped_stage_is_the_one_used() {
    let bench = Bench::new();
    let log = bench.path("swapped.log");
    let swapped = bench.path("my-table");
    write_executable(
        &swapped,
        format!(
            "#!/bin/sh\necho \"my-table $*\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            bin_path("kslink-table").display()
        ),
    );
    let out = kslink()
        .current_dir(bench.dir.path())
        .args(["link", "--all-symbols", "-o", "demo", "--stage"])
        .arg(format!("table={}", swapped.display()))
        .args(["--", "ld", "-T", "demo.lds", "demo.o"])
        .output()
        .unwrap();
    assert_success(&out, "link with a swapped table stage");
    let logged = fs::read_to_string(&log).unwrap();
    // The question whether it knows the options, the first table, the final one.
    assert_eq!(logged.lines().count(), 3, "{logged}");
    assert!(
        logged.lines().next().unwrap().ends_with("--check"),
        "{logged}"
    );
    assert!(logged.contains("--frame"), "{logged}");
    assert_success(&Command::new(bench.path("demo")).output().unwrap(), "demo");
}

/// `--btf-view`: the btf step confirms the linked file's `.BTF`, made by the real pahole from
/// an object with variables in the kernel's per-cpu section, against the file before it
/// installs it, and is journaled like the other steps. A link that moves those variables (an
/// object without BTF puts its own per-cpu variable first) exits 3 with one line that names
/// the section, and installs nothing.
#[test]
fn the_btf_step_checks_the_btf_before_the_install() {
    if Command::new("pahole").arg("--version").output().is_err() {
        kslink_tests::skip_for_missing_tool("the BTF step", "pahole", "dwarves");
        return;
    }
    let bench = Bench::new();
    fs::write(
        bench.path("percpu.c"),
        "__attribute__((section(\".data..percpu\"))) int percpu_first = 1;\n\
         __attribute__((section(\".data..percpu\"))) long percpu_second = 2;\n\
         int percpu_sum(void) { return percpu_first + (int)percpu_second; }\n",
    )
    .unwrap();
    fs::write(
        bench.path("shift.c"),
        "__attribute__((section(\".data..percpu\"))) long percpu_shift = 3;\n",
    )
    .unwrap();
    for (source, debug) in [("percpu.c", true), ("shift.c", false)] {
        let mut cc = Command::new("cc");
        cc.args(DEMO_CFLAGS).args(debug.then_some("-g")).arg("-c");
        run_checked(cc.arg(source).current_dir(bench.dir.path()), "cc");
    }
    run_checked(
        Command::new("pahole")
            .args(["-J", "percpu.o"])
            .current_dir(bench.dir.path()),
        "pahole (Debian's dwarves)",
    );
    let script = fs::read_to_string(bench.path("demo.lds")).unwrap();
    let script = script.replacen(
        "\t.data : {",
        "\t.data..percpu : { *(.data..percpu) }\n\t.data : {",
        1,
    );
    assert!(script.contains(".data..percpu :"), "{script}");
    fs::write(bench.path("btf.lds"), script).unwrap();
    let link = |out: &str, objects: &[&str]| {
        kslink()
            .current_dir(bench.dir.path())
            .args(["link", "--all-symbols", "--json", "--btf-view", "percpu.o"])
            .args(["-o", out, "--", "ld", "-T", "btf.lds", "demo.o"])
            .args(objects)
            .output()
            .unwrap()
    };

    let out = link("demo", &["percpu.o"]);
    assert_success(&out, "link with --btf-view");
    let steps = step_skipped(&json_line(&out));
    let names: Vec<&str> = steps.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        &names[names.len() - 3..],
        ["patch", "btf", "install"],
        "{steps:?}"
    );
    let fit: BtfFit = artifact::read(&bench.path(".kslink-demo/btf.fit")).unwrap();
    assert_eq!(
        fit.sections,
        [DatasecFit {
            name: ".data..percpu".to_string(),
            size: 12,
            variables: 2
        }]
    );
    assert_eq!(fit.functions, 1);
    assert_success(&Command::new(bench.path("demo")).output().unwrap(), "demo");
    let again = link("demo", &["percpu.o"]);
    assert_success(&again, "the same link again");
    let steps = step_skipped(&json_line(&again));
    assert!(steps.iter().all(|(_, skipped)| *skipped), "{steps:?}");

    let out = link("moved", &["shift.o", "percpu.o"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Standard error has the progress lines (standard output has the JSON) and one error.
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("kslink: "))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("kslink: moved: not installed")
            && lines[0].contains("the BTF gives .data..percpu 12 bytes, the file 20"),
        "{stderr}"
    );
    assert!(!bench.path("moved").exists());
}

/// The prediction follows the linker the command runs: `--linker gnu` for `ld`, `--linker
/// lld` for `ld.lld` (found by its `--version`), and switching the linker is a changed
/// input of the predict step; both links fit the frame exactly.
#[test]
fn the_prediction_follows_the_linker() {
    let bench = Bench::new();
    let log = bench.path("collect.log");
    let logging = bench.path("logging-collect");
    write_executable(
        &logging,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            bin_path("kslink-collect").display()
        ),
    );
    // lld under a name that does not say so: its --version does.
    let lld = bench.path("linker");
    write_executable(&lld, "#!/bin/sh\nexec ld.lld \"$@\"\n");
    for (linker, flavour) in [("ld", "gnu"), ("./linker", "lld"), ("ld", "gnu")] {
        let _ = fs::remove_file(&log);
        let out = kslink()
            .current_dir(bench.dir.path())
            .args(["link", "--all-symbols", "--json", "-o", "demo", "--stage"])
            .arg(format!("collect={}", logging.display()))
            .args(["--", linker, "-T", "demo.lds", "demo.o"])
            .output()
            .unwrap();
        assert_success(&out, linker);
        let report = json_line(&out);
        assert_eq!(report["links"], 1, "{linker}: {report}");
        assert_eq!(report["pad_waste"], 0, "{linker}: {report}");
        let predict = &step_skipped(&report)[0];
        assert_eq!(
            predict,
            &("predict".to_string(), false),
            "{linker}: {report}"
        );
        let logged = fs::read_to_string(&log).unwrap();
        let predict_line = logged
            .lines()
            .find(|l| l.starts_with("--predict"))
            .unwrap_or_else(|| panic!("{linker}: no --predict in {logged}"));
        assert!(
            predict_line.contains(&format!("--linker {flavour}")),
            "{linker}: {predict_line}"
        );
        assert_success(&Command::new(bench.path("demo")).output().unwrap(), "demo");
    }
}

#[test]
fn a_missed_prediction_relinks_once_and_is_remembered() {
    let bench = Bench::new();
    // More symbols that the prediction will not see.
    let extra: String = (0..40)
        .map(|i| format!("int extra_function_with_a_long_name_{i}(int x) {{ return x * {i}; }}\n"))
        .collect();
    fs::write(bench.path("extra.c"), extra).unwrap();
    let status = Command::new("cc")
        .args(DEMO_CFLAGS)
        .args(["-c", "-o", "extra.o", "extra.c"])
        .current_dir(bench.dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    // A collect stage whose prediction leaves out extra.o.
    let blind = bench.path("blind-collect");
    write_executable(
        &blind,
        format!(
            "#!/bin/bash\nargs=()\nfor a in \"$@\"; do [ \"$a\" = extra.o ] || args+=(\"$a\"); done\n\
             exec '{}' \"${{args[@]}}\"\n",
            bin_path("kslink-collect").display()
        ),
    );
    let link = || {
        let mut cmd = kslink();
        cmd.current_dir(bench.dir.path())
            .args(["link", "--all-symbols", "--json", "-o", "demo", "--stage"])
            .arg(format!("collect={}", blind.display()))
            .args(["--", "ld", "-T", "demo.lds", "demo.o", "extra.o"]);
        cmd.output().unwrap()
    };
    let out = link();
    assert_success(&out, "misfit link");
    let report = json_line(&out);
    assert_eq!(report["links"], 2, "{report}");
    assert_eq!(report["relinked"], true, "{report}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.contains("linking once more"))
            .count(),
        1,
        "{stderr}"
    );
    // extra.o's 40 functions, which the blind prediction did not see.
    assert!(
        stderr.contains("kslink: warning: demo: the prediction missed 40 symbols ("),
        "{stderr}"
    );
    assert_success(&Command::new(bench.path("demo")).output().unwrap(), "demo");
    assert_table_matches_symbols(&bench.path("demo"));

    // The next build (an input changed) fits the remembered frame: one link.
    let status = Command::new("cc")
        .args(DEMO_CFLAGS)
        .args(["-DDEMO_REBUILT", "-c", "-o", "demo.o", "demo.c"])
        .current_dir(bench.dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let out = link();
    assert_success(&out, "build after the misfit");
    let report = json_line(&out);
    assert_eq!(report["links"], 1, "{report}");
    assert_eq!(report["relinked"], false, "{report}");
    assert_table_matches_symbols(&bench.path("demo"));
    let remembered = bench.path(".kslink-demo/remembered.pad");
    assert!(remembered.exists());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("fits the prediction's own sizes"),
        "{stderr}"
    );

    // With a prediction that sees everything, the table fits without the remembered frame:
    // it is said, the frame stays for an unchanged rerun, and goes at the next change.
    let honest = |what: &str| {
        let out = kslink()
            .current_dir(bench.dir.path())
            .args(["link", "--all-symbols", "--json", "-o", "demo"])
            .args(["--", "ld", "-T", "demo.lds", "demo.o", "extra.o"])
            .output()
            .unwrap();
        assert_success(&out, what);
        assert_table_matches_symbols(&bench.path("demo"));
        out
    };
    let out = honest("a build that fits without the remembered frame");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fits the prediction's own sizes again"),
        "{stderr}"
    );
    assert!(remembered.exists());
    let out = honest("an unchanged rerun");
    assert_eq!(json_line(&out)["links"], 0);
    assert!(remembered.exists());
    let status = Command::new("cc")
        .args(DEMO_CFLAGS)
        .args(["-c", "-o", "demo.o", "demo.c"])
        .current_dir(bench.dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let out = honest("the next build that changes an input");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("dropped the frame remembered"), "{stderr}");
    assert!(!remembered.exists());
    let report = json_line(&out);
    assert_eq!(report["links"], 1, "{report}");
    assert_eq!(report["pad_waste"], 0, "{report}");
}

/// Bad input at a step: exit 1, one line naming the step, and the previous output untouched.
#[test]
fn bad_input_fails_cleanly_and_keeps_the_previous_output() {
    let bench = Bench::new();
    let out = bench.link("demo", &[]).output().unwrap();
    assert_success(&out, "first build");
    let previous = fs::read(bench.path("demo")).unwrap();

    let fake = |name: &str, body: &str| {
        let path = bench.path(name);
        write_executable(&path, format!("#!/bin/bash\n{body}\n"));
        path
    };
    let wrong_kind = fake(
        "pad-wrong-kind",
        // writes the first table (a KallsymsTable) where a PadSpec belongs
        "while [ $# -gt 1 ]; do [ \"$1\" = -o ] && out=$2; shift; done; cp \"$1\" \"$out\"",
    );
    let other_location = fake(
        "locate-other-file",
        &format!(
            "args=(\"$@\"); n=${{#args[@]}}; args[$((n-1))]='{}'; exec '{}' \"${{args[@]}}\"",
            bench.path("reference-copy").display(),
            bin_path("kslink-locate").display()
        ),
    );
    fs::copy(bench.path("demo"), bench.path("reference-copy")).unwrap();
    // grow the copy so that the location cannot match the linked file
    fs::OpenOptions::new()
        .append(true)
        .open(bench.path("reference-copy"))
        .unwrap()
        .set_len(previous.len() as u64 + 4096)
        .unwrap();

    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        (
            "wrong artifact kind",
            vec![format!("--stage=pad={}", wrong_kind.display())],
            "pad",
        ),
        (
            "location of another file",
            vec![format!("--stage=locate={}", other_location.display())],
            "patch",
        ),
    ];
    for (what, args, step) in cases {
        // an input changed, so the steps run again
        let status = Command::new("touch")
            .arg(bench.path("demo.o"))
            .status()
            .unwrap();
        assert!(status.success());
        let mut cmd = kslink();
        cmd.current_dir(bench.dir.path())
            .args(["link", "--all-symbols", "-o", "demo"])
            .args(&args)
            .args(["--", "ld", "-T", "demo.lds", "demo.o"]);
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{what}: {stderr}");
        assert!(stderr.contains("step "), "{what}: {stderr}");
        assert!(
            stderr.contains(step) || stderr.contains("object") || stderr.contains("final"),
            "{what}: {stderr}"
        );
        assert_eq!(fs::read(bench.path("demo")).unwrap(), previous, "{what}");
    }

    // A linker that fails: undefined reference.
    fs::write(
        bench.path("broken.c"),
        "extern int nowhere(void); int f(void) { return nowhere(); }\n",
    )
    .unwrap();
    let status = Command::new("cc")
        .args(["-c", "-o", "broken.o", "broken.c"])
        .current_dir(bench.dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let out = kslink()
        .current_dir(bench.dir.path())
        .args([
            "link",
            "--all-symbols",
            "-o",
            "demo",
            "--",
            "ld",
            "-T",
            "demo.lds",
            "demo.o",
        ])
        .arg("broken.o")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("step link failed"), "{stderr}");
    assert!(stderr.contains("nowhere"), "{stderr}");
    assert_eq!(fs::read(bench.path("demo")).unwrap(), previous);

    // The artifact a stage left is one artifact::read can tell apart.
    let table: Result<KallsymsTable, _> = artifact::read(&bench.path(".kslink-demo/first.table"));
    assert!(table.is_ok());
}

/// The install gives the work directory's linked file a second name (no copy of a kernel's
/// gigabyte). Kbuild's post-link step on a relocatable x86 kernel (`objcopy
/// --remove-relocations` on `vmlinux`, here `--strip-all`) then rewrites both in place
/// (objcopy keeps hard links by writing the same inode): the journal sees the work file's
/// stamp change, so `rm OUT` and a rerun link again, to the same output as before.
#[test]
fn rewriting_the_installed_output_in_place_makes_the_rerun_link_again() {
    let bench = Bench::new();
    let reference = bench.link_output("prog", "work");
    let installed = fs::metadata(bench.path("prog")).unwrap();
    let linked = fs::metadata(bench.path("work/linked")).unwrap();
    assert_eq!(
        (installed.dev(), installed.ino()),
        (linked.dev(), linked.ino()),
        "the output is not the work directory's file"
    );
    let objcopy = Command::new("objcopy")
        .arg("--strip-all")
        .arg(bench.path("prog"))
        .output()
        .unwrap();
    assert_success(&objcopy, "objcopy in place");
    assert!(
        fs::read(bench.path("prog")).unwrap() != reference,
        "objcopy changed nothing"
    );

    fs::remove_file(bench.path("prog")).unwrap();
    fs::remove_file(bench.path("runs")).unwrap();
    let out = bench
        .link("prog", &["--work-dir", "work"])
        .output()
        .unwrap();
    assert_success(&out, "the rerun");
    assert_eq!(json_line(&out)["links"], 1);
    assert!(
        bench.runs().contains(&"ld".to_string()),
        "{:?}",
        bench.runs()
    );
    assert!(
        fs::read(bench.path("prog")).unwrap() == reference,
        "the relinked output"
    );
    assert_success(
        &Command::new(bench.path("prog")).output().unwrap(),
        "the linked example",
    );
}

/// A rerun whose patch step rewrites the work directory's linked file, and fails, leaves the
/// installed output as it was, although the install made the two one file: the driver makes
/// the work file one of its own before the rewrite.
#[test]
fn a_failed_rewrite_of_the_work_file_leaves_the_installed_output_alone() {
    let bench = Bench::new();
    let reference = bench.link_output("prog", "work");

    // Another patch stage (only the patch step's key changes): it writes into the file it
    // is given, then fails.
    let broken = bench.path("broken-patch");
    write_executable(
        &broken,
        "#!/bin/sh\nfor f; do :; done\n\
         printf GARBAGE | dd of=\"$f\" bs=1 seek=512 conv=notrunc status=none\n\
         echo 'broken-patch: failed after writing' >&2\nexit 1\n",
    );
    let stage = format!("patch={}", broken.display());
    fs::remove_file(bench.path("runs")).unwrap();
    let out = bench
        .link("prog", &["--work-dir", "work", "--stage", &stage])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(bench.runs().is_empty(), "{:?}", bench.runs());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("failed after writing"),
        "{out:?}"
    );
    assert!(
        fs::read(bench.path("work/linked")).unwrap()[512..519] == *b"GARBAGE",
        "the broken stage did not write the work file"
    );
    assert!(
        fs::read(bench.path("prog")).unwrap() == reference,
        "the rewrite changed the installed output"
    );
}

/// An output that is one of the link's inputs (the object or the script) or a directory is
/// refused before anything runs or is created: exit 2, one line, the input as it was.
#[test]
fn the_output_may_be_neither_an_input_nor_a_directory() {
    let bench = Bench::new();
    fs::create_dir(bench.path("a-directory")).unwrap();
    let object = fs::read(bench.path("demo.o")).unwrap();
    for (out, needle) in [
        ("demo.o", "the output is the link's input demo.o"),
        ("demo.lds", "the output is the link's input demo.lds"),
        ("a-directory", "the output is a directory"),
    ] {
        let result = bench.link(out, &[]).output().unwrap();
        assert_eq!(result.status.code(), Some(2), "{out}: {result:?}");
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(stderr.lines().count(), 1, "{out}: {stderr}");
        assert!(stderr.contains(needle), "{out}: {stderr}");
        assert!(bench.runs().is_empty(), "{out}: {:?}", bench.runs());
        assert!(
            !bench.path(&format!(".kslink-{out}")).exists(),
            "{out}: a work directory"
        );
    }
    assert!(
        fs::read(bench.path("demo.o")).unwrap() == object,
        "demo.o changed"
    );
}

/// SIGTERM to kslink alone (as `timeout` sends it) ends the linker it is running too: kslink
/// exits 143 with one line, the linker's process is gone, no output is installed, and the
/// next run completes.
#[test]
fn sigterm_ends_the_running_linker_and_the_next_run_resumes() {
    let bench = Bench::new();
    let slow = bench.path("slow-ld");
    write_executable(
        &slow,
        "#!/bin/sh\n\
         if [ \"$1\" = --version ]; then exec /usr/bin/ld --version; fi\n\
         echo $$ > ld.pid\n\
         exec sleep 60\n",
    );
    let child = kslink()
        .current_dir(bench.path(""))
        .args(["link", "--all-symbols", "-o", "prog", "--work-dir", "work"])
        .args(["--", "./slow-ld", "-T", "demo.lds", "demo.o"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid_file = bench.path("ld.pid");
    let start = std::time::Instant::now();
    while !pid_file.exists() {
        assert!(start.elapsed().as_secs() < 30, "the linker never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let linker: u32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let killed_at = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        killed_at.elapsed().as_secs() < 10,
        "kslink outlived the signal"
    );
    assert_eq!(out.status.code(), Some(143), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    assert!(
        !Path::new(&format!("/proc/{linker}")).exists(),
        "the linker (pid {linker}) is still running"
    );
    assert!(!bench.path("prog").exists(), "an output was installed");

    let out = bench
        .link("prog", &["--work-dir", "work"])
        .output()
        .unwrap();
    assert_success(&out, "the next run");
    assert_success(
        &Command::new(bench.path("prog")).output().unwrap(),
        "the linked example",
    );
}

/// `--dry-run` prints the steps' commands, one runnable command per line, and writes
/// nothing: no work directory, no journal, no output.
#[test]
fn a_dry_run_writes_nothing() {
    let bench = Bench::new();
    let out = bench
        .link("prog", &["--dry-run", "--work-dir", "work"])
        .output()
        .unwrap();
    assert_success(&out, "the dry run");
    assert!(!bench.path("work").exists(), "a work directory");
    assert!(!bench.path("prog").exists(), "an output");
    assert!(bench.runs().is_empty(), "{:?}", bench.runs());
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        printed
            .lines()
            .any(|l| l.trim() == "ln -f work/linked prog"),
        "{printed}"
    );
    assert!(
        printed
            .lines()
            .any(|l| l.trim() == "cp work/System.map System.map"),
        "{printed}"
    );
}

/// A `--map` (or output) in a directory that does not exist is refused before the link
/// (exit 2, nothing runs), and the previous output stays as it was.
#[test]
fn a_missing_directory_is_refused_before_the_link() {
    let bench = Bench::new();
    let out = bench
        .link("prog", &["--work-dir", "work"])
        .output()
        .unwrap();
    assert_success(&out, "the first link");
    let previous = fs::read(bench.path("prog")).unwrap();
    fs::remove_file(bench.path("runs")).unwrap();
    for (output, extra) in [
        (
            "prog",
            &["--work-dir", "work", "--map", "nodir/System.map"][..],
        ),
        ("nodir/prog", &["--work-dir", "work"][..]),
    ] {
        let out = bench.link(output, extra).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("nodir: no such directory"), "{stderr}");
        assert!(bench.runs().is_empty(), "{extra:?}: {:?}", bench.runs());
    }
    assert!(
        fs::read(bench.path("prog")).unwrap() == previous,
        "prog changed"
    );
    assert!(!bench.path("nodir").exists());
}

/// A step's output changed behind the journal's back, even with its modification time put
/// back afterwards (as `cp -p` and `touch -r` leave a file), is not trusted: the rerun makes it
/// again, starting with the step that wrote it, and installs the right output.
#[test]
fn an_output_changed_behind_the_journal_is_made_again() {
    let bench = Bench::new();
    let out = bench
        .link("reference", &["--work-dir", "ref-work"])
        .output()
        .unwrap();
    assert_success(&out, "the first link");
    let reference = fs::read(bench.path("reference")).unwrap();
    let order = bench.runs();
    let steps = step_skipped(&json_line(&out));
    // Each file of the work directory with the first step that wrote it.
    let mut made: Vec<(usize, String)> = Vec::new();
    for (i, (step, _)) in steps.iter().enumerate().take(order.len()) {
        let record = fs::read(bench.path(&format!("ref-work/journal/{step}.json"))).unwrap();
        let record: serde_json::Value = serde_json::from_slice(&record).unwrap();
        for output in record["outputs"].as_array().unwrap() {
            let name = Path::new(output["path"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if !made.iter().any(|(_, n)| *n == name) {
                made.push((i, name));
            }
        }
    }
    assert!(made.len() >= order.len(), "{made:?}");

    for (i, name) in &made {
        let what = format!("{name} (made by {}) changed", order[*i]);
        let work = format!("work-{name}");
        let out_name = format!("out-{name}");
        let out = bench
            .link(&out_name, &["--work-dir", &work])
            .output()
            .unwrap();
        assert_success(&out, &what);
        let file = bench.path(&format!("{work}/{name}"));
        let modified = fs::metadata(&file).unwrap().modified().unwrap();
        let mut bytes = fs::read(&file).unwrap();
        *bytes.last_mut().unwrap() ^= 0x55;
        fs::write(&file, &bytes).unwrap();
        fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        assert_eq!(fs::metadata(&file).unwrap().modified().unwrap(), modified);

        fs::remove_file(bench.path("runs")).unwrap();
        let out = bench
            .link(&out_name, &["--work-dir", &work])
            .output()
            .unwrap();
        assert_success(&out, &what);
        let runs = bench.runs();
        assert_eq!(runs.first(), Some(&order[*i]), "{what}: {runs:?}");
        assert!(
            fs::read(bench.path(&out_name)).unwrap() == reference,
            "{what}: the output differs from the reference"
        );
        fs::remove_file(bench.path("runs")).unwrap();
        let out = bench
            .link(&out_name, &["--work-dir", &work])
            .output()
            .unwrap();
        assert_success(&out, &what);
        assert!(bench.runs().is_empty(), "{what}: {:?}", bench.runs());
    }
}

/// Two runs on one work directory at once (two `make` in one tree): the second says that it
/// waits, and waits; a signal ends its wait (exit 128+signal); once the first has finished,
/// the second finds everything done and the output whole.
#[test]
fn a_second_run_on_the_work_directory_waits_for_the_first() {
    let bench = Bench::new();
    let out = bench
        .link("reference", &["--work-dir", "ref-work"])
        .output()
        .unwrap();
    assert_success(&out, "the reference link");
    let reference = fs::read(bench.path("reference")).unwrap();
    let order = bench.runs();
    fs::remove_file(bench.path("runs")).unwrap();

    let hold = bench.path("hold");
    fs::write(&hold, "").unwrap();
    let mut first = bench.link("prog", &["--work-dir", "work"]);
    let first = first
        .env("HOLD", &hold)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first run is in its first step (held) once the log shows it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while bench.runs().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the first run never started a step"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let waiting = |name: &str| {
        let log = bench.path(name);
        let child = bench
            .link("prog", &["--work-dir", "work"])
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !fs::read_to_string(&log)
            .unwrap()
            .contains("waiting for another kslink run")
        {
            assert!(Instant::now() < deadline, "{name}: it never said it waits");
            std::thread::sleep(Duration::from_millis(20));
        }
        (child, log)
    };
    let (mut stopped, log) = waiting("stopped.log");
    let status = Command::new("kill")
        .args(["-TERM", &stopped.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = stopped.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(128 + 15),
        "{}",
        fs::read_to_string(&log).unwrap()
    );
    assert!(fs::read_to_string(&log)
        .unwrap()
        .contains("interrupted by SIGTERM"));

    let (second, log) = waiting("second.log");
    fs::remove_file(&hold).unwrap();
    let first = first.wait_with_output().unwrap();
    assert_success(&first, "the first run");
    let second = second.wait_with_output().unwrap();
    assert!(
        second.status.success(),
        "{}",
        fs::read_to_string(&log).unwrap()
    );
    // Only the first run ran anything; the second found it all done.
    assert_eq!(bench.runs(), order);
    assert!(
        fs::read(bench.path("prog")).unwrap() == reference,
        "the output differs from the reference"
    );
}

/// A tmpfs mounted for one test, unmounted when the test ends. The tests run as root, as CI
/// does: a file system that fills up or turns read-only is a real one.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: PathBuf, options: &str) -> Tmpfs {
        fs::create_dir_all(&dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(&dir)
            .output()
            .unwrap();
        assert_success(
            &out,
            "mounting a tmpfs (these tests run as root, as CI does)",
        );
        Tmpfs { dir }
    }

    /// The shell command that remounts it with `options`.
    fn remount_command(&self, options: &str) -> String {
        format!("mount -o remount,{options} '{}'", self.dir.display())
    }

    fn remount(&self, options: &str) {
        let status = Command::new("sh")
            .args(["-c", &self.remount_command(options)])
            .status()
            .unwrap();
        assert!(status.success(), "remount {options}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// `NAME/prog` in a new directory of the bench's: an output with a System.map of its own.
fn place(bench: &Bench, name: &str) -> PathBuf {
    fs::create_dir(bench.path(name)).unwrap();
    bench.path(name).join("prog")
}

/// The lines of kslink's own on standard error.
fn kslink_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|line| line.starts_with("kslink:"))
        .map(str::to_string)
        .collect()
}

/// The names in a directory, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Mistyped names and places that cannot be written are refused before anything runs or is
/// made: exit 2, one line saying what and where.
#[test]
fn names_and_places_are_checked_before_anything_runs() {
    let bench = Bench::new();
    let _ro = Tmpfs::mount(bench.path("ro"), "ro,size=1m");
    let before = names_in(bench.dir.path());
    let cases: [(&str, &[&str], &[&str], &str); 7] = [
        (
            "prog",
            &["--profile", "6.12"],
            &[],
            "unknown profile \"6.12\"",
        ),
        ("prog", &["--arch", "sparc"], &[], "unknown arch \"sparc\""),
        (
            "prog",
            &["--profile", "linux-6.1", "--pc-relative"],
            &[],
            "--pc-relative is an option of linux-7.3, not of linux-6.1",
        ),
        (
            "prog",
            &[],
            &["{kallsyms}", "{kallsyms}"],
            "`{kallsyms}` appears 2 times",
        ),
        (
            "ro/prog",
            &[],
            &[],
            "ro: cannot write there (Read-only file system)",
        ),
        (
            "prog",
            &["--work-dir", "ro/work"],
            &[],
            "ro: cannot write there (Read-only file system)",
        ),
        (
            "prog",
            &["--map", "ro/System.map"],
            &[],
            "ro: cannot write there (Read-only file system)",
        ),
    ];
    for (output, extra, linker_extra, said) in cases {
        let what = format!("-o {output} {extra:?} -- ... {linker_extra:?}");
        let out = bench
            .link(output, extra)
            .args(linker_extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{what}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
        assert!(stderr.contains(said), "{what}: {stderr}");
        assert!(bench.runs().is_empty(), "{what}: {:?}", bench.runs());
        assert_eq!(names_in(bench.dir.path()), before, "{what}: made something");
    }
}

/// Runs `link` (with a previous OUT and System.map in place) and expects the fault it injects
/// to fail it cleanly: exit 1, one line of kslink's that says `said`, the previous OUT and map
/// as they were, and nothing of kslink's left beside them.
fn fails_cleanly(mut link: Command, out: &Path, said: &str) {
    let map = out.with_file_name("System.map");
    fs::write(out, "previous output\n").unwrap();
    fs::write(&map, "previous map\n").unwrap();
    let beside = names_in(out.parent().unwrap());
    let result = link.output().unwrap();
    let what = format!("{said:?} into {}", out.display());
    assert_eq!(result.status.code(), Some(1), "{what}: {result:?}");
    let lines = kslink_lines(&result);
    assert_eq!(lines.len(), 1, "{what}: {lines:?}");
    assert!(lines[0].contains(said), "{what}: {lines:?}");
    assert_eq!(fs::read(out).unwrap(), b"previous output\n", "{what}");
    assert_eq!(fs::read(&map).unwrap(), b"previous map\n", "{what}");
    // The filler and a work directory on the same file system are the test's.
    let left: Vec<String> = names_in(out.parent().unwrap())
        .into_iter()
        .filter(|name| name != "fill" && name != "work")
        .collect();
    assert_eq!(left, beside, "{what}");
}

/// The rerun after a fault completes, with the reference output and map.
fn completes(bench: &Bench, link: Command, out: &Path) {
    let mut link = link;
    let result = link.output().unwrap();
    assert_success(&result, &format!("the rerun into {}", out.display()));
    assert!(
        fs::read(out).unwrap() == fs::read(bench.path("reference")).unwrap(),
        "{}: not the reference output",
        out.display()
    );
    assert_eq!(
        fs::read(out.with_file_name("System.map")).unwrap(),
        fs::read(bench.path("System.map")).unwrap(),
        "{}: not the reference map",
        out.display()
    );
}

/// The disk fills up during the link, the patch and the install (a small tmpfs, filled by a
/// hook in the step's wrapper): each fails cleanly, and once there is room, the next run
/// completes.
#[test]
fn a_full_disk_fails_cleanly_and_the_next_run_completes() {
    let bench = Bench::new();
    let out = bench
        .link("reference", &["--work-dir", "ref-work"])
        .output()
        .unwrap();
    assert_success(&out, "the reference link");
    // (phase, the step whose wrapper fills the disk, before or after it, the work directory
    // on the small file system too)
    let cases = [
        ("link", "ld", "HOOK_BEFORE", true),
        ("patch", "patch", "HOOK_BEFORE", true),
        ("install", "patch", "HOOK_AFTER", false),
    ];
    for (phase, step, when, work_inside) in cases {
        let small = Tmpfs::mount(bench.path(&format!("small-{phase}")), "size=2m");
        let out = small.dir.join("prog");
        let fill = small.dir.join("fill");
        let work = if work_inside {
            small.dir.join("work")
        } else {
            bench.path(&format!("work-{phase}"))
        };
        let work = work.to_str().unwrap().to_string();
        let out_name = out.to_str().unwrap();
        let mut link = bench.link(out_name, &["--work-dir", &work]);
        link.env("HOOK_STEP", step).env(
            when,
            format!("cat /dev/zero > '{}' 2>/dev/null", fill.display()),
        );
        fails_cleanly(link, &out, "No space left on device");
        fs::remove_file(&fill).unwrap();
        completes(&bench, bench.link(out_name, &["--work-dir", &work]), &out);
    }
}

/// The output's directory or the work directory turns read-only during a run (remounted by a
/// hook), the output file is immutable (`chattr +i`, which binds root too), the linker dies by
/// a signal: each fails cleanly, and once the cause is gone, the next run completes.
#[test]
fn a_read_only_place_or_a_killed_linker_fails_cleanly() {
    let bench = Bench::new();
    let out = bench
        .link("reference", &["--work-dir", "ref-work"])
        .output()
        .unwrap();
    assert_success(&out, "the reference link");

    let out_fs = Tmpfs::mount(bench.path("out-fs"), "size=8m");
    let out = out_fs.dir.join("prog");
    let args = ["--work-dir", "work-out-fs"];
    let mut link = bench.link(out.to_str().unwrap(), &args);
    link.env("HOOK_STEP", "patch")
        .env("HOOK_AFTER", out_fs.remount_command("ro"));
    fails_cleanly(link, &out, "Read-only file system");
    out_fs.remount("rw");
    completes(&bench, bench.link(out.to_str().unwrap(), &args), &out);

    let work_fs = Tmpfs::mount(bench.path("work-fs"), "size=8m");
    let out = place(&bench, "work-fs-out");
    let work = work_fs.dir.join("work");
    let args = ["--work-dir", work.to_str().unwrap()];
    let mut link = bench.link(out.to_str().unwrap(), &args);
    link.env("HOOK_STEP", "ld")
        .env("HOOK_AFTER", work_fs.remount_command("ro"));
    fails_cleanly(link, &out, "Read-only file system");
    work_fs.remount("rw");
    completes(&bench, bench.link(out.to_str().unwrap(), &args), &out);

    let out = place(&bench, "immutable");
    let map = out.with_file_name("System.map");
    let args = ["--work-dir", "work-immutable"];
    fs::write(&out, "previous output\n").unwrap();
    fs::write(&map, "previous map\n").unwrap();
    let immutable = Command::new("chattr").arg("+i").arg(&out).output().unwrap();
    assert_success(&immutable, "chattr +i");
    let result = bench.link(out.to_str().unwrap(), &args).output().unwrap();
    let _ = Command::new("chattr").arg("-i").arg(&out).status();
    assert_eq!(result.status.code(), Some(1), "{result:?}");
    let lines = kslink_lines(&result);
    assert!(
        lines.len() == 1 && lines[0].contains("Operation not permitted"),
        "{lines:?}"
    );
    assert_eq!(fs::read(&out).unwrap(), b"previous output\n");
    assert_eq!(fs::read(&map).unwrap(), b"previous map\n");
    assert_eq!(names_in(out.parent().unwrap()), ["System.map", "prog"]);
    completes(&bench, bench.link(out.to_str().unwrap(), &args), &out);

    let out = place(&bench, "killed");
    let args = ["--work-dir", "work-killed"];
    let mut link = bench.link(out.to_str().unwrap(), &args);
    link.env("HOOK_STEP", "ld")
        .env("HOOK_BEFORE", "kill -SEGV $$");
    fails_cleanly(link, &out, "killed by SIGSEGV");
    completes(&bench, bench.link(out.to_str().unwrap(), &args), &out);
}

/// `script -qfec COMMAND /dev/null`: COMMAND in a pseudo-terminal, its screen output back.
fn in_terminal(command: &str, dir: &Path) -> Command {
    let mut script = Command::new("script");
    script
        .args(["-qfec", command, "/dev/null"])
        .current_dir(dir)
        .stdin(Stdio::null());
    script
}

/// On a terminal the demo shows a bar that counts the steps that run, to the end, and keeps
/// a line for every finished step, the compile's among them, with paths relative to the
/// demo's directory.
#[test]
fn the_terminal_display_counts_the_steps_that_run_and_keeps_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let command = format!("{} demo --keep built", bin_path("kslink").display());
    let out = in_terminal(&command, dir.path()).output().unwrap();
    assert_success(&out, "kslink demo in a terminal");
    let screen = String::from_utf8_lossy(&out.stdout).replace('\r', "\n");
    let counters: Vec<(u32, u32)> = screen
        .split('[')
        .skip(1)
        .filter_map(|rest| {
            let (inside, _) = rest.split_once(']')?;
            let (done, all) = inside.split_once('/')?;
            Some((done.parse().ok()?, all.parse().ok()?))
        })
        .collect();
    assert!(!counters.is_empty(), "no counter on the screen:\n{screen}");
    // CC, predict, table, pad, link, collect, final, locate, patch, install.
    assert!(
        counters.iter().all(|&(done, all)| all == 10 && done <= all),
        "{counters:?}"
    );
    assert!(counters.contains(&(10, 10)), "{counters:?}");
    for line in [
        "  CC      demo.o (",
        "  LD      demo (",
        "  PATCH   demo (",
        "  INSTALL demo (",
    ] {
        assert!(
            screen.contains(line),
            "no {line:?} on the screen:\n{screen}"
        );
    }
    let built = fs::canonicalize(dir.path().join("built")).unwrap();
    assert!(
        !screen.contains(&built.display().to_string()),
        "absolute paths on the screen:\n{screen}"
    );
}

/// Ctrl-C (SIGINT) on a terminal while the linker runs: the bar goes, one line says the run
/// was interrupted, the exit status is 130.
#[test]
fn ctrl_c_on_a_terminal_says_interrupted() {
    let bench = Bench::new();
    let hold = bench.path("hold");
    fs::write(&hold, "").unwrap();
    let mut argv: Vec<String> = vec![bin_path("kslink").display().to_string()];
    argv.extend(
        [
            "link",
            "--all-symbols",
            "-o",
            "prog",
            "--stage",
            &format!("collect={}", bench.path("wrap-collect").display()),
            "--",
            "./wrap-ld",
            "-T",
            "demo.lds",
            "demo.o",
        ]
        .map(str::to_string),
    );
    let command = format!("HOLD='{}' exec {}", hold.display(), argv.join(" "));
    let screen = bench.path("screen");
    let mut terminal = in_terminal(&command, bench.dir.path())
        .stdout(fs::File::create(&screen).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while bench.runs().is_empty() {
        assert!(Instant::now() < deadline, "kslink never started a step");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pgrep = Command::new("pgrep")
        .args(["-P", &terminal.id().to_string()])
        .output()
        .unwrap();
    let pid = String::from_utf8_lossy(&pgrep.stdout).trim().to_string();
    assert!(
        !pid.is_empty() && !pid.contains('\n'),
        "kslink's pid: {pid:?}"
    );
    let status = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(status.success());
    let status = terminal.wait().unwrap();
    let shown = fs::read_to_string(&screen).unwrap().replace('\r', "\n");
    assert_eq!(status.code(), Some(130), "{shown}");
    assert!(
        shown.contains("kslink: prog: interrupted by SIGINT"),
        "{shown}"
    );
    assert!(!bench.path("prog").exists());
}

/// `--prepare` runs the steps before the link and stops; `--symbol-free` names an input the
/// prediction does not read, so it may not exist yet then (Linux's drop-in prepares while
/// pahole makes the `.btf.o`). The link that follows starts at the link. An input so named
/// that defines a symbol after all gets a table with the symbol: a second link.
#[test]
fn a_prepared_link_starts_at_the_link_and_a_symbol_free_input_is_not_predicted() {
    let bench = Bench::new();
    let assemble = |name: &str, text: &str| {
        fs::write(bench.path(&format!("{name}.s")), text).unwrap();
        let out = Command::new("cc")
            .args(["-c", "-o", &format!("{name}.o"), &format!("{name}.s")])
            .current_dir(bench.dir.path())
            .output()
            .unwrap();
        assert_success(&out, "cc -c");
    };
    let link = |extra: &[&str], late: &str| {
        let mut cmd = bench.link("prog", &[&["--work-dir", "work"], extra].concat());
        cmd.arg(late);
        fs::remove_file(bench.path("runs")).ok();
        cmd.output().unwrap()
    };

    let out = link(&["--prepare", "--symbol-free", "late.o"], "late.o");
    assert_success(&out, "the prepare, before late.o exists");
    assert_eq!(bench.runs(), ["collect", "table", "pad"]);
    assert!(!bench.path("prog").exists() && !bench.path("work/linked").exists());
    assert_eq!(json_line(&out)["links"], 0);

    assemble("late", ".section .rodata.late,\"a\"\n.byte 1, 2, 3, 4\n");
    let out = link(&["--symbol-free", "late.o"], "late.o");
    assert_success(&out, "the link after the prepare");
    assert_eq!(bench.runs(), ["ld", "collect", "table", "locate", "patch"]);
    assert_eq!(json_line(&out)["links"], 1);
    assert_table_matches_symbols(&bench.path("prog"));
    assert_success(&Command::new(bench.path("prog")).output().unwrap(), "prog");

    assemble(
        "named",
        ".section .rodata.late,\"a\"\n.globl late_symbol\nlate_symbol:\n.byte 1, 2, 3, 4\n",
    );
    let out = link(&["--symbol-free", "named.o"], "named.o");
    assert_success(&out, "a symbol-free input with a symbol");
    let report = json_line(&out);
    assert_eq!(report["links"], 2, "{report}");
    assert_eq!(report["relinked"], true, "{report}");
    assert_table_matches_symbols(&bench.path("prog"));
    let map = fs::read_to_string(bench.path("System.map")).unwrap();
    assert!(map.lines().any(|l| l.ends_with(" R late_symbol")), "{map}");

    let out = link(&["--symbol-free", "other.o"], "named.o");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let lines = kslink_lines(&out);
    assert!(
        lines.len() == 1 && lines[0].contains("--symbol-free other.o: not an input file"),
        "{lines:?}"
    );
}
