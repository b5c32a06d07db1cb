//! `kslink link`: one link, with the table patched in place afterwards.
//!
//! The steps, each a stage executable (or the linker) exchanging files in the work directory
//! (the plan, and what each step runs, reads and writes, is [`crate::plan`]):
//!
//! | step | runs | writes |
//! | --- | --- | --- |
//! | predict | `kslink-collect --predict --linker gnu\|lld` | `predicted.symbols` |
//! | table | `kslink-table` | `first.table`, `first.o` |
//! | pad | `kslink-pad` | `frame.pad` |
//! | object | `kslink-table --frame` (only if the frame is larger than the first table) | `kallsyms.o` |
//! | link | the linker, with the table's object | `linked` |
//! | collect | `kslink-collect --linked` | `final.symbols`, `System.map` |
//! | final | `kslink-table --frame --tokens-from first.table` | `final.table` |
//! | locate | `kslink-locate` | `location` |
//! | patch | `kslink-patch --in-place` | `linked` (rewritten), `patch.report` |
//! | btf | `kslink-btf check --view` (only with `--btf-view`) | `btf.fit` |
//! | install | (the driver) | the output and its System.map |
//!
//! If the final table does not fit the frame (the prediction missed symbols), the driver
//! sizes a frame from the final table, remembers it in `remembered.pad` for later builds, and
//! links once more: never more than two links, and never an output whose table is wrong
//! (the patch step decodes what it wrote and compares it with the file's own symbols).

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::interrupt::Interrupts;

use kslink_schema::fsio::io_reason;
use kslink_schema::{artifact, exit, KallsymsTable, PadSpec, PatchReport, SymbolSet};
use serde_json::json;

pub use crate::error::LinkError;
use crate::journal::Journal;
use crate::linker::LinkerCommand;
use crate::plan::{Plan, StepKind, WorkFiles, FRAMED, ONE_LINK, RELINK};
use crate::progress::Progress;
use crate::stages::StageSet;

/// The table options, passed on to every `kslink-table` run.
#[derive(Clone, Debug, Default)]
pub struct TableFlags {
    /// `--profile`: the kernel version's rules and layout.
    pub profile: Option<String>,
    /// `--all-symbols` (CONFIG_KALLSYMS_ALL).
    pub all_symbols: bool,
    /// `--absolute-percpu` (CONFIG_KALLSYMS_ABSOLUTE_PERCPU).
    pub absolute_percpu: bool,
    /// `--base-relative` (6.1's CONFIG_KALLSYMS_BASE_RELATIVE).
    pub base_relative: bool,
    /// `--pc-relative` (7.x with CONFIG_64BIT or CONFIG_RELOCATABLE).
    pub pc_relative: bool,
    /// `--arch`: the target of the table's object (default: the host's).
    pub arch: Option<String>,
}

impl TableFlags {
    pub(crate) fn table_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        if let Some(profile) = &self.profile {
            args.extend(["--profile".into(), profile.into()]);
        }
        for (on, flag) in [
            (self.all_symbols, "--all-symbols"),
            (self.absolute_percpu, "--absolute-percpu"),
            (self.base_relative, "--base-relative"),
            (self.pc_relative, "--pc-relative"),
        ] {
            if on {
                args.push(flag.into());
            }
        }
        if let Some(arch) = &self.arch {
            args.extend(["--arch".into(), arch.into()]);
        }
        args
    }

    /// The profile, for `kslink-collect --linked`: System.map's rules are the version's.
    pub(crate) fn linked_args(&self) -> Vec<OsString> {
        match &self.profile {
            Some(profile) => vec!["--profile".into(), profile.into()],
            None => Vec::new(),
        }
    }

    pub(crate) fn predict_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        if let Some(profile) = &self.profile {
            args.extend(["--profile".into(), profile.into()]);
        }
        if self.base_relative {
            args.push("--base-relative".into());
        }
        args
    }
}

