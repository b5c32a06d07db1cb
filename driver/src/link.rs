//! `kslink link`: one link, with the table patched in place afterwards.
//!
//! The steps, each a stage executable (or the linker) exchanging files in the work directory:
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
//! | install | (the driver) | the output and its System.map |
//!
//! If the final table does not fit the frame (the prediction missed symbols), the driver
//! sizes a frame from the final table, remembers it in `remembered.pad` for later builds, and
//! links once more: never more than two links, and never an output whose table is wrong
//! (the patch step decodes what it wrote and compares it with the file's own symbols).

use std::collections::HashMap;
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
use crate::progress::Progress;
use crate::stages::StageSet;
use crate::step::{Action, Step};

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
    fn table_args(&self) -> Vec<OsString> {
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
    fn linked_args(&self) -> Vec<OsString> {
        match &self.profile {
            Some(profile) => vec!["--profile".into(), profile.into()],
            None => Vec::new(),
        }
    }

    fn predict_args(&self) -> Vec<OsString> {
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
    pub(crate) script: PathBuf,
    pub(crate) progress: &'a Progress,
    pub(crate) interrupts: Interrupts,
    pub(crate) work: PathBuf,
    pub(crate) journal: Journal,
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
        script,
        progress,
        interrupts,
        work,
        journal,
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

/// The number of steps of a link without a relink, for the progress bar: predict, table,
/// pad, link, collect, final, locate, patch, install (the object step, which runs only for a
/// frame larger than the first table, adds itself).
pub const STEPS: u64 = 9;

impl Pipeline<'_> {
    fn file(&self, name: &str) -> PathBuf {
        self.work.join(name)
    }

    fn stage(&self, name: &str) -> OsString {
        self.request.stages.executable(name).as_os_str().to_owned()
    }

    fn run(&mut self) -> Result<LinkSummary, LinkError> {
        let request = self.request;
        let script = self.script.clone();
        let output_name = request.output.display().to_string();
        let predicted = self.file("predicted.symbols");
        let first_table = self.file("first.table");
        let first_object = self.file("first.o");
        let linked = self.file("linked");
        let final_symbols = self.file("final.symbols");
        let work_map = self.file("System.map");
        let final_table = self.file("final.table");
        let location = self.file("location");
        let report = self.file("patch.report");
        let remembered = self.file("remembered.pad");
        let expired = self.file("remembered.expired");
        let flags = request.flags.table_args();

        // predict, by the rules of the linker that will link
        let mut argv = vec![self.stage("collect"), "--predict".into(), "-T".into()];
        argv.push(script.clone().into());
        argv.extend(request.flags.predict_args());
        let flavour = request.linker.flavour();
        argv.extend(["--linker".into(), flavour.name().into()]);
        argv.extend(request.linker.kind.predict_flag().map(OsString::from));
        argv.extend(["-o".into(), predicted.clone().into()]);
        argv.extend(request.linker.inputs.iter().cloned());
        let inputs: Vec<PathBuf> = std::iter::once(script.clone())
            .chain(request.linker.input_files().map(PathBuf::from))
            .collect();
        let predict = self.step(
            Step::new(
                "predict",
                "KSYMS",
                format!("{output_name} (predicted)"),
                Action::Command(argv),
            )
            .external(inputs.clone())
            .outputs(&[&predicted]),
        )?;

        // the first table, and its object in its own frame
        let mut argv = vec![self.stage("table")];
        argv.extend(flags.iter().cloned());
        argv.extend(["-o".into(), first_table.clone().into()]);
        argv.extend(["--emit-object".into(), first_object.clone().into()]);
        argv.push(predicted.clone().into());
        let table = self.step(
            Step::new(
                "table",
                "KSYMS",
                shown(&first_object),
                Action::Command(argv),
            )
            .after(&[&predict])
            .outputs(&[&first_table, &first_object]),
        )?;

        // A remembered frame goes at the first build that changes an input after a build whose
        // table fitted the prediction's own sizes: an unchanged rerun keeps its layout.
        let predicted_again = self
            .timings
            .iter()
            .any(|t| t.name == "predict" && !t.skipped);
        if predicted_again && remembered.exists() && expired.exists() && !request.dry_run {
            for file in [&remembered, &expired] {
                fs::remove_file(file)
                    .map_err(LinkError::io(format!("cannot remove {}", file.display())))?;
            }
            self.progress.note(&format!(
                "kslink: {output_name}: dropped the frame remembered in {}: the last build's \
                 table fitted without it",
                remembered.display()
            ));
        }

        let mut relinked = false;
        loop {
            // the frame: the first table's sizes, or more where a previous build needed more
            let frame = self.file("frame.pad");
            let mut argv = vec![self.stage("pad")];
            let mut pad_inputs = Vec::new();
            if remembered.exists() {
                argv.extend(["--at-least".into(), remembered.clone().into()]);
                pad_inputs.push(remembered.clone());
            }
            argv.extend([
                "-o".into(),
                frame.clone().into(),
                first_table.clone().into(),
            ]);
            let pad = self.step(
                Step::new("pad", "PAD", shown(&frame), Action::Command(argv))
                    .after(&[&table])
                    .external(pad_inputs)
                    .outputs(&[&frame]),
            )?;

            // the object to link: the first table's own, unless the frame is larger
            let (object, object_key) = if self.frame_is_tables_own(&frame, &first_table)? {
                (first_object.clone(), pad.clone())
            } else {
                let framed = self.file("kallsyms.o");
                self.progress.add_steps(1);
                let mut argv = vec![self.stage("table")];
                argv.extend(flags.iter().cloned());
                argv.extend(["--frame".into(), frame.clone().into()]);
                argv.extend(["--emit-object".into(), framed.clone().into()]);
                argv.push(predicted.clone().into());
                let key = self.step(
                    Step::new("object", "KSYMS", shown(&framed), Action::Command(argv))
                        .after(&[&pad, &predict])
                        .outputs(&[&framed]),
                )?;
                (framed, key)
            };

            // the one link
            let argv = request
                .linker
                .with_table(object.as_os_str(), linked.as_os_str());
            let link = self.step(
                Step::new("link", "LD", output_name.clone(), Action::Command(argv))
                    .after(&[&object_key])
                    .external(inputs.iter().skip(1).cloned())
                    .outputs(&[&linked]),
            )?;

            // the linked file's own symbols
            let mut argv = vec![self.stage("collect")];
            argv.extend(self.request.flags.linked_args());
            argv.extend([
                "--linked".into(),
                linked.clone().into(),
                "-o".into(),
                final_symbols.clone().into(),
                "--emit-map".into(),
                work_map.clone().into(),
            ]);
            let collect = self.step(
                Step::new("collect", "NM", shown(&work_map), Action::Command(argv))
                    .after(&[&link])
                    .outputs(&[&final_symbols, &work_map]),
            )?;

            // the final table, in the frame
            let mut argv = vec![self.stage("table")];
            argv.extend(flags.iter().cloned());
            argv.extend(["--frame".into(), frame.clone().into()]);
            // After an exact prediction the first table's compression is the final one's.
            argv.extend(["--tokens-from".into(), first_table.clone().into()]);
            argv.extend(["-o".into(), final_table.clone().into()]);
            argv.push(final_symbols.clone().into());
            let fitted = self.step(
                Step::new("final", "KSYMS", shown(&final_table), Action::Command(argv))
                    .after(&[&collect, &pad, &table])
                    .outputs(&[&final_table]),
            );
            let fitted = match fitted {
                Err(LinkError::StepFailed {
                    status: Some(status),
                    message,
                    ..
                }) if status == i32::from(exit::MISFIT) && !relinked => {
                    self.remember_sizes(&flags, &final_symbols, &first_table, &remembered)?;
                    if expired.exists() {
                        fs::remove_file(&expired)
                            .map_err(LinkError::io(expired.display().to_string()))?;
                    }
                    let (missed, short) =
                        self.misfit_figures(&predicted, &final_symbols, &frame)?;
                    self.progress.warn(&format!(
                        "kslink: warning: {output_name}: the prediction missed {missed} symbols \
                         ({short} bytes more table than its frame); linking once more, with the \
                         frame remembered in {} for the next builds",
                        remembered.display()
                    ));
                    self.progress
                        .detail(&format!("kslink: {}", message.trim_end()));
                    // measure and remember, then pad, link, collect and final again (the
                    // final that failed is not counted: it did not finish).
                    self.progress.add_steps(5);
                    relinked = true;
                    continue;
                }
                Err(LinkError::StepFailed {
                    status: Some(status),
                    message,
                    ..
                }) if status == i32::from(exit::MISFIT) => {
                    return Err(LinkError::Misfit(message.trim_end().to_string()))
                }
                other => other?,
            };

            // where the first table is in the linked file, and the final one written there
            let argv = vec![
                self.stage("locate"),
                "--frame".into(),
                frame.clone().into(),
                "-o".into(),
                location.clone().into(),
                linked.clone().into(),
            ];
            let locate = self.step(
                Step::new(
                    "locate",
                    "LOCATE",
                    output_name.clone(),
                    Action::Command(argv),
                )
                .after(&[&link, &pad])
                .outputs(&[&location]),
            )?;
            let argv = vec![
                self.stage("patch"),
                "--location".into(),
                location.clone().into(),
                "--table".into(),
                final_table.clone().into(),
                "--report".into(),
                report.clone().into(),
                "--in-place".into(),
                linked.clone().into(),
            ];
            let mut step = Step::new("patch", "PATCH", output_name.clone(), Action::Command(argv))
                .after(&[&locate, &fitted, &link])
                .outputs(&[&linked, &report]);
            step.rewrites.push(linked.clone());
            // The patch step reads its result back and checks it, as the kernel will read
            // it, against the file's own symbols: nothing is left to verify before install.
            let patch = self.step(step)?;

            let map = request.map_path();
            let pairs = vec![
                (linked.clone(), request.output.clone()),
                (work_map.clone(), map.clone()),
            ];
            self.step(
                Step::new(
                    "install",
                    "INSTALL",
                    output_name.clone(),
                    Action::Install(pairs),
                )
                .after(&[&patch, &collect])
                .outputs(&[&request.output, &map]),
            )?;

            let (symbols, pad_waste) = if request.dry_run {
                (0, 0)
            } else {
                let report: PatchReport =
                    artifact::read(&report).map_err(|e| LinkError::BadArtifact {
                        step: "patch",
                        message: format!("{}: {e}", report.display()),
                    })?;
                (report.num_syms, report.pad_waste)
            };
            if !request.dry_run && !relinked && remembered.exists() {
                self.judge_remembered(&first_table, &final_table, &expired, pad_waste)?;
            }
            return Ok(LinkSummary {
                output: request.output.clone(),
                map,
                links: self.links,
                relinked,
                symbols,
                pad_waste,
                steps: std::mem::take(&mut self.timings),
            });
        }
    }

    /// True if the frame is exactly the first table's layout, so that the object the table
    /// step made already honours it.
    fn frame_is_tables_own(&self, frame: &Path, table: &Path) -> Result<bool, LinkError> {
        if self.request.dry_run && !(frame.exists() && table.exists()) {
            return Ok(true);
        }
        let read_error = |step: &'static str, path: &Path| {
            let path = path.display().to_string();
            move |e: artifact::ArtifactError| LinkError::BadArtifact {
                step,
                message: format!("{path}: {e}"),
            }
        };
        let frame: PadSpec = artifact::read(frame).map_err(read_error("pad", frame))?;
        let table: KallsymsTable = artifact::read(table).map_err(read_error("table", table))?;
        Ok(frame.arrays == table.arrays && frame.size == table.data.len() as u64)
    }

    /// After a misfit: how many of the linked file's symbols the prediction did not have
    /// (as names, counted with their repeats), and by how many bytes the table that holds
    /// them (`needed.table`) outgrows the frame, all arrays together.
    fn misfit_figures(
        &self,
        predicted: &Path,
        final_symbols: &Path,
        frame: &Path,
    ) -> Result<(u64, u64), LinkError> {
        let needed = self.file("needed.table");
        let bad = |step: &'static str, path: &Path| {
            let path = path.display().to_string();
            move |e: artifact::ArtifactError| LinkError::BadArtifact {
                step,
                message: format!("{path}: {e}"),
            }
        };
        let predicted_set: SymbolSet =
            artifact::read(predicted).map_err(bad("predict", predicted))?;
        let final_set: SymbolSet =
            artifact::read(final_symbols).map_err(bad("collect", final_symbols))?;
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
        let frame: PadSpec = artifact::read(frame).map_err(bad("pad", frame))?;
        let needed: KallsymsTable = artifact::read(&needed).map_err(bad("measure", &needed))?;
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
    fn judge_remembered(
        &self,
        first_table: &Path,
        final_table: &Path,
        expired: &Path,
        pad_waste: u64,
    ) -> Result<(), LinkError> {
        let read = |step: &'static str, path: &Path| {
            artifact::read::<KallsymsTable>(path).map_err(|e| LinkError::BadArtifact {
                step,
                message: format!("{}: {e}", path.display()),
            })
        };
        let first = read("table", first_table)?;
        let last = read("final", final_table)?;
        let fits = last.arrays.iter().all(|array| {
            first
                .array(array.kind)
                .is_some_and(|own| array.size <= own.size)
        });
        let remembered = expired.with_file_name("remembered.pad");
        if fits {
            fs::write(expired, "").map_err(LinkError::io(expired.display().to_string()))?;
            self.progress.note(&format!(
                "kslink: {}: the table fits the prediction's own sizes again; the frame \
                 remembered in {} ({pad_waste} bytes of padding here) goes at the next build \
                 that changes an input",
                self.request.output.display(),
                remembered.display()
            ));
        } else if expired.exists() {
            fs::remove_file(expired).map_err(LinkError::io(expired.display().to_string()))?;
        }
        Ok(())
    }

    /// After a misfit: a frame at least as large as the final table needs, kept for the
    /// relink and for later builds.
    fn remember_sizes(
        &mut self,
        flags: &[OsString],
        final_symbols: &Path,
        first_table: &Path,
        remembered: &Path,
    ) -> Result<(), LinkError> {
        let needed = self.file("needed.table");
        let mut argv = vec![self.stage("table")];
        argv.extend(flags.iter().cloned());
        argv.extend(["-o".into(), needed.clone().into(), final_symbols.into()]);
        self.step(
            Step::new("measure", "KSYMS", shown(&needed), Action::Command(argv))
                .external([final_symbols.to_path_buf()])
                .outputs(&[&needed]),
        )?;
        let mut argv = vec![
            self.stage("pad"),
            "--at-least".into(),
            needed.clone().into(),
        ];
        let mut inputs = vec![needed.clone(), first_table.to_path_buf()];
        if remembered.exists() {
            argv.extend(["--at-least".into(), remembered.into()]);
            inputs.push(remembered.to_path_buf());
        }
        argv.extend(["-o".into(), remembered.into(), first_table.into()]);
        self.step(
            Step::new("remember", "PAD", shown(remembered), Action::Command(argv))
                .external(inputs)
                .outputs(&[remembered]),
        )?;
        Ok(())
    }
}

/// A path as progress lines show it.
fn shown(path: &Path) -> String {
    path.display().to_string()
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
