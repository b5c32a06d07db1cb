//! kslink's locate stage: where the linked file holds the arrays of its kallsyms table.
//!
//! The single link puts a first table, laid out in a frame (a [`PadSpec`]: every array at a
//! reserved offset, with reserved room), into the linked file. The patch stage later writes
//! the final table over it, byte for byte at the same places. This crate finds those places
//! and checks that the file really holds the frame there:
//!
//! - each array is found by its label symbol (`kallsyms_names`, …) — or, for a table placed in
//!   a section of its own, at the frame's offset from that section's start
//!   ([`Placement`]);
//! - every label lies in one section with file contents (a `NOBITS` section, an absolute
//!   symbol or a missing one is an error), at the frame's offset from the first array, and
//!   every array's room lies inside that section's file contents;
//! - addresses are mapped to file offsets through that section;
//! - `_text`, which the table's pointers are relative to, is found;
//! - relocation records kept for the table's `_text`-relative fields (`kallsyms_relative_base`,
//!   6.1's `kallsyms_addresses`, 7.x's place-relative `kallsyms_offsets`) are found, so that the patch can keep them consistent: those
//!   `ld --emit-relocs` keeps (relocation sections whose `sh_info` is the table's section),
//!   and the dynamic ones of a position-independent file (allocated relocation sections for
//!   all sections, `sh_info` 0), which the loader would otherwise apply with the first
//!   table's values.
//!
//! The result is a [`TableLocation`]. The file is memory-mapped: only its headers, symbol
//! table and relocation sections are read.

#![deny(missing_docs)]

use std::fmt;
use std::io;
use std::path::Path;

use kslink_schema::fsio::{io_reason, MappedFile};
use kslink_schema::{
    ArrayKind, ArtifactError, DataLayout, LocatedArray, LocatedRelocation, LocatedSection, PadSpec,
    TableLocation, TextReference,
};
use kslink_table_labels::{relocation_records, Defined, Place, RelocationRecord, TableLabels};
use object::elf;
use object::read::elf::{FileHeader, SectionHeader, SectionTable, Sym};
use object::{Endianness, SectionIndex};

/// How the table's arrays are found in the linked file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement<'a> {
    /// Each array at its label symbol; the labels must sit at the frame's offsets from the
    /// first array's label.
    Labels,
    /// The table starts at the start of the named section (a section of its own, such as
    /// `.kallsyms`), each array at its frame offset. Labels are not needed; where the file
    /// has them they must agree, since the kernel reads the arrays through them.
    Section(&'a str),
}

/// Why the table could not be located; each a single line that names the file.
#[derive(Debug)]
pub enum LocateError {
    /// A file could not be opened, mapped or written.
    Io {
        /// The file, as given.
        path: String,
        /// The operating system's error.
        source: io::Error,
    },
    /// An artifact (the PadSpec) could not be read.
    Artifact {
        /// The file, as given.
        path: String,
        /// Why.
        source: ArtifactError,
    },
    /// The ELF file does not hold a table of the frame where it should.
    Elf {
        /// The file, as given.
        path: String,
        /// What is wrong, and where.
        message: String,
    },
}

impl fmt::Display for LocateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocateError::Io { path, source } => write!(f, "{path}: {}", io_reason(source)),
            // An I/O error of an artifact names its file already.
            LocateError::Artifact {
                source: source @ ArtifactError::Io { .. },
                ..
            } => write!(f, "{source}"),
            LocateError::Artifact { path, source } => write!(f, "{path}: {source}"),
            LocateError::Elf { path, message } => write!(f, "{path}: {message}"),
        }
    }
}

impl std::error::Error for LocateError {}

/// Reads the PadSpec artifact at `path`.
pub fn read_frame(path: &Path) -> Result<PadSpec, LocateError> {
    kslink_schema::artifact::read(path).map_err(|source| LocateError::Artifact {
        path: path.display().to_string(),
        source,
    })
}

/// Locates the table of `frame` in the linked ELF file at `path` (memory-mapped).
pub fn locate_file(
    path: &Path,
    frame: &PadSpec,
    placement: Placement,
) -> Result<TableLocation, LocateError> {
    // A file rewritten underneath gives a location that the patch stage's checks reject.
    let map = MappedFile::open(path).map_err(|source| LocateError::Io {
        path: path.display().to_string(),
        source,
    })?;
    locate(map.bytes(), map.shown(), frame, placement)
}