/// Everything `kslink link` was asked to do.
#[derive(Clone, Debug)]
pub struct LinkRequest {
    /// Table options.
    pub flags: TableFlags,
    /// The linker script for the prediction (default: the one in the linker command).
    pub script: Option<PathBuf>,
    /// The linked output.
    pub output: PathBuf,
    /// Where System.map goes (default: `System.map` beside the output).
    pub map: Option<PathBuf>,
    /// The work directory (default: `.kslink-NAME` beside the output).
    pub work_dir: Option<PathBuf>,
    /// The stage executables.
    pub stages: StageSet,
    /// Print what would run instead of running it.
    pub dry_run: bool,
    /// The linker command.
    pub linker: LinkerCommand,
    /// The file pahole read for the BTF the link carries (the BTF input view, `kslink btf
    /// view-script`): with it, the linked file's BTF is checked before it is installed.
    pub btf_view: Option<PathBuf>,
    /// Inputs of the linker command that define no symbols (Linux's `.btf.o`): the
    /// prediction does not read them, so they may be made while it runs.
    pub symbol_free: Vec<PathBuf>,
    /// Run the steps before the link only (predict, table, pad): a later run of the same
    /// request finds them done.
    pub prepare: bool,
}

impl LinkRequest {
    /// The work directory this request uses.
    pub fn work_dir(&self) -> PathBuf {
        self.work_dir.clone().unwrap_or_else(|| {
            let name = self
                .output
                .file_name()
                .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
            beside(&self.output, &format!(".kslink-{name}"))
        })
    }

    /// The System.map path this request writes.
    pub fn map_path(&self) -> PathBuf {
        self.map
            .clone()
            .unwrap_or_else(|| beside(&self.output, "System.map"))
    }
}

pub(crate) fn beside(file: &Path, name: &str) -> PathBuf {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(name),
        _ => PathBuf::from(name),
    }
}

/// How long one step took, or that it was up to date.
#[derive(Clone, Debug, PartialEq)]
pub struct StepTiming {
    /// The step's name.
    pub name: String,
    /// Wall time of this run (0 when skipped).
    pub seconds: f64,
    /// True if it was up to date and not run.
    pub skipped: bool,
}

/// What a link did.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkSummary {
    /// The linked output.
    pub output: PathBuf,
    /// Its System.map.
    pub map: PathBuf,
    /// Links run by this invocation (0 when everything was up to date).
    pub links: u32,
    /// True if the table outgrew its frame and the output was linked a second time.
    pub relinked: bool,
    /// Symbols in the final table.
    pub symbols: u32,
    /// Reserved table bytes the final table left empty.
    pub pad_waste: u64,
    /// Every step, in order.
    pub steps: Vec<StepTiming>,
}

impl LinkSummary {
    /// The `--json` report.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "output": self.output.display().to_string(),
            "map": self.map.display().to_string(),
            "links": self.links,
            "relinked": self.relinked,
            "symbols": self.symbols,
            "pad_waste": self.pad_waste,
            "steps": self.steps.iter().map(|s| json!({
                "name": s.name,
                "seconds": (s.seconds * 1000.0).round() / 1000.0,
                "skipped": s.skipped,
            })).collect::<Vec<_>>(),
        })
    }
}

/// A run of the pipeline.
pub(crate) struct Pipeline<'a> {
    pub(crate) request: &'a LinkRequest,
    pub(crate) plan: Plan<'a>,
    pub(crate) progress: &'a Progress,
    pub(crate) interrupts: Interrupts,
    pub(crate) work: PathBuf,
    pub(crate) journal: Journal,
    /// The key of each step that has run, or was up to date, in this run.
    pub(crate) keys: HashMap<StepKind, String>,
    pub(crate) timings: Vec<StepTiming>,
    pub(crate) links: u32,
}

/// Links `request.output` once (twice if the table outgrows its frame), reporting progress.
pub fn link(request: &LinkRequest, progress: &Progress) -> Result<LinkSummary, LinkError> {
    let script = request
        .script
        .clone()
        .or_else(|| request.linker.script.clone())
        .ok_or_else(|| {
            LinkError::Usage(
                "no linker script: kslink predicts the symbols from the linker script; name it \
                 with -T, or in the linker command"
                    .to_string(),
            )
        })?;
    check_output(request, &script)?;
    check_symbol_free(request)?;
    check_table_options(request)?;
    let work = request.work_dir();
    if !request.dry_run {
        fs::create_dir(&work)
            .or_else(|err| match err.kind() {
                io::ErrorKind::AlreadyExists if work.is_dir() => Ok(()),
                _ => Err(err),
            })
            .map_err(LinkError::io(format!(
                "cannot create the work directory {}",
                work.display()
            )))?;
    }
    let interrupts = Interrupts::watch().map_err(LinkError::io("cannot catch signals"))?;
    // Held to the end of the run: a second run on this work directory (two `make` in one
    // tree) waits for it, and then finds its journal and outputs whole.
    let _lock = if request.dry_run {
        None
    } else {
        Some(lock_work_dir(&work, &interrupts, progress)?)
    };
    let journal = Journal::open(&work, request.dry_run).map_err(LinkError::io(format!(
        "cannot read the journal in {}",
        work.display()
    )))?;
    let mut pipeline = Pipeline {
        request,
        plan: Plan {
            request,
            script,
            files: WorkFiles::in_dir(&work),
        },
        progress,
        interrupts,
        work,
        journal,
        keys: HashMap::new(),
        timings: Vec::new(),
        links: 0,
    };
    let result = pipeline.run();
    progress.done();
    result
}

