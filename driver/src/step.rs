//! The step runner: what a step is ([`Step`], built by the plan), its key (its command, its
//! inputs' stamps and the keys of the steps it follows), and running it unless the journal
//! says it is done with that key; the driver's own install step.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::LinkError;
use crate::interrupt::signal_name;
use crate::journal::{KeyBuilder, RecordedFile, Stamp, StepRecord};
use crate::link::{beside, Pipeline, StepTiming};
use crate::plan::StepKind;
use crate::progress::command_line;

/// What a step runs.
pub(crate) enum Action {
    /// A program: a stage or the linker.
    Command(Vec<OsString>),
    /// The driver's own last step: put the linked file and System.map in place.
    Install(Vec<(PathBuf, PathBuf)>),
}

/// One step, as the plan describes it.
pub(crate) struct Step {
    kind: StepKind,
    tag: &'static str,
    target: String,
    action: Action,
    /// Inputs that no step of this run makes: identified by their stamps.
    external: Vec<PathBuf>,
    /// The steps whose outputs it reads: their keys are part of its own.
    after: Vec<StepKind>,
    outputs: Vec<PathBuf>,
    /// Outputs of earlier steps it rewrites in place.
    rewrites: Vec<PathBuf>,
}

impl Step {
    pub(crate) fn new(kind: StepKind, tag: &'static str, target: String, action: Action) -> Step {
        Step {
            kind,
            tag,
            target,
            action,
            external: Vec::new(),
            after: Vec::new(),
            outputs: Vec::new(),
            rewrites: Vec::new(),
        }
    }

    pub(crate) fn after(mut self, steps: &[StepKind]) -> Step {
        self.after.extend(steps);
        self
    }