/// Locates the table of `frame` in the linked ELF file `data`, named `elf` in the location
/// and in messages.
pub fn locate(
    data: &[u8],
    elf: &str,
    frame: &PadSpec,
    placement: Placement,
) -> Result<TableLocation, LocateError> {
    let located = match data.get(..5) {
        Some([0x7f, b'E', b'L', b'F', class]) => match *class {
            elf::ELFCLASS32 => {
                locate_in::<elf::FileHeader32<Endianness>>(data, elf, frame, placement)
            }
            elf::ELFCLASS64 => {
                locate_in::<elf::FileHeader64<Endianness>>(data, elf, frame, placement)
            }
            class => Err(format!("unknown ELF class {class}")),
        },
        _ => Err("not an ELF file".to_string()),
    };
    located.map_err(|message| LocateError::Elf {
        path: elf.to_string(),
        message,
    })
}

fn malformed(err: object::read::Error) -> String {
    format!("malformed or truncated ELF file: {err}")
}

/// "64-bit little-endian", for messages.
fn describe(layout: DataLayout) -> String {
    format!(
        "{}-bit {}-endian",
        layout.pointer_bytes as u32 * 8,
        if layout.big_endian { "big" } else { "little" }
    )
}

fn locate_in<Elf: FileHeader<Endian = Endianness>>(
    data: &[u8],
    elf: &str,
    frame: &PadSpec,
    placement: Placement,
) -> Result<TableLocation, String> {
    let header = Elf::parse(data).map_err(malformed)?;
    let endian = header.endian().map_err(malformed)?;
    let layout = DataLayout {
        pointer_bytes: if header.is_type_64() { 8 } else { 4 },
        big_endian: endian == Endianness::Big,
    };
    if layout != frame.layout {
        return Err(format!(
            "a {} file, but the frame is for {} tables: give the PadSpec made for this \
             file's target",
            describe(layout),
            describe(frame.layout)
        ));
    }
    match header.e_type(endian) {
        elf::ET_EXEC | elf::ET_DYN => {}
        elf::ET_REL => {
            return Err(
                "a relocatable object, not a linked file: locate the table in the \
                 linker's output"
                    .to_string(),
            )
        }
        other => return Err(format!("ELF file type {other} is not a linked executable")),
    }
    // A hand-made or foreign frame could put arrays out of order, which the offsets below
    // are not ready for.
    frame
        .check_layout()
        .map_err(|what| format!("the frame (PadSpec) is not one kslink-pad makes: {what}"))?;
    let Some(first) = frame.arrays.first() else {
        return Err("the frame (PadSpec) has no arrays".to_string());
    };
    let sections = header.sections(endian, data).map_err(malformed)?;
    let symbols = sections
        .symbols(endian, data, elf::SHT_SYMTAB)
        .map_err(malformed)?;
    if symbols.is_empty() {
        return Err(
            "no symbol table (.symtab): the file is stripped; the table's labels and \
             _text are needed"
                .to_string(),
        );
    }
    let named = TableLabels::read(&symbols, endian)?;

    // Labels of arrays the frame does not have mean a table of another layout, whose extra
    // array the kernel would read unpatched.
    for kind in ArrayKind::ALL {
        if frame.array(kind).is_none() && named.label(kind)?.is_some() {
            return Err(format!(
                "the file has {}, which the frame ({}) does not: the frame was made for \
                 another table layout",
                kind.label(),
                frame.profile
            ));
        }
    }

    let (section_index, start) = match placement {
        Placement::Labels => {
            let label = |kind: ArrayKind| -> Result<(Defined, usize), String> {
                let symbol = named.label(kind)?.ok_or_else(|| {
                    format!(
                        "no symbol {}: the file was not linked with a kallsyms table (for a \
                         table in a section of its own, give --section NAME)",
                        kind.label()
                    )
                })?;
                match symbol.place {
                    Place::Section(index) if index.0 != 0 => Ok((symbol, index.0)),
                    _ => Err(format!(
                        "{} is not defined in a section (an absolute symbol): its address \
                         cannot be mapped to the file",
                        kind.label()
                    )),
                }
            };
            let (first_symbol, section_index) = label(first.kind)?;
            let start = first_symbol.value.wrapping_sub(first.offset);
            for array in &frame.arrays[1..] {
                let (symbol, index) = label(array.kind)?;
                if index != section_index {
                    return Err(format!(
                        "{} is in section {}, {} in section {}: a table lies in one section",
                        array.kind.label(),
                        section_name(&sections, endian, index),
                        first.kind.label(),
                        section_name(&sections, endian, section_index),
                    ));
                }
                let found = symbol.value.wrapping_sub(first_symbol.value);
                let expected = array.offset - first.offset;
                if found != expected {
                    return Err(format!(
                        "{} is at {:#x}, {} bytes after {}; the frame puts it {expected:#x} \
                         bytes after: the file was not linked with a table of this frame",
                        array.kind.label(),
                        symbol.value,
                        signed_hex(found),
                        first.kind.label(),
                    ));
                }
            }
            (section_index, start)
        }
        Placement::Section(name) => {
            let mut matching = sections.enumerate().filter(|(_, section)| {
                sections.section_name(endian, section) == Ok(name.as_bytes())
            });
            let Some((index, section)) = matching.next() else {
                return Err(format!("no section {name}"));
            };
            if matching.next().is_some() {
                return Err(format!(
                    "more than one section is named {name}: cannot tell which holds the table"
                ));
            }
            let start: u64 = section.sh_addr(endian).into();
            for array in &frame.arrays {
                let expected = start.wrapping_add(array.offset);
                if let Some(symbol) = named.label(array.kind)? {
                    if symbol.value != expected {
                        return Err(format!(
                            "{} is at {:#x}, but the frame puts it at {expected:#x} (section \
                             {name} + {:#x}): the kernel would read it elsewhere than the \
                             table is written",
                            array.kind.label(),
                            symbol.value,
                            array.offset
                        ));
                    }
                }
            }
            (index.0, start)
        }
    };

    let section = sections
        .section(SectionIndex(section_index))
        .map_err(malformed)?;
    let name = section_name(&sections, endian, section_index);
    if section.sh_type(endian) == elf::SHT_NOBITS {
        return Err(format!(
            "the table lies in section {name}, which has no file contents (NOBITS): it must be \
             in a section with contents, such as .rodata"
        ));
    }
    let address: u64 = section.sh_addr(endian).into();
    let file_offset: u64 = section.sh_offset(endian).into();
    let size: u64 = section.sh_size(endian).into();
    if file_offset
        .checked_add(size)
        .is_none_or(|end| end > data.len() as u64)
    {
        return Err(format!(
            "section {name} ({size} bytes at file offset {file_offset:#x}) runs past the end \
             of the file ({} bytes): the file is truncated",
            data.len()
        ));
    }
    let mut arrays = Vec::with_capacity(frame.arrays.len());
    for array in &frame.arrays {
        let array_address = start.wrapping_add(array.offset);
        let within = array_address.wrapping_sub(address);
        if within > size || size - within < array.size {
            return Err(format!(
                "{}'s room ({} bytes at {array_address:#x}) is not inside section {name} \
                 ({address:#x}..{:#x})",
                array.kind.label(),
                array.size,
                address + size
            ));
        }
        arrays.push(LocatedArray {
            kind: array.kind,
            address: array_address,
            file_offset: file_offset + within,
            room: array.size,
        });
    }

    let text_address = named
        .text()?
        .ok_or(
            "no symbol _text: the table's pointers are relative to it, so the link must define it",
        )?
        .value;
    let relocations = find_relocations(
        header,
        endian,
        data,
        &sections,
        section_index,
        &arrays,
        layout,
    )?;
    Ok(TableLocation {
        elf: elf.to_string(),
        elf_len: data.len() as u64,
        layout,
        section: LocatedSection {
            name,
            index: section_index as u32,
            address,
            file_offset,
            size,
        },
        text_address,
        arrays,
        relocations,
    })
}