/// Takes the work directory's lock (`WORK/lock`), waiting, with one line said, while another
/// run holds it; a signal ends the wait. The lock goes with the file's last descriptor, so a
/// run that dies for any reason never leaves the directory locked.
fn lock_work_dir(
    work: &Path,
    interrupts: &Interrupts,
    progress: &Progress,
) -> Result<fs::File, LinkError> {
    let path = work.join("lock");
    // Held open for reading only: a file open for writing would keep its file system from
    // being remounted read-only.
    let file = fs::File::options()
        .create(true)
        .truncate(false)
        .append(true)
        .open(&path)
        .and_then(|_| fs::File::open(&path))
        .map_err(LinkError::io(format!("cannot open {}", path.display())))?;
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(fs::TryLockError::WouldBlock) => {
                if !said {
                    progress.note(&format!(
                        "waiting for another kslink run on {} to finish (it holds {})",
                        work.display(),
                        path.display()
                    ));
                    said = true;
                }
                if let Some(signal) = interrupts.caught() {
                    return Err(LinkError::Interrupted(signal));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(fs::TryLockError::Error(err)) => {
                return Err(LinkError::io(format!("cannot lock {}", path.display()))(
                    err,
                ))
            }
        }
    }
}

/// The number of steps of a link without a relink, for the progress bar: the plan's length
/// ([`ONE_LINK`]); a step the plan adds on the way adds itself.
pub const STEPS: u64 = ONE_LINK.len() as u64;