    pub(crate) fn external(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Step {
        self.external.extend(paths);
        self
    }

    pub(crate) fn outputs(mut self, paths: &[&Path]) -> Step {
        self.outputs.extend(paths.iter().map(|p| p.to_path_buf()));
        self
    }

    /// An output of an earlier step that this one rewrites in place.
    pub(crate) fn rewrites(mut self, path: &Path) -> Step {
        self.rewrites.push(path.to_path_buf());
        self
    }

    /// The step's key: its command, its external inputs' stamps, and `keys` of the steps it
    /// follows (each of which has run, or been found up to date, in this run).
    fn key(&self, keys: &HashMap<StepKind, String>) -> Result<String, LinkError> {
        let mut key = KeyBuilder::default();
        key.part(self.kind.name().as_bytes());
        match &self.action {
            Action::Command(argv) => {
                for arg in argv {
                    key.part(arg.as_encoded_bytes());
                }
                // A rebuilt stage executable is a changed input.
                let program = Path::new(&argv[0]);
                if program.components().count() > 1 {
                    stamp_part(&mut key, program)?;
                }
            }
            Action::Install(pairs) => {
                for (from, to) in pairs {
                    key.part(from.as_os_str().as_encoded_bytes());
                    key.part(to.as_os_str().as_encoded_bytes());
                }
            }
        }
        for path in &self.external {
            key.part(path.as_os_str().as_encoded_bytes());
            stamp_part(&mut key, path)?;
        }
        for after in &self.after {
            let Some(after) = keys.get(after) else {
                panic!("the plan runs {} before {}", self.kind.name(), after.name());
            };
            key.part(after.as_bytes());
        }
        Ok(key.finish())
    }
}

fn stamp_part(key: &mut KeyBuilder, path: &Path) -> Result<(), LinkError> {
    let stamp = Stamp::of(path).map_err(LinkError::io(format!("{}", path.display())))?;
    let stamp = serde_json::to_vec(&stamp).expect("a stamp serializes");
    key.part(&stamp);
    Ok(())
}

impl Pipeline<'_> {
    /// Runs a step unless it is up to date, and keeps its key for the steps that follow it.
    pub(crate) fn step(&mut self, step: Step) -> Result<(), LinkError> {
        let key = step.key(&self.keys)?;
        let journal_dir = self.work.join("journal");
        let journal_error =
            |what: &str| LinkError::io(format!("{what} in {}", journal_dir.display()));
        if self
            .journal
            .is_done(step.kind.name(), &key)
            .map_err(journal_error("cannot check the journal"))?
        {
            self.progress.finish(step.tag, &step.target, 0.0, true);
            self.timings.push(StepTiming {
                name: step.kind.name().to_string(),
                seconds: 0.0,
                skipped: true,
            });
            self.keys.insert(step.kind, key);
            return Ok(());
        }
        let shown = match &step.action {
            Action::Command(argv) => argv.clone(),
            Action::Install(pairs) => pairs
                .iter()
                .flat_map(|(from, to)| ["cp".into(), from.into(), to.into()])
                .collect(),
        };
        if self.request.dry_run {
            // One runnable command per line.
            match &step.action {
                Action::Command(argv) => self.progress.note(&command_line(argv)),
                Action::Install(pairs) => {
                    for (from, to) in pairs {
                        self.progress
                            .note(&command_line(&["cp".into(), from.into(), to.into()]));
                    }
                }
            }
            self.timings.push(StepTiming {
                name: step.kind.name().to_string(),
                seconds: 0.0,
                skipped: false,
            });
            self.keys.insert(step.kind, key);
            return Ok(());
        }

        self.progress.start(step.tag, &step.target, &shown);
        let started = Instant::now();
        // A step that rewrites a file in place records where it started first, so that the
        // file still counts as its maker's output if this run is cut short.
        let rewrites = self.rewrite_stamps(&step)?;
        self.journal
            .forget(step.kind.name())
            .map_err(journal_error("cannot update the journal"))?;
        if !rewrites.is_empty() {
            let pending = StepRecord {
                step: step.kind.name().to_string(),
                key: key.clone(),
                finished: false,
                outputs: Vec::new(),
                rewrites: rewrites.clone(),
                seconds: 0.0,
            };
            self.journal
                .store(pending)
                .map_err(journal_error("cannot update the journal"))?;
        }
        match &step.action {
            Action::Command(argv) => self.execute(&step, argv)?,
            Action::Install(pairs) => install(pairs)?,
        }
        if step.kind == StepKind::Link {
            self.links += 1;
        }
        let seconds = started.elapsed().as_secs_f64();
        let mut outputs = Vec::with_capacity(step.outputs.len());
        for path in &step.outputs {
            let stamp = Stamp::of(path)
                .map_err(LinkError::io(path.display().to_string()))?
                .ok_or_else(|| LinkError::StepFailed {
                    step: step.kind.name(),
                    program: program_name(&shown),
                    status: Some(0),
                    message: format!("it did not write {}", path.display()),
                })?;
            outputs.push(RecordedFile {
                path: path.clone(),
                stamp,
            });
        }
        self.journal
            .store(StepRecord {
                step: step.kind.name().to_string(),
                key: key.clone(),
                finished: true,
                outputs,
                rewrites,
                seconds,
            })
            .map_err(journal_error("cannot update the journal"))?;
        self.progress.finish(step.tag, &step.target, seconds, false);
        self.timings.push(StepTiming {
            name: step.kind.name().to_string(),
            seconds,
            skipped: false,
        });
        self.keys.insert(step.kind, key);
        Ok(())
    }

    /// The stamps the files a step rewrites had when the link made them: taken from the
    /// link's record, not from the files, which an interrupted rewrite may have changed.
    fn rewrite_stamps(&self, step: &Step) -> Result<Vec<RecordedFile>, LinkError> {
        step.rewrites
            .iter()
            .map(|path| {
                let recorded = self
                    .journal
                    .record(StepKind::Link.name())
                    .into_iter()
                    .flat_map(|record| &record.outputs)
                    .find(|file| &file.path == path);
                match recorded {
                    Some(file) => Ok(file.clone()),
                    None => Err(LinkError::Usage(format!(
                        "{} has no record of the link that made it",
                        path.display()
                    ))),
                }
            })
            .collect()
    }

