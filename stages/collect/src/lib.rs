//! kslink's collect stage: the symbols of a linked ELF file as a [`SymbolSet`], exactly as the
//! kernel's build lists them in System.map.
//!
//! Upstream Linux 6.12 makes System.map, and the input of `scripts/kallsyms`, with
//! `nm -n vmlinux | sed -f scripts/mksysmap`; 7.3 with its own `sed` script, 6.1 with a
//! shell script that filters `nm -n` with `grep -v`. This crate does the same without
//! either tool, and its output is byte-identical to theirs (GNU nm of binutils 2.40, the
//! version's mksysmap):
//!
//! 1. [`read_linked`] reads `.symtab` and keeps what `nm` lists, each symbol with the type
//!    letter `nm` prints ([`letter`] holds binutils' rules);
//! 2. [`LinkedSymbols::retain_mksysmap_of`] applies a version's mksysmap rules
//!    ([`mksysmap`], one table of rules per version, selected by the `kslink-table`
//!    profile: [`Mksysmap::of_profile`]);
//! 3. [`LinkedSymbols::sort_nm_numeric`] puts them in `nm -n` order ([`nm_numeric_cmp`]);
//! 4. [`LinkedSymbols::to_symbol_set`] makes the artifact, [`LinkedSymbols::write_nm`] the
//!    text.
//!
//! [`collect_linked`] does all of it for a file. The file is memory-mapped, not read, and
//! the names are borrowed from the map until the artifact is made.
//!
//! Known differences from the real tools are listed in [`letter`] (targets whose BFD
//! backend quirks are not modelled) and [`mksysmap`] (names with newlines, non-ASCII
//! `[[:alnum:]]`).
//!
//! Before the link, [`predict()`] predicts the same set from the link's inputs and linker
//! script (see [`mod@predict`]), and [`compare`] measures how good a prediction was.

#![deny(missing_docs)]

pub mod archive;
pub mod assign;
pub mod compare;
pub mod flavour;
pub mod inputs;
pub mod layout;
pub mod letter;
mod linked;
pub mod linker;
pub mod mksysmap;
pub mod predict;
pub mod relocatable;
pub mod resolve;
pub mod script;
pub mod text_ranges;

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use kslink_schema::{write_nm_lines, Symbol, SymbolOrigin, SymbolSet};
use kslink_table::Profile;

pub use flavour::LinkerFlavour;
pub use linked::{nm_numeric_cmp, read_linked, sort_nm_numeric, ElfError, LinkedSymbols, NmSymbol};
pub use linker::LinkKind;
pub use mksysmap::{Mksysmap, MKSYSMAP_6_1, MKSYSMAP_6_12, MKSYSMAP_7_3};
pub use predict::{predict, TableLabels};

impl LinkedSymbols<'_> {
    /// Keeps the symbols whose `nm` line the default profile's (Linux 6.12's)
    /// `scripts/mksysmap` keeps.
    pub fn retain_mksysmap(&mut self) {
        self.retain_mksysmap_of(Mksysmap::default_profile());
    }

    /// Keeps the symbols whose `nm` line the `scripts/mksysmap` of `mksysmap`'s version
    /// keeps.
    pub fn retain_mksysmap_of(&mut self, mksysmap: &Mksysmap) {
        let rules = mksysmap.rule_set();
        self.symbols
            .retain(|symbol| rules.keeps(symbol.type_letter, symbol.name));
    }

    /// Sorts the symbols into `nm -n` order.
    pub fn sort_nm_numeric(&mut self) {
        sort_nm_numeric(&mut self.symbols);
    }

    /// Writes the symbols, in their current order, as `nm` prints them: `ADDR TYPE NAME`,
    /// the address as 8 or 16 hex digits, or as many spaces for an undefined symbol.
    pub fn write_nm<W: Write>(&self, out: W) -> io::Result<()> {
        write_nm_lines(
            self.address_bits,
            self.symbols
                .iter()
                .map(|s| (s.address, s.type_letter, s.name)),
            out,
        )
    }

    /// The symbols, in their current order, as a [`SymbolSet`] from `origin`: addresses
    /// known, the ELF section names as [`SymbolSet::sections`], no sources.
    pub fn to_symbol_set(&self, origin: SymbolOrigin) -> SymbolSet {
        SymbolSet {
            origin,
            addresses_known: true,
            address_bits: self.address_bits,
            sections: self.sections.clone(),
            sources: Vec::new(),
            symbols: self
                .symbols
                .iter()
                .map(|s| Symbol {
                    address: s.address,
                    type_letter: s.type_letter,
                    name: s.name.to_vec(),
                    section: s.section,
                    source: None,
                    text: None,
                })
                .collect(),
        }
    }
}

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
    /// An input of a link to predict cannot be read: `path` (a file, or
    /// `archive(member)`) and what is wrong.
    Input {
        /// The file, as given.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// The linker script cannot be read or followed (`file:line: what`).
    Script(script::ScriptError),
    /// The inputs cannot be linked (ld would fail too).
    Link(String),
    /// The command line does not make sense.
    Usage(String),
}

impl CollectError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<String>, source: io::Error) -> CollectError {
        CollectError::Io {
            path: path.into(),
            source,
        }
    }

    /// The process exit code for this error: 2 for a usage error, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            CollectError::Usage(_) => 2,
            _ => 1,
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
            CollectError::Script(err) => write!(f, "{err}"),
            CollectError::Link(msg) | CollectError::Usage(msg) => f.write_str(msg),
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

/// A read-only memory map of an input file.
pub struct MappedFile {
    map: memmap2::Mmap,
    shown: String,
}

impl MappedFile {
    /// Opens and maps `path`. An empty file maps to no bytes.
    pub fn open(path: &Path) -> Result<MappedFile, CollectError> {
        let shown = path.display().to_string();
        let file = File::open(path).map_err(|e| CollectError::io(&shown, e))?;
        let metadata = file.metadata().map_err(|e| CollectError::io(&shown, e))?;
        if metadata.is_dir() {
            return Err(CollectError::io(
                &shown,
                io::Error::new(io::ErrorKind::IsADirectory, "is a directory"),
            ));
        }
        // SAFETY: the map is private and read-only. A file truncated underneath would fault
        // (as it would for nm); one rewritten underneath gives wrong symbols, like any reader
        // racing a writer.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| CollectError::io(&shown, e))?;
        Ok(MappedFile { map, shown })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// The path as given, for messages.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The symbols `nm` would list, in symbol-table order ([`read_linked`]).
    pub fn symbols(&self) -> Result<LinkedSymbols<'_>, CollectError> {
        read_linked(self.bytes()).map_err(|source| CollectError::Elf {
            path: self.shown.clone(),
            source,
        })
    }
}

/// The System.map of the linked ELF file `path` as a [`SymbolSet`]: the lines of
/// `nm -n FILE | sed -f scripts/mksysmap` of the default profile (Linux 6.12), origin
/// [`SymbolOrigin::Linked`].
pub fn collect_linked(path: &Path) -> Result<SymbolSet, CollectError> {
    let file = MappedFile::open(path)?;
    let mut symbols = file.symbols()?;
    symbols.retain_mksysmap();
    symbols.sort_nm_numeric();
    Ok(symbols.to_symbol_set(SymbolOrigin::Linked {
        path: file.shown().to_owned(),
    }))
}
