//! kslink's collect stage: the symbols of a linked ELF file as a [`SymbolSet`], exactly as
//! the kernel's build lists them in System.map (`kslink-system-map` does the work), or
//! predicted from the link's inputs and linker script before the link
//! (`kslink-linker-model`), and [`compare`], which measures how good a prediction was by
//! the tables made from it.
//!
//! This crate joins them to `kslink-table`'s profiles: a profile names the kernel version,
//! which selects the System.map rules ([`mksysmap_of`]) and the table's labels that the
//! prediction adds ([`table_labels`]).

#![deny(missing_docs)]

pub mod compare;

use std::fmt;
use std::io;
use std::path::Path;

use kslink_linker_model::{PredictError, TableLabels};
use kslink_schema::fsio::MappedFile;
use kslink_schema::{exit, ArrayKind, SymbolOrigin, SymbolSet, TableOptions};
use kslink_system_map::{read_linked, ElfError, LinkedSymbols, Mksysmap};
use kslink_table::Profile;

/// Why the collect stage failed; each a single line that names the file.
#[derive(Debug)]
pub enum CollectError {
    /// A file could not be opened, mapped, read or written.
    Io {
        /// The file, as given.
        path: String,
        /// The operating system's error.
        source: io::Error,
    },
    /// The input is not a readable ELF file with symbols.
    Elf {
        /// The file, as given.
        path: String,
        /// What is wrong with it.
        source: ElfError,
    },
    /// A prediction to compare is not a `SymbolSet` artifact: `path` and what is wrong.
    Input {
        /// The file, as given.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// The link could not be predicted (the linker model's own words).
    Predict(PredictError),
    /// `--compare` could not build a table from a symbol set.
    Table(String),
    /// The command line does not make sense.
    Usage(String),
}

impl From<PredictError> for CollectError {
    fn from(err: PredictError) -> CollectError {
        CollectError::Predict(err)
    }
}

impl CollectError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<String>, source: io::Error) -> CollectError {
        CollectError::Io {
            path: path.into(),
            source,
        }
    }

    /// The process exit code for this error: [`exit::USAGE`] for a usage error (the link's
    /// inputs and switches included), [`exit::FAILURE`] otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            CollectError::Usage(_) | CollectError::Predict(PredictError::Usage(_)) => exit::USAGE,
            _ => exit::FAILURE,
        }
    }
}

impl fmt::Display for CollectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CollectError::Io { path, source } => {
                write!(f, "{path}: {}", kslink_schema::fsio::io_reason(source))
            }
            CollectError::Elf { path, source } => write!(f, "{path}: {source}"),
            CollectError::Input { path, message } => write!(f, "{path}: {message}"),
            CollectError::Predict(err) => write!(f, "{err}"),
            CollectError::Table(msg) | CollectError::Usage(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for CollectError {}

/// The `kslink-table` profile named `name`; a usage error listing the known profiles (in
/// `kslink-table`'s words) if there is none.
pub fn profile_named(name: &str) -> Result<&'static Profile, CollectError> {
    Profile::by_name(name).ok_or_else(|| {
        CollectError::Usage(format!(
            "unknown profile {name:?}{}; known profiles: {}",
            kslink_schema::names::did_you_mean(name, Profile::names()),
            Profile::names().join(", ")
        ))
    })
}

/// The System.map filter of `profile`'s kernel version. Every profile of `kslink-table` has
/// one (a test checks); a profile this build of the collect stage lacks rules for is a usage
/// error.
pub fn mksysmap_of(profile: &Profile) -> Result<&'static Mksysmap, CollectError> {
    Mksysmap::of_profile(profile.name).ok_or_else(|| {
        CollectError::Usage(format!(
            "profile {} has no System.map rules in kslink-collect: use a kslink-collect built \
             with kslink-table's profiles",
            profile.name
        ))
    })
}