    fn execute(&mut self, step: &Step, argv: &[OsString]) -> Result<(), LinkError> {
        if step.kind == StepKind::Link {
            // The linker makes a new file rather than writing over the old one.
            for output in &step.outputs {
                match fs::remove_file(output) {
                    Err(err) if err.kind() != io::ErrorKind::NotFound => {
                        return Err(LinkError::io(output.display().to_string())(err))
                    }
                    _ => {}
                }
            }
        }
        let expression = duct::cmd(&argv[0], &argv[1..])
            .stdout_capture()
            .stderr_capture()
            .unchecked();
        let output = self
            .interrupts
            .run(expression)
            .map_err(LinkError::Interrupted)?
            .map_err(|err| LinkError::StepFailed {
                step: step.kind.name(),
                program: program_name(argv),
                status: None,
                message: if err.kind() == io::ErrorKind::NotFound {
                    "not found: build the stages (cargo build --release) or name the program \
                     with --stage"
                        .to_string()
                } else {
                    format!("cannot start it: {err}")
                },
            })?;
        for text in [&output.stdout, &output.stderr] {
            let text = String::from_utf8_lossy(text);
            if output.status.success() && !text.trim().is_empty() {
                self.progress.note(text.trim_end());
            }
        }
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let mut message = stderr.trim_end().to_string();
        if step.kind != StepKind::Link {
            // A stage's message is one line, prefixed with its own name.
            message = message.lines().last().unwrap_or("").to_string();
        }
        if let Some(signal) = output.status.signal() {
            let killed = format!("killed by {} (signal {signal})", signal_name(signal));
            message = match message.is_empty() {
                true => killed,
                false => format!("{killed}; it said: {message}"),
            };
        }
        Err(LinkError::StepFailed {
            step: step.kind.name(),
            program: program_name(argv),
            status: output.status.code(),
            message,
        })
    }
}

fn program_name(argv: &[OsString]) -> String {
    Path::new(&argv[0])
        .file_name()
        .unwrap_or(OsStr::new("?"))
        .to_string_lossy()
        .into_owned()
}

/// Puts each `from` at `to`: a copy renamed into place, so that `to` changes in one step and
/// never exists half-written. Not a hard link: what rewrites the installed file in place
/// (Kbuild's post-link `objcopy` on a relocatable x86 kernel) must not rewrite the work
/// directory's file that the journal vouches for. (`fs::copy` clones where the file system
/// can.)
fn install(pairs: &[(PathBuf, PathBuf)]) -> Result<(), LinkError> {
    // Every copy first, then the renames: a copy that fails (a full disk, a missing
    // directory) leaves every destination as it was.
    let mut temps: Vec<PathBuf> = Vec::new();
    let mut failure = None;
    for (from, to) in pairs {
        let temp = beside(
            to,
            &format!(
                ".{}.kslink-tmp{}",
                to.file_name()
                    .unwrap_or(OsStr::new("out"))
                    .to_string_lossy(),
                std::process::id()
            ),
        );
        let _ = fs::remove_file(&temp);
        if let Err(err) = fs::copy(from, &temp) {
            let _ = fs::remove_file(&temp);
            failure = Some((from, to, err));
            break;
        }
        temps.push(temp);
    }
    if failure.is_none() {
        for ((from, to), temp) in pairs.iter().zip(&temps) {
            if let Err(err) = fs::rename(temp, to) {
                failure = Some((from, to, err));
                break;
            }
        }
    }
    match failure {
        None => Ok(()),
        Some((from, to, err)) => {
            for temp in &temps {
                let _ = fs::remove_file(temp);
            }
            Err(LinkError::io(format!(
                "cannot install {} as {}",
                from.display(),
                to.display()
            ))(err))
        }
    }
}
