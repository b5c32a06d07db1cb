//! Errors of the table stage, each a single line that says what failed and where.

use std::fmt;

use kslink_schema::fsio::io_reason;
use kslink_schema::{exit, ArtifactError};

use crate::frame::{write_misfits, Misfit};

/// Why a table could not be built or written.
#[derive(Debug)]
pub enum TableError {
    /// A file could not be read or written.
    Io {
        /// The file.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A line of a text map is malformed.
    Map {
        /// `FILE:LINE`.
        at: String,
        /// What is wrong with it.
        what: String,
    },
    /// The input is a file of another kind (a linked ELF file), named by what it is.
    WrongInput {
        /// The file.
        path: String,
        /// What it is, and what to do with it.
        what: String,
    },
    /// An artifact input could not be read.
    Artifact {
        /// The file.
        path: String,
        /// Why.
        source: ArtifactError,
    },
    /// A symbol's address cannot be stored in the table's relative encoding (upstream's
    /// "out of range in relative mode").
    OutOfRange {
        /// The input the symbol came from.
        source: String,
        /// `absolute` or `relative`.
        class: &'static str,
        /// The symbol.
        name: String,
        /// Its address.
        addr: u64,
        /// The relative base.
        relative_base: u64,
    },
    /// A symbol is too far from `_text` for a place-relative `kallsyms_offsets` entry (7.x
    /// with `--pc-relative`; upstream's "relative symbol value out of range").
    PlaceRelativeOutOfRange {
        /// The input the symbol came from.
        source: String,
        /// The symbol.
        name: String,
        /// Its address.
        addr: u64,
        /// The address of `_text` (0 if the input has none).
        text_address: u64,
    },
    /// The profile's generator refuses a table without symbols.
    NoSymbols {
        /// The input.
        source: String,
        /// The profile.
        profile: &'static str,
    },
    /// The frame given with `--frame` does not suit this table (another profile, layout or
    /// set of arrays) or is not a consistent frame.
    Frame {
        /// The frame's file.
        path: String,
        /// What is wrong.
        what: String,
    },
    /// The table is larger than its frame in some arrays.
    Misfit {
        /// The input the table was built from.
        source: String,
        /// The arrays that do not fit, in table order.
        misfits: Vec<Misfit>,
    },
    /// The options do not make sense together.
    Usage(String),
}

impl TableError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<String>, source: std::io::Error) -> TableError {
        TableError::Io {
            path: path.into(),
            source,
        }
    }

    /// The process exit code for this error: [`exit::USAGE`] for a usage error,
    /// [`exit::MISFIT`] for a table that does not fit its frame, [`exit::FAILURE`]
    /// otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            TableError::Usage(_) => exit::USAGE,
            TableError::Misfit { .. } => exit::MISFIT,
            _ => exit::FAILURE,
        }
    }
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableError::Io { path, source } => write!(f, "{path}: {}", io_reason(source)),
            TableError::Map { at, what } => write!(f, "{at}: malformed map line: {what}"),
            // An I/O error of an artifact names its file already.
            TableError::Artifact {
                source: source @ ArtifactError::Io { .. },
                ..
            } => write!(f, "{source}"),
            TableError::WrongInput { path, what } => write!(f, "{path}: {what}"),
            TableError::Artifact { path, source } => write!(f, "{path}: {source}"),
            TableError::OutOfRange {
                source,
                class,
                name,
                addr,
                relative_base,
            } => write!(
                f,
                "{source}: {class} symbol {name} value {addr:#x} out of range in relative \
                 mode (relative base {relative_base:#x})"
            ),
            TableError::PlaceRelativeOutOfRange {
                source,
                name,
                addr,
                text_address,
            } => write!(
                f,
                "{source}: relative symbol {name} value {addr:#x} out of range: more than 2 GiB \
                 from _text ({text_address:#x}), which --pc-relative entries cannot reach"
            ),
            TableError::NoSymbols { source, profile } => write!(
                f,
                "{source}: no valid symbol: the {profile} generator refuses an empty table"
            ),
            TableError::Frame { path, what } => write!(f, "{path}: {what}"),
            TableError::Misfit { source, misfits } => {
                write!(f, "{source}: ")?;
                write_misfits(misfits, f)?;
                f.write_str(
                    "; relink with a frame sized from this table (build it without --frame \
                     and give it to kslink-pad --at-least)",
                )
            }
            TableError::Usage(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for TableError {}
