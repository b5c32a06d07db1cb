//! kslink's patch stage: writes the final kallsyms table over the first one in a linked ELF
//! file, at the places `kslink-locate` found, and checks the result before declaring
//! success.
//!
//! The steps, in order (nothing is written unless the first two pass):
//!
//! 1. the file must be the one the [`TableLocation`] was taken from: same length, byte order
//!    and word size, same containing section header, relocation records where they were;
//! 2. [`Patch::plan`]: the final [`KallsymsTable`] must match the location (layout, `_text`,
//!    arrays) and fit: every array no larger than its room. The plan is every array's bytes
//!    zero-filled to its room, and the addend of every RELA record kept for a pointer field
//!    (`kallsyms_relative_base`, 6.1's `kallsyms_addresses`) so that record and field agree;
//! 3. [`Patch::apply`]: the bytes are written with positioned writes, only where they
//!    differ from what the file holds;
//! 4. the file is read back and verified (see [`patch`]); a failure is an error.
//!
//! Where: [`Output::Copy`] patches a copy made beside the output and renames it into place
//! only after it verified, so the output is the old file or the complete new one, never a
//! half-patched one. [`Output::InPlace`] patches the file itself; it is idempotent (a
//! repeated run writes nothing and gives the same bytes), so a driver that records the step
//! completes an interrupted patch by running it again.

#![deny(missing_docs)]

mod check;
mod plan;
mod readback;

use std::fmt;
use std::fs::File;
use std::io;
use std::path::Path;

use kslink_schema::fsio::io_reason;
use kslink_schema::fsio::AtomicFile;
use kslink_schema::{exit, ArtifactError, KallsymsTable, PatchReport, TableLocation};

pub use plan::Patch;

/// Why a patch failed; each a single line that names the file.
#[derive(Debug)]
pub enum PatchError {
    /// A file could not be opened, mapped, copied, written or renamed.
    Io {
        /// The file, as given.
        path: String,
        /// The operating system's error.
        source: io::Error,
    },
    /// An artifact (location, table) could not be read.
    Artifact {
        /// The file, as given.
        path: String,
        /// Why.
        source: ArtifactError,
    },
    /// The location, the table and the file do not belong together.
    Mismatch {
        /// The ELF file, as given.
        path: String,
        /// What differs.
        message: String,
    },
    /// The final table does not fit the frame the file was linked in: the message names
    /// every array that does not, and by how many bytes.
    DoesNotFit(String),
    /// The patched file, read back, does not hold the final table or does not agree with its
    /// own symbols.
    Verify {
        /// The patched file (for a copy, the output it was to become).
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl PatchError {
    /// The process exit code for this error: [`exit::MISFIT`] when the table does not fit
    /// its frame (the driver then links again in a larger frame), [`exit::FAILURE`]
    /// otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            PatchError::DoesNotFit(_) => exit::MISFIT,
            _ => exit::FAILURE,
        }
    }

    fn io(path: &Path, source: io::Error) -> PatchError {
        PatchError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatchError::Io { path, source } => write!(f, "{path}: {}", io_reason(source)),
            // An I/O error of an artifact names its file already.
            PatchError::Artifact {
                source: source @ ArtifactError::Io { .. },
                ..
            } => write!(f, "{source}"),
            PatchError::Artifact { path, source } => write!(f, "{path}: {source}"),
            PatchError::Mismatch { path, message } => write!(f, "{path}: {message}"),
            PatchError::DoesNotFit(message) => f.write_str(message),
            PatchError::Verify { path, message } => {
                write!(f, "{path}: the patched file fails its check: {message}")
            }
        }
    }
}

impl std::error::Error for PatchError {}

/// Reads an artifact of type `A` from `path`.
pub fn read_artifact<A: kslink_schema::Artifact>(path: &Path) -> Result<A, PatchError> {
    kslink_schema::artifact::read(path).map_err(|source| PatchError::Artifact {
        path: path.display().to_string(),
        source,
    })
}

