//! Where an ELF file has its kallsyms table, as the locate stage (which finds the frame to
//! patch) and the verify stage (which decodes the table) both need it:
//!
//! - [`TableLabels`]: from one pass over the symbol table, the one definition of each
//!   array's label (`kallsyms_names`, …) and of `_text`, which the table's pointers are
//!   relative to. A global definition wins over local ones (a local symbol of the same name is
//!   some file's static variable); two definitions at different values are an error, since
//!   which one the kernel reads cannot be told.
//! - [`relocation_records`]: the records of a `SHT_REL` or `SHT_RELA` section, in order.

#![deny(missing_docs)]

use std::collections::HashMap;

use kslink_schema::ArrayKind;
use object::elf;
use object::read::elf::{ElfFile, FileHeader, Rel, Rela, SectionHeader, Sym, SymbolTable};
use object::{Endianness, SectionIndex, SymbolIndex};

/// Where a symbol is defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// In the section of this index.
    Section(SectionIndex),
    /// `SHN_ABS` or another reserved index: in no section.
    NoSection,
}

/// A defined symbol with one of the names looked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Defined {
    /// Its value: an address in a linked file, an offset in its section in an object.
    pub value: u64,
    /// Its section.
    pub place: Place,
    /// True unless it is `STB_LOCAL`.
    pub global: bool,
}

/// The defined symbols named like the table's labels and `_text`.
#[derive(Clone, Debug, Default)]
pub struct TableLabels {
    labels: HashMap<ArrayKind, Vec<Defined>>,
    text: Vec<Defined>,
}

impl TableLabels {
    /// The labels of an ELF file's symbol table (`.symtab`), read once.
    pub fn read<'data, Elf: FileHeader<Endian = Endianness>>(
        symbols: &SymbolTable<'data, Elf, &'data [u8]>,
        endian: Endianness,
    ) -> Result<TableLabels, String> {
        let mut named = TableLabels::default();
        for (index, symbol) in symbols.enumerate() {
            if symbol.st_shndx(endian) == elf::SHN_UNDEF {
                continue;
            }
            let name = symbols.symbol_name(endian, symbol).map_err(|_| {
                format!(
                    "malformed ELF file: symbol {}: name outside the string table",
                    index.0
                )
            })?;
            let list = if name == b"_text" {
                &mut named.text
            } else if let Some(kind) = std::str::from_utf8(name)
                .ok()
                .and_then(ArrayKind::from_label)
            {
                named.labels.entry(kind).or_default()
            } else {
                continue;
            };
            list.push(Defined {
                value: symbol.st_value(endian).into(),
                place: place_of(symbols, endian, index, symbol),
                global: symbol.st_bind() != elf::STB_LOCAL,
            });
        }
        Ok(named)
    }

    /// The labels of an ELF file parsed by `object` (none for another format).
    pub fn of_file(file: &object::File) -> Result<TableLabels, String> {
        fn of<'data, Elf: FileHeader<Endian = Endianness>>(
            file: &ElfFile<'data, Elf>,
        ) -> Result<TableLabels, String> {
            TableLabels::read(file.elf_symbol_table(), file.endian())
        }
        match file {
            object::File::Elf32(file) => of(file),
            object::File::Elf64(file) => of(file),
            _ => Ok(TableLabels::default()),
        }
    }

    /// The label of `kind`, if the file defines it.
    pub fn label(&self, kind: ArrayKind) -> Result<Option<Defined>, String> {
        pick(
            kind.label(),
            self.labels.get(&kind).map_or(&[][..], Vec::as_slice),
        )
    }

    /// `_text`, if the file defines it.
    pub fn text(&self) -> Result<Option<Defined>, String> {
        pick("_text", &self.text)
    }
}

fn place_of<'data, Elf: FileHeader<Endian = Endianness>>(
    symbols: &SymbolTable<'data, Elf, &'data [u8]>,
    endian: Endianness,
    index: SymbolIndex,
    symbol: &Elf::Sym,
) -> Place {
    match symbol.st_shndx(endian) {
        elf::SHN_XINDEX => symbols
            .shndx(endian, index)
            .map_or(Place::NoSection, |shndx| {
                Place::Section(SectionIndex(shndx as usize))
            }),
        shndx if shndx >= elf::SHN_LORESERVE => Place::NoSection,
        shndx => Place::Section(SectionIndex(shndx.into())),
    }
}

/// The one definition of `name` among `candidates`: a global one if there is one, and all of
/// them at one value.
fn pick(name: &str, candidates: &[Defined]) -> Result<Option<Defined>, String> {
    let global = candidates.iter().any(|symbol| symbol.global);
    let mut chosen = candidates
        .iter()
        .filter(|symbol| symbol.global == global)
        .copied();
    let Some(first) = chosen.next() else {
        return Ok(None);
    };
    if let Some(other) = chosen.find(|symbol| symbol.value != first.value) {
        return Err(format!(
            "{name} is defined twice, at {:#x} and at {:#x}: cannot tell which is the table's",
            first.value, other.value
        ));
    }
    Ok(Some(first))
}

/// One relocation record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelocationRecord {
    /// `r_offset`: the field's address in a linked file, its offset in the section it
    /// relocates in an object.
    pub offset: u64,
    /// The symbol's index in the section's symbol table (0: none).
    pub symbol: u32,
    /// `r_addend` of a RELA record; `None` for REL, whose addend is the field itself.
    pub addend: Option<i64>,
}

/// The records of `section`, in order, if it is a `SHT_REL` or `SHT_RELA` section.
pub fn relocation_records<Elf: FileHeader<Endian = Endianness>>(
    header: &Elf,
    section: &Elf::SectionHeader,
    endian: Endianness,
    data: &[u8],
) -> object::read::Result<Option<Vec<RelocationRecord>>> {
    if let Some((records, _)) = section.rela(endian, data)? {
        let is_mips64el = header.is_mips64el(endian);
        return Ok(Some(
            records
                .iter()
                .map(|r| RelocationRecord {
                    offset: r.r_offset(endian).into(),
                    symbol: r.r_sym(endian, is_mips64el),
                    addend: Some(r.r_addend(endian).into()),
                })
                .collect(),
        ));
    }
    Ok(section.rel(endian, data)?.map(|(records, _)| {
        records
            .iter()
            .map(|r| RelocationRecord {
                offset: r.r_offset(endian).into(),
                symbol: r.r_sym(endian),
                addend: None,
            })
            .collect()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defined(value: u64, global: bool) -> Defined {
        Defined {
            value,
            place: Place::Section(SectionIndex(1)),
            global,
        }
    }

    #[test]
    fn a_global_definition_wins_over_local_ones() {
        let chosen = pick("kallsyms_names", &[defined(8, false), defined(16, true)]);
        assert_eq!(chosen, Ok(Some(defined(16, true))));
    }

    #[test]
    fn two_definitions_at_different_values_are_an_error() {
        let err = pick("_text", &[defined(8, true), defined(16, true)]).unwrap_err();
        assert_eq!(
            err,
            "_text is defined twice, at 0x8 and at 0x10: cannot tell which is the table's"
        );
        assert_eq!(
            pick("_text", &[defined(8, false), defined(8, false)]),
            Ok(Some(defined(8, false)))
        );
    }
}
