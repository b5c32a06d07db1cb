//! An input's symbol skeleton: the relocatable file GNU ld orders the global symbols of as
//! it orders the input's, for a fraction of the input's size.
//!
//! GNU ld writes the global symbols of a relocatable link in the order of its hash table,
//! which the names it is given make, in the order given: what the section headers and the
//! symbol tables say. A skeleton keeps both, and no section's contents but the symbol
//! and string tables (and section groups and extended section indices, which say which
//! section a symbol is in). Every other section keeps its header, its contents gone
//! (`SHT_NOBITS`, not to be merged or decompressed); relocation sections go (`SHT_NULL`,
//! which ld passes over), as nothing in them names a symbol the table does not. So the
//! order link reads and writes the symbols alone, not the code and relocations that a link
//! of vmlinux.o without its debug information copies.

use object::elf;
use object::read::elf::{FileHeader, SectionHeader};
use object::{Endianness, FileKind};

use crate::executable::{elf_error, file_kind, relocatable_header, Fields, ViewInput};
use crate::view::ViewError;

/// The flags a skeleton's section without contents drops: what ld would read them for.
const CONTENT_FLAGS: u64 = (elf::SHF_MERGE | elf::SHF_STRINGS | elf::SHF_COMPRESSED) as u64;

/// The symbol skeleton of `input`, a relocatable ELF file: the bytes of the file.
pub fn symbol_skeleton(input: &ViewInput<'_>) -> Result<Vec<u8>, ViewError> {
    match file_kind(input)? {
        FileKind::Elf64 => skeleton::<elf::FileHeader64<Endianness>>(input),
        _ => skeleton::<elf::FileHeader32<Endianness>>(input),
    }
}

fn skeleton<Elf: FileHeader<Endian = Endianness>>(
    input: &ViewInput<'_>,
) -> Result<Vec<u8>, ViewError> {
    let (header, endian) = relocatable_header::<Elf>(input)?;
    let fields = Fields {
        wide: header.is_class_64(),
        endian,
    };
    let section_headers = header
        .section_headers(endian, input.data)
        .map_err(|e| elf_error(input.shown, e))?;
    let header_size = std::mem::size_of::<Elf>();
    let mut out = input.data[..header_size].to_vec();
    let mut headers = Vec::with_capacity(section_headers.len());
    for (index, section) in section_headers.iter().enumerate() {
        let mut bytes = object::pod::bytes_of(section).to_vec();
        let sh_type = section.sh_type(endian);
        match sh_type {
            _ if index == 0 => {}
            elf::SHT_NULL => {}
            elf::SHT_SYMTAB | elf::SHT_STRTAB | elf::SHT_SYMTAB_SHNDX | elf::SHT_GROUP => {
                let contents = section
                    .data(endian, input.data)
                    .map_err(|e| elf_error(input.shown, e))?;
                out.resize(out.len().next_multiple_of(fields.word()), 0);
                fields.put(
                    &mut bytes,
                    fields.section_offset(),
                    fields.word(),
                    out.len() as u64,
                );
                out.extend_from_slice(contents);
            }
            elf::SHT_REL | elf::SHT_RELA | elf::SHT_RELR => {
                let name = section.sh_name(endian);
                bytes.fill(0);
                fields.put(&mut bytes, 0, 4, u64::from(name));
            }
            _ => {
                // sh_type after sh_name, then sh_flags.
                let flags: u64 = section.sh_flags(endian).into();
                fields.put(&mut bytes, 4, 4, u64::from(elf::SHT_NOBITS));
                fields.put(&mut bytes, 8, fields.word(), flags & !CONTENT_FLAGS);
                fields.put(&mut bytes, fields.section_offset(), fields.word(), 0);
            }
        }
        headers.extend_from_slice(&bytes);
    }
    out.resize(out.len().next_multiple_of(fields.word()), 0);
    let (_, phoff, shoff, phnum, _, _) = fields.header();
    let section_table = out.len() as u64;
    fields.put(&mut out, phoff, fields.word(), 0);
    fields.put(&mut out, phnum, 2, 0);
    fields.put(&mut out, shoff, fields.word(), section_table);
    out.extend_from_slice(&headers);
    Ok(out)
}
