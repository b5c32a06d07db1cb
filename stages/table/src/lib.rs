//! kslink's table stage: builds the kernel's kallsyms table from a symbol list, exactly as
//! the kernel's own `scripts/kallsyms` of a given version would, and renders it as upstream's
//! assembly, as an ELF object, or as a [`KallsymsTable`] artifact for the later stages.
//!
//! The steps follow upstream's `main`: [`read_input`] (upstream's `read_map`), then
//! [`build`] (`shrink_table`, `make_percpus_absolute`, `sort_symbols`,
//! `record_relative_base`, `optimize_token_table`), then one of the renderers
//! ([`BuiltTable::write_asm`], [`BuiltTable::to_artifact`], [`write_object`]).
//! What differs between kernel versions is data: a [`Profile`].
//!
//! For a single link, a table is laid out in a frame ([`PadSpec`], from `kslink-pad`):
//! [`fit_in_frame`] puts each array of the artifact at its reserved offset, and
//! [`BuiltTable::write_asm_padded`] writes the `.S` that assembles to the same bytes. A table
//! larger than its frame is a [`FrameError::Misfit`], which the command line reports with
//! exit status `kslink_schema::exit::MISFIT`.
//!
//! The input may be a prediction made before the link ([`SymbolSet::addresses_known`]
//! false, every address 0): the table then has the sizes the final table will have if the
//! prediction holds, though not its content. What the generator decides by address is
//! decided without one: [`build`] keeps every symbol where upstream keeps only those in the
//! text ranges (without `--all-symbols`), and `--absolute-percpu` takes the per-cpu symbols
//! from their section (see [`symbols_from_set`]).

#![deny(missing_docs)]

mod arch;
mod asm;
mod build;
mod compress;
mod error;
mod frame;
mod image;
mod input;
mod object;
mod profile;

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use kslink_schema::{artifact, ArtifactKind, SymbolSet};
#[cfg(doc)]
use kslink_schema::{KallsymsTable, PadSpec};

pub use arch::{Arch, PlaceRelativeReloc, ARCHES};
pub use build::{build, build_reusing, BuiltTable, TableSink};
pub use error::TableError;
pub use frame::{fit_in_frame, frame_padding, FrameError, Misfit};
pub use input::{read_map, AddressRange, Entry, SymbolList, KSYM_NAME_LEN};
pub use object::write_object;
pub use profile::{
    ArrayAlignment, IgnoredNames, MapSyntax, OffsetsEncoding, Profile, DEFAULT_PROFILE, LINUX_6_1,
    LINUX_6_12, LINUX_7_3, PROFILES,
};

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
    if head[..head_len].starts_with(b"\x7fELF") {
        return Err(TableError::WrongInput {
            what: format!(
                "an ELF file, not a symbol list: make its map first \
                 (`kslink-collect --linked {shown} --emit-map System.map`, or `-o SYMBOLS`)"
            ),
            path: shown,
        });
    }
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

/// The name prefix of the sections whose symbols lie in the per-cpu range
/// (`__per_cpu_start`..`__per_cpu_end`) of a linked kernel: the linker scripts' `PERCPU_INPUT`
/// gathers the input sections `.data..percpu*` into an output section `.data..percpu`.
pub const PERCPU_SECTION: &str = ".data..percpu";

/// The symbols of a [`SymbolSet`], taken in its order as if they were map lines.
///
/// A prediction ([`SymbolSet::addresses_known`] false) has no addresses to decide by: the
/// list says so, for [`build`], and marks the symbols that `--absolute-percpu` would find
/// in the per-cpu range after the link ([`Entry::predicted_percpu`]): those defined in a
/// [`PERCPU_SECTION`] section, input or output, and the bounds `__per_cpu_start` and
/// `__per_cpu_end` themselves (the range includes both ends). A name that the linker script
/// assigns outside the per-cpu output section is in no section of a prediction, though a
/// linked file may list it in that section: x86's `__per_cpu_load` and `__init_begin` lie at
/// its load address, outside the range.
pub fn symbols_from_set(set: &SymbolSet, profile: &Profile, source: &str) -> SymbolList {
    let mut list = SymbolList::new(source);
    list.addresses_known = set.addresses_known;
    let percpu_sections: Vec<bool> = if set.addresses_known {
        Vec::new()
    } else {
        set.sections
            .iter()
            .map(|name| name.starts_with(PERCPU_SECTION))
            .collect()
    };
    for (i, symbol) in set.symbols.iter().enumerate() {
        let at = || format!("{source}: symbol {}", i + 1);
        let kept = list.entries.len();
        list.push(
            profile,
            symbol.address,
            symbol.type_letter,
            &symbol.name,
            at,
        );
        if list.entries.len() > kept {
            list.entries[kept].text = symbol.text;
        }
        if !set.addresses_known && list.entries.len() > kept {
            let bounds = list.percpu_range;
            list.entries[kept].predicted_percpu = symbol
                .section
                .and_then(|section| percpu_sections.get(section as usize).copied())
                .unwrap_or(false)
                || symbol.name == bounds.start_name.as_bytes()
                || symbol.name == bounds.end_name.as_bytes();
        }
    }
    list
}
