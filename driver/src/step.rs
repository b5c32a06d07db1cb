//! The step runner: what a step is ([`Step`], built by the plan), its key (its command, its
//! inputs' stamps and the keys of the steps it follows), and running it unless the journal
//! says it is done with that key; the driver's own install step.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
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
    Install(Vec<Installed>),
}

/// A file the install step puts in place.
pub(crate) struct Installed {
    pub(crate) from: PathBuf,
    pub(crate) to: PathBuf,
    /// Installed as a second name of the same file (a kernel with its debug information is
    /// not copied), not as a copy. Only for a file whose installed name no other build's
    /// install takes: a name that goes changes the file's status time, and then the journal
    /// distrusts it.
    pub(crate) shared: bool,
}

impl Installed {
    /// The command that does the same: `ln -f` or `cp`.
    fn command(&self) -> Vec<OsString> {
        let program: &[&str] = match self.shared {
            true => &["ln", "-f"],
            false => &["cp"],
        };
        program
            .iter()
            .map(OsString::from)
            .chain([self.from.clone().into(), self.to.clone().into()])
            .collect()
    }
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
    /// Outputs of earlier steps whose stamps it changes, each with the step whose record
    /// has the stamp it starts from, and how.
    rewrites: Vec<(PathBuf, StepKind, Change)>,
}

/// How a step changes an earlier step's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    /// It writes the file in place.
    Content,
    /// It gives the file another name, which changes its status time.
    Name,
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

    /// An output of an earlier step that this one rewrites in place, as `maker` recorded
    /// it.
    pub(crate) fn rewrites(mut self, path: &Path, maker: StepKind) -> Step {
        self.rewrites
            .push((path.to_path_buf(), maker, Change::Content));
        self
    }

    /// An output of an earlier step that this one gives another name, as `maker` recorded
    /// it: its content stays, its status time changes.
    pub(crate) fn names(mut self, path: &Path, maker: StepKind) -> Step {
        self.rewrites
            .push((path.to_path_buf(), maker, Change::Name));
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
            Action::Install(files) => {
                for file in files {
                    key.part(file.from.as_os_str().as_encoded_bytes());
                    key.part(file.to.as_os_str().as_encoded_bytes());
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
            Action::Install(files) => files.iter().flat_map(Installed::command).collect(),
        };
        if self.request.dry_run {
            // One runnable command per line.
            match &step.action {
                Action::Command(argv) => self.progress.note(&command_line(argv)),
                Action::Install(files) => {
                    for file in files {
                        self.progress.note(&command_line(&file.command()));
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
        for (path, _, change) in &step.rewrites {
            if *change == Change::Content {
                unshare(path)?;
            }
        }
        match &step.action {
            Action::Command(argv) => self.execute(&step, argv)?,
            Action::Install(files) => install(files)?,
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

    /// The stamps the files a step rewrites had when the step before made them: taken from
    /// that step's record, not from the files, which an interrupted rewrite may have changed.
    fn rewrite_stamps(&self, step: &Step) -> Result<Vec<RecordedFile>, LinkError> {
        step.rewrites
            .iter()
            .map(|(path, maker, _)| {
                let recorded = self
                    .journal
                    .record(maker.name())
                    .into_iter()
                    .flat_map(|record| &record.outputs)
                    .find(|file| &file.path == path);
                match recorded {
                    Some(file) => Ok(file.clone()),
                    None => Err(LinkError::Usage(format!(
                        "{} has no record of the {} step that made it",
                        path.display(),
                        maker.name()
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

/// Puts each file in place: under a temporary name beside it, a second name of the file
/// ([`Installed::shared`]) or a copy, renamed into place, so that it changes in one step
/// and never exists half-written. What rewrites a shared file in place once it is installed
/// (resolve_btfids, sorttable, Kbuild's post-link objcopy) rewrites the work directory's
/// file too: the journal sees its stamp change, and the next run links again. A step of
/// kslink that rewrites a work file first makes it a file of its own ([`unshare`]), so that
/// the installed one stays as it was until the next install.
fn install(files: &[Installed]) -> Result<(), LinkError> {
    // Every temporary first, then the renames: one that fails (a full disk, a missing
    // directory) leaves every destination as it was.
    let mut temps: Vec<PathBuf> = Vec::new();
    let mut failure = None;
    for file in files {
        let temp = temp_beside(&file.to);
        let _ = fs::remove_file(&temp);
        let made = match file.shared {
            // A copy where the two are on different file systems.
            true => {
                fs::hard_link(&file.from, &temp).or_else(|_| fs::copy(&file.from, &temp).map(drop))
            }
            false => fs::copy(&file.from, &temp).map(drop),
        };
        if let Err(err) = made {
            let _ = fs::remove_file(&temp);
            failure = Some((file, err));
            break;
        }
        temps.push(temp);
    }
    if failure.is_none() {
        for (file, temp) in files.iter().zip(&temps) {
            if let Err(err) = fs::rename(temp, &file.to) {
                failure = Some((file, err));
                break;
            }
        }
    }
    // What was renamed is gone; a rename onto another name of the same file leaves both.
    for temp in &temps {
        let _ = fs::remove_file(temp);
    }
    match failure {
        None => Ok(()),
        Some((file, err)) => Err(LinkError::io(format!(
            "cannot install {} as {}",
            file.from.display(),
            file.to.display()
        ))(err)),
    }
}

/// Makes `path` a file of its own if it has other names (an installed output), by a copy
/// renamed over it: a rewrite in place then leaves the installed file as it is.
fn unshare(path: &Path) -> Result<(), LinkError> {
    let shared = match fs::metadata(path) {
        Ok(meta) => meta.nlink() > 1,
        Err(_) => false,
    };
    if !shared {
        return Ok(());
    }
    let temp = temp_beside(path);
    let result = fs::copy(path, &temp).and_then(|_| fs::rename(&temp, path));
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result.map_err(LinkError::io(format!(
        "cannot make {} a file of its own before rewriting it (it is installed under another name)",
        path.display()
    )))
}

/// A temporary name for `to` in its own directory, for this process.
fn temp_beside(to: &Path) -> PathBuf {
    beside(
        to,
        &format!(
            ".{}.kslink-tmp{}",
            to.file_name()
                .unwrap_or(OsStr::new("out"))
                .to_string_lossy(),
            std::process::id()
        ),
    )
}
