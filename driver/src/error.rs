//! Why a link failed: each a single line that says what and where, and the exit status it
//! means.

use std::fmt;
use std::io;

use kslink_schema::exit;
use kslink_schema::fsio::io_reason;

use crate::interrupt::signal_name;

/// Why a link failed.
#[derive(Debug)]
pub enum LinkError {
    /// The request cannot be carried out as given.
    Usage(String),
    /// A file operation of the driver's own failed.
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: io::Error,
    },
    /// A stage or the linker failed; its own message says why.
    StepFailed {
        /// The step.
        step: &'static str,
        /// The program.
        program: String,
        /// Its exit status (`None`: killed by a signal, or it could not be started).
        status: Option<i32>,
        /// What it said on standard error (its last lines).
        message: String,
    },
    /// The final table still did not fit after the one relink.
    Misfit(String),
    /// The linked file's BTF does not fit it (the BTF step's one line): the output was not
    /// installed.
    BtfMisfit(String),
    /// A signal ended the run; the running step's process was ended with it.
    Interrupted(i32),
    /// A step's output is not the artifact the next step needs.
    BadArtifact {
        /// The step that wrote it.
        step: &'static str,
        /// What is wrong, with the file's name.
        message: String,
    },
}

impl LinkError {
    /// The process exit status for this error: [`exit::USAGE`], [`exit::MISFIT`] for a BTF
    /// that does not fit, 128 and the signal's number for an interrupted run (as a shell
    /// reports it), [`exit::FAILURE`] for everything else.
    pub fn exit_status(&self) -> u8 {
        match self {
            LinkError::Usage(_) => exit::USAGE,
            LinkError::BtfMisfit(_) => exit::MISFIT,
            LinkError::Interrupted(signal) => 128u8.saturating_add(*signal as u8),
            _ => exit::FAILURE,
        }
    }

    /// An I/O error while doing `what`.
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> LinkError {
        let what = what.into();
        move |source| LinkError::Io { what, source }
    }
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Usage(message) => write!(f, "{message}"),
            LinkError::Io { what, source } => write!(f, "{what}: {}", io_reason(source)),
            LinkError::StepFailed {
                step,
                program,
                status,
                message,
            } => {
                let how = match status {
                    Some(code) => format!("exit status {code}"),
                    None => "no exit status".to_string(),
                };
                let message = message.trim_end();
                if message.is_empty() {
                    write!(f, "step {step} failed: {program} ({how})")
                } else {
                    write!(f, "step {step} failed ({program}, {how}): {message}")
                }
            }
            LinkError::BadArtifact { step, message } => {
                write!(
                    f,
                    "step {step} made a file the next step cannot use: {message}"
                )
            }
            LinkError::Interrupted(signal) => write!(
                f,
                "interrupted by {}: the running step was ended; the next run resumes from it",
                signal_name(*signal)
            ),
            LinkError::Misfit(message) => write!(
                f,
                "the final table does not fit even after relinking with the sizes it needed: \
                 {message}"
            ),
            LinkError::BtfMisfit(message) => write!(
                f,
                "not installed, as its BTF does not fit it (make the BTF from a linked file, \
                 the kernel's own way): {message}"
            ),
        }
    }
}

impl std::error::Error for LinkError {}