/// Where the patched file goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output<'a> {
    /// Patch a copy made beside this path, rename it there once it verified.
    Copy(&'a Path),
    /// Patch the input file itself.
    InPlace,
}

/// A patched and verified file: for [`Output::Copy`] still under its temporary name until
/// [`Patched::commit`].
pub struct Patched {
    report: PatchReport,
    written: Written,
}

/// The file a patch writes.
enum Written {
    /// The input itself.
    InPlace(File),
    /// A copy under a temporary name beside the output.
    Copy(AtomicFile),
}

impl Patched {
    /// What was written and checked.
    pub fn report(&self) -> &PatchReport {
        &self.report
    }

    /// Renames a patched copy into place (nothing to do for a file patched in place).
    pub fn commit(self) -> Result<PatchReport, PatchError> {
        if let Written::Copy(copy) = self.written {
            copy.commit().map_err(|source| PatchError::Io {
                path: self.report.output.clone(),
                source,
            })?;
        }
        Ok(self.report)
    }
}

/// Maps `file` read-only.
fn map(file: &File, path: &Path) -> Result<memmap2::Mmap, PatchError> {
    // SAFETY: read-only map of a file this stage owns for the duration of the patch; a
    // concurrent writer could at worst make the checks fail.
    unsafe { memmap2::Mmap::map(file) }.map_err(|e| PatchError::io(path, e))
}

/// Patches the linked file `elf` with the final `table` at `location`, writing to `output`,
/// and verifies the result by reading it back: every array decoded from its room in the
/// file gives exactly the final table's symbols, each of which agrees with the file's own
/// symbol table (name, address, type letter), labels sit where the arrays were written,
/// and relocation records agree with their fields. Only the file's headers, symbol table,
/// the rooms and the records are read back.
///
/// With [`Output::Copy`] the copy is made by the kernel (`copy_file_range`, a reflink where
/// the file system can) and nothing is renamed until [`Patched::commit`]; on any error the
/// copy is removed and the output left as it was.
pub fn patch(
    elf: &Path,
    output: Output,
    location: &TableLocation,
    table: &KallsymsTable,
) -> Result<Patched, PatchError> {
    let shown = elf.display().to_string();
    let input = File::open(elf).map_err(|e| PatchError::io(elf, e))?;
    let before = map(&input, elf)?;
    check::location_matches(&before, location).map_err(|message| PatchError::Mismatch {
        path: shown.clone(),
        message,
    })?;
    let plan = Patch::plan(location, table)?;

    let (output_path, mut written) = match output {
        Output::Copy(path) => (
            path,
            Written::Copy(AtomicFile::copy_of(elf, path).map_err(|e| PatchError::io(path, e))?),
        ),
        Output::InPlace => (
            elf,
            Written::InPlace(
                File::options()
                    .read(true)
                    .write(true)
                    .open(elf)
                    .map_err(|e| PatchError::io(elf, e))?,
            ),
        ),
    };
    let output_shown = output_path.display().to_string();
    let file = match &mut written {
        Written::InPlace(file) => &*file,
        Written::Copy(copy) => copy.file().map_err(|e| PatchError::io(output_path, e))?,
    };
    let changed_bytes = plan
        .apply(file, &before)
        .map_err(|e| PatchError::io(output_path, e))?;
    drop(before);
    let after = map(file, output_path)?;
    let verified_symbols = readback::verify(&after, location, plan.table_as_written(table))
        .map_err(|message| PatchError::Verify {
            path: output_shown.clone(),
            message,
        })?;
    let report = PatchReport {
        output: output_shown,
        num_syms: plan.num_syms(),
        arrays: plan.arrays().to_vec(),
        relocations_updated: plan.relocations(),
        pad_waste: plan.pad_waste(),
        verified_symbols,
        changed_bytes,
    };
    Ok(Patched { report, written })
}
