//! kslink's table stage: builds the kernel's kallsyms table from a symbol list, exactly as
//! the kernel's own `scripts/kallsyms` of a given version would, and renders it as upstream's
//! assembly, as an ELF object, or as a [`KallsymsTable`] artifact for the later stages.
//!
//! The steps follow upstream's `main`: [`read_input`] (upstream's `read_map`), then
//! [`build`] (`shrink_table`, `make_percpus_absolute`, `sort_symbols`,
//! `record_relative_base`, `optimize_token_table`), then one of the renderers
//! ([`BuiltTable::write_asm`], [`BuiltTable::to_artifact`], [`write_object`]).
//! What differs between kernel versions is data: a [`Profile`].

#![deny(missing_docs)]

mod arch;
mod asm;
mod build;
mod compress;
mod error;
mod image;
mod input;
mod object;
mod profile;

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use kslink_schema::{artifact, ArtifactKind, SymbolSet};

pub use arch::{Arch, ARCHES};
pub use build::{build, BuiltTable, TableSink};
pub use error::TableError;
pub use input::{read_map, AddressRange, Entry, SymbolList, KSYM_NAME_LEN};
pub use object::write_object;
pub use profile::{IgnoredNames, MapSyntax, Profile, DEFAULT_PROFILE, LINUX_6_1, LINUX_6_12};

/// Reads the symbols of `path`: a [`SymbolSet`] artifact or an `nm`-style text map, told
/// apart by content.
pub fn read_input(path: &Path, profile: &Profile) -> Result<SymbolList, TableError> {
    let shown = path.display().to_string();
    let file = File::open(path).map_err(|source| TableError::io(&shown, source))?;
    let mut reader = BufReader::with_capacity(1 << 18, file);
    let mut head = [0u8; 10];
    let head_len = read_up_to(&mut reader, &mut head).map_err(|e| TableError::io(&shown, e))?;
    let artifact_error = |source| TableError::Artifact {
        path: shown.clone(),
        source,
    };
    match artifact::sniff(&head[..head_len]) {
        None => read_map(head[..head_len].chain(reader), &shown, profile),
        Some(kind) => {
            let kind = kind.map_err(artifact_error)?;
            if kind != ArtifactKind::SymbolSet {
                return Err(artifact_error(kslink_schema::ArtifactError::WrongKind {
                    expected: ArtifactKind::SymbolSet,
                    found: kind,
                }));
            }
            let set: SymbolSet = artifact::read(path).map_err(artifact_error)?;
            Ok(symbols_from_set(&set, profile, &shown))
        }
    }
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// The symbols of a [`SymbolSet`], taken in its order as if they were map lines.
pub fn symbols_from_set(set: &SymbolSet, profile: &Profile, source: &str) -> SymbolList {
    let mut list = SymbolList::new(source);
    for (i, symbol) in set.symbols.iter().enumerate() {
        let at = || format!("{source}: symbol {}", i + 1);
        list.push(
            profile,
            symbol.address,
            symbol.type_letter,
            &symbol.name,
            at,
        );
    }
    list
}