impl Pipeline<'_> {
    fn run(&mut self) -> Result<LinkSummary, LinkError> {
        let request = self.request;
        let output_name = request.output.display().to_string();
        let mut plan = self.plan.steps();
        self.progress.expect(plan.len() as u64);
        let mut framed = false;
        let mut relinked = false;
        let mut misfit = String::new();
        while let Some(kind) = plan.pop_front() {
            let outcome = self.step(self.plan.step(kind, framed));
            match (kind, misfit_message(&outcome)) {
                (StepKind::Final, Some(message)) if relinked => {
                    return Err(LinkError::Misfit(message));
                }
                (StepKind::Final, Some(message)) => {
                    relinked = true;
                    misfit = message;
                    let expired = &self.plan.files.expired;
                    if expired.exists() {
                        fs::remove_file(expired)
                            .map_err(LinkError::io(expired.display().to_string()))?;
                    }
                    // The final step that failed did not finish: the relink's steps take
                    // its place.
                    self.run_next(&mut plan, &RELINK);
                }
                (StepKind::Btf, Some(message)) => return Err(LinkError::BtfMisfit(message)),
                _ => outcome?,
            }
            match kind {
                StepKind::Table => self.expire_remembered(&output_name)?,
                StepKind::Pad => {
                    framed = !self.frame_is_tables_own()?;
                    if framed {
                        self.run_next(&mut plan, &FRAMED);
                    }
                }
                StepKind::Remember => self.warn_misfit(&output_name, &misfit)?,
                _ => {}
            }
        }

        let files = &self.plan.files;
        let (symbols, pad_waste) = if request.dry_run || request.prepare {
            (0, 0)
        } else {
            let report: PatchReport =
                artifact::read(&files.report).map_err(|e| LinkError::BadArtifact {
                    step: StepKind::Patch.name(),
                    message: format!("{}: {e}", files.report.display()),
                })?;
            (report.num_syms, report.pad_waste)
        };
        if !request.dry_run && !request.prepare && !relinked && files.remembered.exists() {
            self.judge_remembered(pad_waste)?;
        }
        Ok(LinkSummary {
            output: request.output.clone(),
            map: request.map_path(),
            links: self.links,
            relinked,
            symbols,
            pad_waste,
            steps: std::mem::take(&mut self.timings),
        })
    }

    /// Puts `steps` at the front of the plan, and counts them on the progress bar.
    fn run_next(&self, plan: &mut VecDeque<StepKind>, steps: &[StepKind]) {
        for kind in steps.iter().rev() {
            plan.push_front(*kind);
        }
        self.progress.expect(plan.len() as u64);
    }

    /// A remembered frame goes at the first build that changes an input after a build whose
    /// table fitted the prediction's own sizes: an unchanged rerun keeps its layout.
    fn expire_remembered(&self, output_name: &str) -> Result<(), LinkError> {
        let files = &self.plan.files;
        let predicted_again = self
            .timings
            .iter()
            .any(|t| t.name == StepKind::Predict.name() && !t.skipped);
        if !predicted_again
            || !files.remembered.exists()
            || !files.expired.exists()
            || self.request.dry_run
        {
            return Ok(());
        }
        for file in [&files.remembered, &files.expired] {
            fs::remove_file(file)
                .map_err(LinkError::io(format!("cannot remove {}", file.display())))?;
        }
        self.progress.note(&format!(
            "kslink: {output_name}: dropped the frame remembered in {}: the last build's \
             table fitted without it",
            files.remembered.display()
        ));
        Ok(())
    }

    /// After a misfit, once the frame it needs is remembered: what the prediction missed.
    fn warn_misfit(&self, output_name: &str, message: &str) -> Result<(), LinkError> {
        let (missed, short) = self.misfit_figures()?;
        self.progress.warn(&format!(
            "kslink: warning: {output_name}: the prediction missed {missed} symbols \
             ({short} bytes more table than its frame); linking once more, with the \
             frame remembered in {} for the next builds",
            self.plan.files.remembered.display()
        ));
        self.progress
            .detail(&format!("kslink: {}", message.trim_end()));
        Ok(())
    }

    /// True if the frame is exactly the first table's layout, so that the object the table
    /// step made already honours it.
    fn frame_is_tables_own(&self) -> Result<bool, LinkError> {
        let files = &self.plan.files;
        if self.request.dry_run && !(files.frame.exists() && files.first_table.exists()) {
            return Ok(true);
        }
        let frame: PadSpec = read_artifact(StepKind::Pad, &files.frame)?;
        let table: KallsymsTable = read_artifact(StepKind::Table, &files.first_table)?;
        Ok(frame.arrays == table.arrays && frame.size == table.data.len() as u64)
    }

    /// After a misfit: how many of the linked file's symbols the prediction did not have
    /// (as names, counted with their repeats), and by how many bytes the table that holds
    /// them (`needed.table`) outgrows the frame, all arrays together.
    fn misfit_figures(&self) -> Result<(u64, u64), LinkError> {
        let files = &self.plan.files;
        let predicted_set: SymbolSet = read_artifact(StepKind::Predict, &files.predicted)?;
        let final_set: SymbolSet = read_artifact(StepKind::Collect, &files.final_symbols)?;
        let mut counts: HashMap<&[u8], i64> = HashMap::new();
        for symbol in &predicted_set.symbols {
            *counts.entry(&symbol.name).or_default() += 1;
        }
        let mut missed = 0;
        for symbol in &final_set.symbols {
            let count = counts.entry(&symbol.name).or_default();
            *count -= 1;
            if *count < 0 {
                missed += 1;
            }
        }
        let frame: PadSpec = read_artifact(StepKind::Pad, &files.frame)?;
        let needed: KallsymsTable = read_artifact(StepKind::Measure, &files.needed)?;
        let short = needed
            .arrays
            .iter()
            .map(|array| {
                let room = frame
                    .arrays
                    .iter()
                    .find(|own| own.kind == array.kind)
                    .map_or(0, |own| own.size);
                array.size.saturating_sub(room)
            })
            .sum();
        Ok((missed, short))
    }

    /// After a build with a remembered frame: if the final table fits the first table's own
    /// sizes, the frame is no longer needed, and `expired` says so (the next build that
    /// changes an input drops it); otherwise it still is, and `expired` goes.
    fn judge_remembered(&self, pad_waste: u64) -> Result<(), LinkError> {
        let files = &self.plan.files;
        let first: KallsymsTable = read_artifact(StepKind::Table, &files.first_table)?;
        let last: KallsymsTable = read_artifact(StepKind::Final, &files.final_table)?;
        let fits = last.arrays.iter().all(|array| {
            first
                .array(array.kind)
                .is_some_and(|own| array.size <= own.size)
        });
        let expired = &files.expired;
        if fits {
            fs::write(expired, "").map_err(LinkError::io(expired.display().to_string()))?;
            self.progress.note(&format!(
                "kslink: {}: the table fits the prediction's own sizes again; the frame \
                 remembered in {} ({pad_waste} bytes of padding here) goes at the next build \
                 that changes an input",
                self.request.output.display(),
                files.remembered.display()
            ));
        } else if expired.exists() {
            fs::remove_file(expired).map_err(LinkError::io(expired.display().to_string()))?;
        }
        Ok(())
    }
}