fn section_name<'data, Elf: FileHeader<Endian = Endianness>>(
    sections: &SectionTable<'data, Elf, &'data [u8]>,
    endian: Endianness,
    index: usize,
) -> String {
    sections
        .section(SectionIndex(index))
        .and_then(|section| sections.section_name(endian, section))
        .map_or_else(
            |_| format!("#{index}"),
            |name| String::from_utf8_lossy(name).into_owned(),
        )
}

/// A difference of addresses as signed hex, `-0x10` for one that went backwards.
fn signed_hex(difference: u64) -> String {
    let signed = difference as i64;
    if signed < 0 {
        format!("-{:#x}", signed.unsigned_abs())
    } else {
        format!("{signed:#x}")
    }
}

/// The relocation records for the table's pointer fields: those of non-allocated relocation
/// sections for the table's section (`ld --emit-relocs`) and of allocated ones for the
/// table's section or for all sections (`sh_info` 0: dynamic relocations).
///
/// A record inside an array's room that is not a pointer field (`kallsyms_relative_base`, an
/// entry of `kallsyms_addresses`) is an error: the patch would rewrite what it relocates and
/// leave it wrong. A RELA record's field must hold the record's result, or zero where the
/// link leaves it to the loader ([`LocatedRelocation::applied`]). Packed relative relocations (`SHT_RELR`) need nothing: their addend is
/// the field itself, which the patch writes.
fn find_relocations<'data, Elf: FileHeader<Endian = Endianness>>(
    header: &Elf,
    endian: Endianness,
    data: &'data [u8],
    sections: &SectionTable<'data, Elf, &'data [u8]>,
    table_section: usize,
    arrays: &[LocatedArray],
    layout: DataLayout,
) -> Result<Vec<LocatedRelocation>, String> {
    let pointer = u64::from(layout.pointer_bytes);
    let mut found = Vec::new();
    for (index, section) in sections.enumerate() {
        let sh_type = section.sh_type(endian);
        if sh_type != elf::SHT_REL && sh_type != elf::SHT_RELA {
            continue;
        }
        let target = section.sh_info(endian) as usize;
        let flags: u64 = section.sh_flags(endian).into();
        let dynamic = flags & u64::from(elf::SHF_ALLOC) != 0;
        if target != table_section && !(dynamic && target == 0) {
            continue;
        }
        let name = section_name(sections, endian, index.0);
        let rela = sh_type == elf::SHT_RELA;
        let entry_size = if rela {
            size_of::<Elf::Rela>()
        } else {
            size_of::<Elf::Rel>()
        } as u64;
        let declared: u64 = section.sh_entsize(endian).into();
        if declared != 0 && declared != entry_size {
            return Err(format!(
                "relocation section {name} has {declared}-byte entries, not {entry_size}: \
                 malformed ELF file"
            ));
        }
        let link = section.sh_link(endian) as usize;
        let symbol_values: &[Elf::Sym] = if link == 0 {
            &[]
        } else {
            sections
                .section(SectionIndex(link))
                .and_then(|symtab| symtab.data_as_array(endian, data))
                .map_err(malformed)?
        };
        let records = relocation_records(header, section, endian, data)
            .map_err(malformed)?
            .expect("a REL or RELA section");
        let section_offset: u64 = section.sh_offset(endian).into();
        for (position, record) in records.into_iter().enumerate() {
            let RelocationRecord {
                offset: field_address,
                symbol,
                addend,
            } = record;
            let Some(array) = arrays
                .iter()
                .find(|array| field_address.wrapping_sub(array.address) < array.room)
            else {
                continue;
            };
            let record_offset = section_offset + position as u64 * entry_size;
            let within = field_address - array.address;
            // Pointers: 6.1's addresses, the relative base. Place-relative 32-bit fields:
            // 7.x's offsets with --pc-relative (6.12's offsets have no records).
            let reference = match array.kind {
                ArrayKind::RelativeBase | ArrayKind::Addresses
                    if within % pointer == 0 && within + pointer <= array.room =>
                {
                    TextReference::Pointer
                }
                ArrayKind::Offsets if within % 4 == 0 && within + 4 <= array.room => {
                    TextReference::PlaceRelative
                }
                _ => {
                    return Err(format!(
                        "relocation record {position} of {name} (file offset \
                         {record_offset:#x}) relocates {}+{within:#x}, which is not a field \
                         the table relocates: patching the table would leave the record wrong",
                        array.kind.label()
                    ))
                }
            };
            let symbol_value = match symbol {
                0 => 0,
                _ => symbol_values
                    .get(symbol as usize)
                    .ok_or_else(|| {
                        format!(
                            "relocation record {position} of {name} refers to symbol \
                             {symbol}, which its symbol table does not have: malformed ELF \
                             file"
                        )
                    })?
                    .st_value(endian)
                    .into(),
            };
            // A RELA record's result is in the field too, unless the link left the field
            // zero for the loader to fill (`--no-apply-dynamic-relocs`).
            let applied = match addend {
                None => true,
                Some(addend) => {
                    let target = symbol_value.wrapping_add(addend as u64);
                    let at = usize::try_from(array.file_offset + within).unwrap_or(usize::MAX);
                    let bytes = data.get(at..).unwrap_or_default();
                    let (result, field) = match reference {
                        TextReference::Pointer => (
                            layout.truncate_pointer(target),
                            layout.decode_pointer(bytes),
                        ),
                        TextReference::PlaceRelative => (
                            target.wrapping_sub(field_address) & 0xffff_ffff,
                            layout.decode_u32(bytes).map(u64::from),
                        ),
                    };
                    let field = field.ok_or_else(|| {
                        format!("{} is cut off: malformed ELF file", array.kind.label())
                    })?;
                    if field != result && field != 0 {
                        return Err(format!(
                            "relocation record {position} of {name} (file offset \
                             {record_offset:#x}) gives {result:#x} for {}+{within:#x}, which \
                             holds {field:#x}: the file is not as the link left it",
                            array.kind.label()
                        ));
                    }
                    field == result
                }
            };
            found.push(LocatedRelocation {
                field_address,
                record_offset,
                rela,
                symbol_value,
                reference,
                applied,
            });
        }
    }
    Ok(found)
}
