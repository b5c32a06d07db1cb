//! Why a prediction failed: each a single line that names the file.

use std::fmt;
use std::io;

use kslink_linker_script::ScriptError;

/// Why [`crate::predict()`] could not predict a link.
#[derive(Debug)]
pub enum PredictError {
    /// A file could not be opened, mapped or read.
    Io {
        /// The file, as given.
        path: String,
        /// The operating system's error.
        source: io::Error,
    },
    /// An input of the link cannot be read: `path` (a file, or `archive(member)`) and what
    /// is wrong.
    Input {
        /// The file, as given.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// The linker script cannot be read or followed (`file:line: what`).
    Script(ScriptError),
    /// The inputs cannot be linked (ld would fail too).
    Link(String),
    /// The link's command line (its inputs and switches) does not make sense.
    Usage(String),
}

impl PredictError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<String>, source: io::Error) -> PredictError {
        PredictError::Io {
            path: path.into(),
            source,
        }
    }
}

impl fmt::Display for PredictError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PredictError::Io { path, source } => {
                write!(f, "{path}: {}", kslink_schema::fsio::io_reason(source))
            }
            PredictError::Input { path, message } => write!(f, "{path}: {message}"),
            PredictError::Script(err) => write!(f, "{err}"),
            PredictError::Link(msg) | PredictError::Usage(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for PredictError {}