/// What a stage said when it exited with [`exit::MISFIT`]: its output does not fit what it
/// must (the final table its frame, the BTF the linked file).
fn misfit_message(outcome: &Result<(), LinkError>) -> Option<String> {
    match outcome {
        Err(LinkError::StepFailed {
            status: Some(status),
            message,
            ..
        }) if *status == i32::from(exit::MISFIT) => Some(message.trim_end().to_string()),
        _ => None,
    }
}

/// The artifact that step `maker` wrote at `path`.
fn read_artifact<T: artifact::Artifact>(maker: StepKind, path: &Path) -> Result<T, LinkError> {
    artifact::read(path).map_err(|e| LinkError::BadArtifact {
        step: maker.name(),
        message: format!("{}: {e}", path.display()),
    })
}

/// Refuses, before anything is made, an output, map or work directory in a directory that
/// does not exist or cannot be written, and an output that is a directory or one of the
/// link's own inputs (the linker writes into the work directory, so its own guard never sees
/// it).
fn check_output(request: &LinkRequest, script: &Path) -> Result<(), LinkError> {
    let out = &request.output;
    let work = request.work_dir();
    for file in [out.clone(), request.map_path(), work.clone()] {
        let dir = if file == work && work.is_dir() {
            work.as_path()
        } else {
            match file.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir,
                _ => Path::new("."),
            }
        };
        if !dir.is_dir() {
            return Err(LinkError::Usage(format!(
                "{}: no such directory: create it, or name another place for {}",
                dir.display(),
                file.display()
            )));
        }
        // Permission bits do not say it for root, nor for a read-only file system: a file
        // made and removed at once does.
        if let Err(err) = tempfile::Builder::new()
            .prefix(".kslink-probe")
            .tempfile_in(dir)
        {
            return Err(LinkError::Usage(format!(
                "{}: cannot write there ({}): make it writable, or name another place for {}",
                dir.display(),
                io_reason(&err),
                file.display()
            )));
        }
    }
    let Ok(out_meta) = fs::metadata(out) else {
        return Ok(());
    };
    if out_meta.is_dir() {
        return Err(LinkError::Usage(
            "the output is a directory: name a file with -o".to_string(),
        ));
    }
    let same_file = |path: &Path| {
        fs::metadata(path).is_ok_and(|m| m.dev() == out_meta.dev() && m.ino() == out_meta.ino())
    };
    let inputs = request.linker.input_files().map(Path::new);
    match std::iter::once(script).chain(inputs).find(|p| same_file(p)) {
        Some(input) => Err(LinkError::Usage(format!(
            "the output is the link's input {}: name another output with -o",
            input.display()
        ))),
        None => Ok(()),
    }
}

/// Each `--symbol-free` file must be an input file of the linker command, named as it
/// names it: the prediction leaves out the arguments equal to it.
fn check_symbol_free(request: &LinkRequest) -> Result<(), LinkError> {
    for file in &request.symbol_free {
        if !request
            .linker
            .input_files()
            .any(|input| input == file.as_os_str())
        {
            return Err(LinkError::Usage(format!(
                "--symbol-free {}: not an input file of the linker command; name it as the \
                 command does",
                file.display()
            )));
        }
    }
    Ok(())
}

/// Asks the table stage whether it builds tables with these options (profile, arch, the
/// flags the profile takes), so that a mistyped name is refused before the prediction and the
/// link: the stage's own answer, as a swapped stage may know other names.
fn check_table_options(request: &LinkRequest) -> Result<(), LinkError> {
    let stage = request.stages.executable("table");
    let mut args = request.flags.table_args();
    args.push("--check".into());
    let output = duct::cmd(stage, args)
        .stdout_null()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|err| {
            LinkError::Usage(format!(
                "cannot run the table stage {}: {}",
                stage.display(),
                io_reason(&err)
            ))
        })?;
    if output.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&output.stderr);
    Err(LinkError::Usage(
        said.lines()
            .next()
            .unwrap_or("the table stage refused the options")
            .to_string(),
    ))
}