/// The labels the table of `profile` (with 6.1's `--base-relative` if `base_relative`) adds
/// to a link, in layout order, and whether it points at `_text` absolutely.
pub fn table_labels(profile: &Profile, base_relative: bool) -> TableLabels {
    let kinds = profile.array_kinds(TableOptions {
        base_relative,
        ..TableOptions::default()
    });
    TableLabels {
        labels: kinds.iter().map(|kind| kind.label()).collect(),
        text_pointer: kinds
            .iter()
            .any(|kind| matches!(kind, ArrayKind::RelativeBase | ArrayKind::Addresses)),
    }
}

/// Opens and maps the input `path`.
pub fn open_input(path: &Path) -> Result<MappedFile, CollectError> {
    MappedFile::open(path).map_err(|e| CollectError::io(path.display().to_string(), e))
}

/// The symbols `nm` would list of the mapped ELF file `file`, in symbol-table order
/// ([`read_linked`]).
pub fn linked_symbols(file: &MappedFile) -> Result<LinkedSymbols<'_>, CollectError> {
    read_linked(file.bytes()).map_err(|source| CollectError::Elf {
        path: file.shown().to_owned(),
        source,
    })
}

/// The System.map of the linked ELF file `path` as a [`SymbolSet`]: the lines of
/// `nm -n FILE | sed -f scripts/mksysmap` of the default profile (Linux 6.12), origin
/// [`SymbolOrigin::Linked`].
pub fn collect_linked(path: &Path) -> Result<SymbolSet, CollectError> {
    let file = open_input(path)?;
    let mut symbols = linked_symbols(&file)?;
    symbols.retain_mksysmap();
    symbols.sort_nm_numeric();
    Ok(symbols.to_symbol_set(SymbolOrigin::Linked {
        path: file.shown().to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_labels_follow_the_profile() {
        let labels = |profile, base_relative| table_labels(profile, base_relative).labels;
        let with_offsets = [
            "kallsyms_num_syms",
            "kallsyms_names",
            "kallsyms_markers",
            "kallsyms_token_table",
            "kallsyms_token_index",
            "kallsyms_offsets",
            "kallsyms_relative_base",
            "kallsyms_seqs_of_names",
        ];
        let sorted = |mut v: Vec<&'static str>| {
            v.sort_unstable();
            v
        };
        assert_eq!(
            sorted(labels(&kslink_table::LINUX_6_12, false)),
            sorted(with_offsets.to_vec())
        );
        assert_eq!(
            sorted(labels(&kslink_table::LINUX_6_1, true)),
            sorted(with_offsets.to_vec())
        );
        // 6.1 without --base-relative: a pointer per symbol instead.
        assert_eq!(
            labels(&kslink_table::LINUX_6_1, false),
            [
                "kallsyms_addresses",
                "kallsyms_num_syms",
                "kallsyms_names",
                "kallsyms_markers",
                "kallsyms_seqs_of_names",
                "kallsyms_token_table",
                "kallsyms_token_index",
            ]
        );
        // 7.3: offsets without a relative base, in 6.12's order.
        assert_eq!(
            labels(&kslink_table::LINUX_7_3, false),
            [
                "kallsyms_num_syms",
                "kallsyms_names",
                "kallsyms_markers",
                "kallsyms_token_table",
                "kallsyms_token_index",
                "kallsyms_offsets",
                "kallsyms_seqs_of_names",
            ]
        );
    }

    #[test]
    fn only_a_relative_base_or_addresses_point_at_text() {
        let points = |profile, base_relative| table_labels(profile, base_relative).text_pointer;
        assert!(points(&kslink_table::LINUX_6_12, false));
        assert!(points(&kslink_table::LINUX_6_1, false));
        assert!(points(&kslink_table::LINUX_6_1, true));
        assert!(!points(&kslink_table::LINUX_7_3, false));
    }

    #[test]
    fn every_table_profile_has_its_filter() {
        for name in Profile::names() {
            let mksysmap = Mksysmap::of_profile(name)
                .unwrap_or_else(|| panic!("no mksysmap rules for {name}"));
            assert_eq!(mksysmap.profile, name);
        }
        assert_eq!(
            Mksysmap::default_profile().profile,
            kslink_table::DEFAULT_PROFILE
        );
        assert!(Mksysmap::of_profile("linux-5.4").is_none());
    }
}
