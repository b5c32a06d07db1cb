//! What the driver shows while it works.
//!
//! On a terminal: a bar over the steps with a spinner on the current one, and a line per
//! finished step. Elsewhere (a build log), Kbuild's quiet lines, `  LD      vmlinux`, printed
//! as each step starts; with `--verbose` (Kbuild's `V=1`) the commands instead; with
//! `--quiet` (`make -s`) nothing. Steps that are up to date print nothing, as in make.

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// How much to say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verbosity {
    /// Nothing but errors.
    Quiet,
    /// A line per step.
    Normal,
    /// The command of every step.
    Verbose,
}

/// The progress display of one run.
pub struct Progress {
    bar: Option<ProgressBar>,
    verbosity: Verbosity,
    /// Lines go to standard error instead of standard output (when standard output carries
    /// the `--json` report).
    to_stderr: bool,
    /// A directory whose files are shown by their names relative to it (the demo's).
    base: Mutex<Option<String>>,
}

impl Progress {
    /// A display for `steps` steps: bars if standard error is a terminal and not quiet.
    pub fn new(steps: u64, verbosity: Verbosity, to_stderr: bool) -> Progress {
        let bar = (verbosity != Verbosity::Quiet && io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(steps);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner:.green} [{pos}/{len}] {bar:24.cyan/blue} {wide_msg} {elapsed}",
                )
                .expect("a valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Progress {
            bar,
            verbosity,
            to_stderr,
            base: Mutex::new(None),
        }
    }

    /// Shows the files under `dir` by their paths relative to it from now on.
    pub fn relative_to(&self, dir: &Path) {
        *self.base.lock().expect("the base directory") = Some(format!("{}/", dir.display()));
    }

    /// `target` with the base directory left out of its paths.
    fn shown(&self, target: &str) -> String {
        match self.base.lock().expect("the base directory").as_deref() {
            Some(base) => target.replace(base, ""),
            None => target.to_string(),
        }
    }

    /// A step starts: `tag` is Kbuild's column (`LD`, `KSYMS`), `target` what it makes.
    pub fn start(&self, tag: &str, target: &str, command: &[OsString]) {
        let target = &self.shown(target);
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{tag} {target}"));
            if self.verbosity == Verbosity::Verbose {
                bar.println(command_line(command));
            }
            return;
        }
        match self.verbosity {
            Verbosity::Quiet => {}
            Verbosity::Normal => self.line(&format!("  {tag:<7} {target}")),
            Verbosity::Verbose => self.line(&command_line(command)),
        }
    }

    /// A step ended (`skipped`: it was up to date).
    pub fn finish(&self, tag: &str, target: &str, seconds: f64, skipped: bool) {
        let target = &self.shown(target);
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if skipped {
                bar.println(format!("  {tag:<7} {target} (up to date)"));
            } else {
                bar.println(format!("  {tag:<7} {target} ({seconds:.2} s)"));
            }
        }
    }

    /// The steps left to run changed (a relink adds some): the bar counts `remaining` more
    /// than have finished.
    pub fn expect(&self, remaining: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(bar.position() + remaining);
        }
    }

    /// A message that is not a step (a relink, a warning from a stage), unless quiet.
    pub fn note(&self, message: &str) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        match &self.bar {
            Some(bar) => bar.println(message),
            None => self.line(message),
        }
    }

    /// A warning: on standard error, even when quiet (what `make -s` still shows).
    pub fn warn(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.println(message),
            None => {
                let _ = writeln!(io::stderr(), "{message}");
            }
        }
    }

    /// Detail for whoever asked for every command (`--verbose`): on standard error.
    pub fn detail(&self, message: &str) {
        if self.verbosity != Verbosity::Verbose {
            return;
        }
        match &self.bar {
            Some(bar) => bar.println(message),
            None => {
                let _ = writeln!(io::stderr(), "{message}");
            }
        }
    }

    /// Removes the bar.
    pub fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn line(&self, text: &str) {
        // A closed pipe must not fail the build.
        if self.to_stderr {
            let _ = writeln!(io::stderr(), "{text}");
        } else {
            let _ = writeln!(io::stdout(), "{text}");
        }
    }
}

/// A command as a shell would read it back.
pub fn command_line(argv: &[OsString]) -> String {
    argv.iter()
        .map(|arg| {
            let text = arg.to_string_lossy();
            if !text.is_empty()
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%{}".contains(c))
            {
                text.into_owned()
            } else {
                format!("'{}'", text.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
