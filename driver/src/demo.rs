//! `kslink demo`: the embedded example, built, linked once and run.
//!
//! The example (`examples/demo` in the source tree, embedded in the driver) is a small
//! freestanding C program with its own linker script that carries a kallsyms table and a
//! reader for it. It resolves its own functions and data to names and back at run time and
//! prints `selfcheck: pass` only if every lookup agrees with the addresses the linker gave.
//! Linked with the first table only (all addresses zero) it fails: it passes only if the
//! single link and the patch worked.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;

use crate::link::{link, LinkError, LinkRequest, LinkSummary, TableFlags};
use crate::linker::LinkerCommand;
use crate::progress::Progress;
use crate::stages::StageSet;

/// The example's C source.
pub const DEMO_C: &str = include_str!("../../examples/demo/demo.c");
/// The example's linker script.
pub const DEMO_LDS: &str = include_str!("../../examples/demo/demo.lds");

/// The compiler flags the example is built with: freestanding, so that every symbol in the
/// image comes from the example and its script.
pub const DEMO_CFLAGS: &[&str] = &[
    "-O2",
    "-ffreestanding",
    "-fno-pie",
    "-fno-stack-protector",
    "-fno-builtin",
    "-fno-asynchronous-unwind-tables",
];

/// How to run the demo.
#[derive(Clone, Debug)]
pub struct DemoRequest {
    /// The C compiler (`$CC`, default `cc`).
    pub cc: OsString,
    /// The linker (default `ld`; `ld.lld` works too).
    pub linker: OsString,
    /// Build here and keep the files, instead of in a temporary directory.
    pub keep: Option<PathBuf>,
    /// The stage executables.
    pub stages: StageSet,
}

/// What the demo did.
#[derive(Clone, Debug)]
pub struct DemoOutcome {
    /// The link's summary.
    pub link: LinkSummary,
    /// What the example printed.
    pub program_output: String,
    /// True if the example's self-check passed.
    pub selfcheck: bool,
}

impl DemoOutcome {
    /// The `--json` report.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "links": self.link.links,
            "symbols": self.link.symbols,
            "selfcheck": if self.selfcheck { "pass" } else { "fail" },
            "pad_waste": self.link.pad_waste,
            "relinked": self.link.relinked,
        })
    }
}

/// Builds the example in a fresh directory, links it through [`link`], and runs it.
pub fn demo(request: &DemoRequest, progress: &Progress) -> Result<DemoOutcome, LinkError> {
    let temp;
    let dir: &Path = match &request.keep {
        Some(dir) => {
            if dir.exists() && !dir.is_dir() {
                return Err(LinkError::Usage(format!(
                    "{}: not a directory: --keep names the directory to build the example in",
                    dir.display()
                )));
            }
            fs::create_dir_all(dir).map_err(io_error(dir))?;
            dir
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("kslink-demo")
                .tempdir()
                .map_err(|source| LinkError::Io {
                    what: "cannot create a temporary directory".to_string(),
                    source,
                })?;
            temp.path()
        }
    };
    let dir = fs::canonicalize(dir).map_err(io_error(dir))?;
    let source = dir.join("demo.c");
    let script = dir.join("demo.lds");
    let object = dir.join("demo.o");
    let program = dir.join("demo");
    fs::write(&source, DEMO_C).map_err(io_error(&source))?;
    fs::write(&script, DEMO_LDS).map_err(io_error(&script))?;

    let mut cc: Vec<OsString> = vec![request.cc.clone(), "-c".into()];
    cc.extend(DEMO_CFLAGS.iter().map(OsString::from));
    cc.extend(["-o".into(), object.clone().into(), source.clone().into()]);
    progress.relative_to(&dir);
    let target = object.display().to_string();
    progress.start("CC", &target, &cc);
    let started = Instant::now();
    run_tool("cc", &cc)?;
    progress.finish("CC", &target, started.elapsed().as_secs_f64(), false);

    let linker = LinkerCommand::parse(vec![
        request.linker.clone(),
        "-T".into(),
        script.into(),
        object.into(),
    ])
    .map_err(LinkError::Usage)?;
    let link_request = LinkRequest {
        flags: TableFlags {
            all_symbols: true,
            ..TableFlags::default()
        },
        script: None,
        output: program.clone(),
        map: None,
        work_dir: None,
        stages: request.stages.clone(),
        dry_run: false,
        linker,
        btf_view: None,
        symbol_free: Vec::new(),
        prepare: false,
    };
    let summary = link(&link_request, progress)?;

    let output = duct::cmd(&program, std::iter::empty::<&str>())
        .stdout_capture()
        .stderr_to_stdout()
        .unchecked()
        .run()
        .map_err(io_error(&program))?;
    let program_output = String::from_utf8_lossy(&output.stdout).into_owned();
    let selfcheck =
        output.status.success() && program_output.lines().any(|line| line == "selfcheck: pass");
    Ok(DemoOutcome {
        link: summary,
        program_output,
        selfcheck,
    })
}

fn run_tool(step: &'static str, argv: &[OsString]) -> Result<(), LinkError> {
    let output = duct::cmd(&argv[0], &argv[1..])
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|err| LinkError::StepFailed {
            step,
            program: argv[0].to_string_lossy().into_owned(),
            status: None,
            message: format!("cannot start it: {err}"),
        })?;
    if output.status.success() {
        return Ok(());
    }
    Err(LinkError::StepFailed {
        step,
        program: argv[0].to_string_lossy().into_owned(),
        status: output.status.code(),
        message: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> LinkError + '_ {
    move |source| LinkError::Io {
        what: path.display().to_string(),
        source,
    }
}
