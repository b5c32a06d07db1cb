//! The BTF input view as pahole reads a linked vmlinux: the relocatable link of vmlinux's
//! inputs (`ld -r` with the view's script, [`crate::view`]) made an executable file.
//!
//! pahole reads a relocatable file otherwise than a linked one. libdwfl lays out its
//! sections and relocates its DWARF, so no address pahole reads from it is 0, and pahole
//! takes its symbols' values as section offsets. A linked vmlinux has addresses, and pahole
//! sets address 0 apart: on x86_64 6.x, whose per-cpu section is zero-based, pahole 1.24
//! leaves out the variable at offset 0 (`fixed_percpu_data`, whose DWARF definition has no
//! name of its own) from the linked file and keeps it from a relocatable one, 28 bytes of
//! BTF that upstream's does not have. From the executable view it sees the addresses a
//! linked file has and encodes what it encodes from one.
//!
//! What [`executable_view`] changes:
//! - the per-cpu section is at the address the view's script gives it (the kernel's own
//!   constant address, or [`crate::view::PERCPU_VIEW_ADDRESS`]), read from the script and
//!   not from the relocatable link, because `ld.lld -r` leaves every section at 0; every
//!   other allocated section follows it, in the file's order, at its alignment, and never at
//!   address 0;
//! - each symbol's value is its section's address plus its offset;
//! - the relocations of every section that is not allocated (the debug information) are
//!   applied, `S + A` as the linker does, and every relocation section is left out (nothing
//!   that reads the view reads an allocated section's relocations);
//! - no section is allocated (SHF_ALLOC) and there are no program headers, so that a tool
//!   that rewrites the file (pahole's objcopy adding `.BTF`) has no segments to look for.
//!
//! A view that needs more (a relocation type that is not a plain absolute address, a
//! relocation against an undefined symbol, section groups, extended section indices) is an
//! error: the caller links the kernel's own way.

use std::io::{Read, Write};

use object::elf;
use object::read::elf::{FileHeader, Rel, Rela, SectionHeader, Sym};
use object::{Endian, Endianness, FileKind};

use crate::view::{ViewError, PERCPU_SECTION};

/// The lowest address of an allocated section other than a zero-based per-cpu one, so
/// that an address 0 in the view's DWARF means what it means in a linked kernel: nothing
/// (a reference into a discarded section).
const FIRST_ADDRESS: u64 = 0x1000;

/// Where the view's script places the per-cpu section.
#[derive(Clone, Copy, Debug)]
pub struct PercpuPlace<'s> {
    /// The address the script gives it ([`crate::view::percpu_address`]), `None` if the
    /// script has no per-cpu section.
    pub address: Option<u64>,
    /// The script, as messages name it.
    pub script: &'s str,
}

/// The executable view of `data`, the relocatable link shown as `shown` in messages, linked
/// with the script that places its per-cpu section at `percpu`: the bytes of the file to
/// write, as pieces in order.
pub fn executable_view<'d>(
    data: &'d [u8],
    shown: &str,
    percpu: PercpuPlace<'_>,
) -> Result<View<'d>, ViewError> {
    match FileKind::parse(data) {
        Ok(FileKind::Elf64) => convert::<elf::FileHeader64<Endianness>>(data, shown, percpu),
        Ok(FileKind::Elf32) => convert::<elf::FileHeader32<Endianness>>(data, shown, percpu),
        _ => Err(ViewError::new(format!(
            "{shown}: not an ELF file (the relocatable link of vmlinux's inputs)"
        ))),
    }
}

/// The view's bytes: pieces of the input and rewritten parts, written in order.
pub struct View<'d> {
    pieces: Vec<Piece<'d>>,
}

enum Piece<'d> {
    Borrowed(&'d [u8]),
    Owned(Vec<u8>),
    Padding(usize),
}

impl Piece<'_> {
    fn len(&self) -> usize {
        match self {
            Piece::Borrowed(bytes) => bytes.len(),
            Piece::Owned(bytes) => bytes.len(),
            Piece::Padding(len) => *len,
        }
    }
}

impl View<'_> {
    /// Writes the view to `out`.
    pub fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        for piece in &self.pieces {
            match piece {
                Piece::Borrowed(bytes) => out.write_all(bytes)?,
                Piece::Owned(bytes) => out.write_all(bytes)?,
                Piece::Padding(len) => {
                    std::io::copy(&mut std::io::repeat(0).take(*len as u64), out)?;
                }
            }
        }
        Ok(())
    }
}

/// Where the fields this module rewrites are in an ELF file of one class, and how they are
/// stored.
struct Fields {
    wide: bool,
    endian: Endianness,
}

impl Fields {
    fn word(&self) -> usize {
        if self.wide {
            8
        } else {
            4
        }
    }

    fn put(&self, bytes: &mut [u8], at: usize, width: usize, value: u64) {
        let field = &mut bytes[at..at + width];
        match (width, self.endian.is_big_endian()) {
            (2, false) => field.copy_from_slice(&(value as u16).to_le_bytes()),
            (2, true) => field.copy_from_slice(&(value as u16).to_be_bytes()),
            (4, false) => field.copy_from_slice(&(value as u32).to_le_bytes()),
            (4, true) => field.copy_from_slice(&(value as u32).to_be_bytes()),
            (8, false) => field.copy_from_slice(&value.to_le_bytes()),
            (8, true) => field.copy_from_slice(&value.to_be_bytes()),
            _ => unreachable!("ELF fields are 2, 4 or 8 bytes"),
        }
    }

    fn get(&self, bytes: &[u8], at: usize, width: usize) -> u64 {
        let mut word = [0; 8];
        let field = &bytes[at..at + width];
        if self.endian.is_big_endian() {
            word[8 - width..].copy_from_slice(field);
            u64::from_be_bytes(word)
        } else {
            word[..width].copy_from_slice(field);
            u64::from_le_bytes(word)
        }
    }

    /// `(e_type, e_phoff, e_shoff, e_phnum, e_shnum, e_shstrndx)` offsets in the header.
    fn header(&self) -> (usize, usize, usize, usize, usize, usize) {
        if self.wide {
            (16, 32, 40, 56, 60, 62)
        } else {
            (16, 28, 32, 44, 48, 50)
        }
    }

    /// `(sh_flags, sh_addr, sh_offset, sh_link, sh_info)` offsets in a section header.
    fn section(&self) -> (usize, usize, usize, usize, usize) {
        if self.wide {
            (8, 16, 24, 40, 44)
        } else {
            (8, 12, 16, 24, 28)
        }
    }

    /// `(st_value, st_shndx)` offsets in a symbol.
    fn symbol(&self) -> (usize, usize) {
        if self.wide {
            (8, 6)
        } else {
            (4, 14)
        }
    }
}

/// How a relocation stores its value `S + A`: its width and the values it may hold.
#[derive(Clone, Copy)]
enum Store {
    /// Nothing (`R_*_NONE`).
    Nothing,
    /// 64 bits.
    Word64,
    /// 32 bits, holding a value in `min..=max`.
    Word32 { min: i128, max: i128 },
}

/// The stores of the plain absolute relocations that compilers emit in debug information.
fn store(machine: u16, r_type: u32) -> Option<Store> {
    const UNSIGNED: Store = Store::Word32 {
        min: 0,
        max: u32::MAX as i128,
    };
    const SIGNED: Store = Store::Word32 {
        min: i32::MIN as i128,
        max: i32::MAX as i128,
    };
    const EITHER: Store = Store::Word32 {
        min: i32::MIN as i128,
        max: u32::MAX as i128,
    };
    Some(match (machine, r_type) {
        (_, 0) => Store::Nothing,
        (elf::EM_X86_64, elf::R_X86_64_64) | (elf::EM_AARCH64, elf::R_AARCH64_ABS64) => {
            Store::Word64
        }
        (elf::EM_X86_64, elf::R_X86_64_32) => UNSIGNED,
        (elf::EM_X86_64, elf::R_X86_64_32S) => SIGNED,
        (elf::EM_AARCH64, elf::R_AARCH64_ABS32) | (elf::EM_386, elf::R_386_32) => EITHER,
        _ => return None,
    })
}

/// Applies one relocation of type `r_type` at `offset` of `bytes`, against a symbol whose
/// value is `value` (`None`: undefined), with `addend` (`None`: the field holds it). False
/// for a relocation that stores nothing.
fn apply(
    fields: &Fields,
    machine: u16,
    bytes: &mut [u8],
    offset: u64,
    r_type: u32,
    value: Option<u64>,
    addend: Option<i64>,
) -> Result<bool, String> {
    let Some(store) = store(machine, r_type) else {
        return Err(format!(
            "relocation type {r_type} (machine {machine}) is not an absolute address, the only kind kslink's view applies"
        ));
    };
    let width = match store {
        Store::Nothing => return Ok(false),
        Store::Word64 => 8,
        Store::Word32 { .. } => 4,
    };
    let at = usize::try_from(offset).unwrap_or(usize::MAX);
    if at.checked_add(width).is_none_or(|end| end > bytes.len()) {
        return Err("the relocation is outside the section".to_string());
    }
    let Some(value) = value else {
        return Err(
            "the relocation's symbol is undefined (or not in the symbol table), so the view has no address for it".to_string(),
        );
    };
    let addend = match addend {
        Some(addend) => i128::from(addend),
        None => i128::from(fields.get(bytes, at, width)),
    };
    let result = i128::from(value) + addend;
    if let Store::Word32 { min, max } = store {
        if !(min..=max).contains(&result) {
            return Err(format!(
                "the value {result:#x} does not fit the relocation's 32 bits"
            ));
        }
    }
    fields.put(bytes, at, width, result as u64);
    Ok(true)
}

fn elf_error(shown: &str, err: object::read::Error) -> ViewError {
    ViewError::new(format!("{shown}: not a readable ELF file: {err}"))
}

fn convert<'d, Elf: FileHeader<Endian = Endianness>>(
    data: &'d [u8],
    shown: &str,
    place: PercpuPlace<'_>,
) -> Result<View<'d>, ViewError> {
    let header = Elf::parse(data).map_err(|e| elf_error(shown, e))?;
    let endian = header.endian().map_err(|e| elf_error(shown, e))?;
    if header.e_type(endian) != elf::ET_REL {
        return Err(ViewError::new(format!(
            "{shown}: not a relocatable file (the view is made from `ld -r` of vmlinux's inputs)"
        )));
    }
    let fields = Fields {
        wide: header.is_class_64(),
        endian,
    };
    let machine = header.e_machine(endian);
    let sections = header
        .sections(endian, data)
        .map_err(|e| elf_error(shown, e))?;
    let headers: Vec<&Elf::SectionHeader> = sections.iter().collect();
    let name = |index: usize| {
        sections
            .section_name(endian, headers[index])
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_else(|_| format!("section {index}"))
    };
    for (index, section) in headers.iter().enumerate() {
        let what = match section.sh_type(endian) {
            elf::SHT_GROUP => "a section group",
            elf::SHT_SYMTAB_SHNDX => "a table of extended section indices",
            _ => continue,
        };
        return Err(ViewError::new(format!(
            "{shown}: section {} is {what}, which kslink's view does not rewrite",
            name(index)
        )));
    }

    let percpu = match sections.section_by_name(endian, PERCPU_SECTION) {
        Some((index, section)) => {
            let linked = section.sh_addr(endian).into();
            let percpu = String::from_utf8_lossy(PERCPU_SECTION);
            match place.address {
                // GNU ld -r keeps the script's address; ld.lld -r leaves 0.
                Some(address) if linked == address || linked == 0 => Some((index.0, address)),
                Some(address) => {
                    return Err(ViewError::new(format!(
                        "{shown}: its {percpu} is at {linked:#x}, where {} places it at {address:#x}: link it with that script",
                        place.script
                    )))
                }
                None => {
                    return Err(ViewError::new(format!(
                        "{shown} has a {percpu} section, which {} does not place: link it with the view's script (`kslink-btf view-script`)",
                        place.script
                    )))
                }
            }
        }
        None => None,
    };
    let addresses = layout::<Elf>(&headers, endian, percpu);
    let allocated = |index: usize| {
        index < headers.len()
            && headers[index].sh_flags(endian).into() & u64::from(elf::SHF_ALLOC) != 0
    };

    // The new index of each section: relocation sections are left out.
    let is_relocations =
        |index: usize| matches!(headers[index].sh_type(endian), elf::SHT_REL | elf::SHT_RELA);
    let mut new_index = vec![0usize; headers.len()];
    let mut kept = Vec::new();
    for (index, new) in new_index.iter_mut().enumerate() {
        if !is_relocations(index) {
            *new = kept.len();
            kept.push(index);
        }
    }
    let renumber = |index: usize, what: &str| -> Result<usize, ViewError> {
        if index != 0 && (index >= headers.len() || is_relocations(index)) {
            return Err(ViewError::new(format!(
                "{shown}: {what} names section {index}, which the view leaves out"
            )));
        }
        Ok(new_index[index])
    };

    // The symbols' values in the view, and the symbol table rewritten to them.
    let symbols = sections
        .symbols(endian, data, elf::SHT_SYMTAB)
        .map_err(|e| elf_error(shown, e))?;
    let symtab_index = symbols.section().0;
    let mut values: Vec<Option<u64>> = Vec::with_capacity(symbols.len());
    let mut symtab = symbols_bytes::<Elf>(&headers, symtab_index, endian, data, shown)?;
    let (value_at, shndx_at) = fields.symbol();
    let entsize = std::mem::size_of::<Elf::Sym>();
    for (index, symbol) in symbols.symbols().iter().enumerate() {
        let shndx = symbol.st_shndx(endian);
        let value: u64 = symbol.st_value(endian).into();
        let at = index * entsize;
        values.push(match shndx {
            elf::SHN_UNDEF => None,
            elf::SHN_ABS | elf::SHN_COMMON => Some(value),
            elf::SHN_XINDEX => {
                return Err(ViewError::new(format!(
                    "{shown}: symbol {index} has an extended section index, which kslink's view does not rewrite"
                )))
            }
            shndx if shndx >= elf::SHN_LORESERVE => Some(value),
            shndx => {
                // A section that is not allocated is at address 0: its symbols keep their values.
                let section = usize::from(shndx);
                let renumbered = renumber(section, &format!("symbol {index}"))?;
                let moved = value.wrapping_add(addresses[section]);
                fields.put(&mut symtab, at + value_at, fields.word(), moved);
                fields.put(&mut symtab, at + shndx_at, 2, renumbered as u64);
                Some(moved)
            }
        });
    }

    // The debug sections, relocated.
    let mut relocated: Vec<Option<Vec<u8>>> = vec![None; headers.len()];
    for (index, section) in headers.iter().enumerate() {
        let target = section.sh_info(endian) as usize;
        if !is_relocations(index) || target == 0 || allocated(target) {
            continue;
        }
        if target >= headers.len() || section.sh_link(endian) as usize != symtab_index {
            return Err(ViewError::new(format!(
                "{shown}: relocation section {} does not apply to a section with the symbol table",
                name(index)
            )));
        }
        if relocated[target].is_none() {
            let bytes = headers[target]
                .data(endian, data)
                .map_err(|e| elf_error(shown, e))?;
            relocated[target] = Some(bytes.to_vec());
        }
        let bytes = relocated[target].as_mut().expect("made above");
        // (offset, symbol, type, addend: None where the field holds it)
        let records: Box<dyn Iterator<Item = (u64, u32, u32, Option<i64>)>> =
            if let Some((rela, _)) = section
                .rela(endian, data)
                .map_err(|e| elf_error(shown, e))?
            {
                Box::new(rela.iter().map(move |r| {
                    (
                        r.r_offset(endian).into(),
                        r.r_sym(endian, false),
                        r.r_type(endian, false),
                        Some(r.r_addend(endian).into()),
                    )
                }))
            } else {
                let (rel, _) = section
                    .rel(endian, data)
                    .map_err(|e| elf_error(shown, e))?
                    .expect("a relocation section is REL or RELA");
                Box::new(rel.iter().map(move |r| {
                    (
                        r.r_offset(endian).into(),
                        r.r_sym(endian),
                        r.r_type(endian),
                        None,
                    )
                }))
            };
        for (offset, sym, r_type, addend) in records {
            let value = values.get(sym as usize).copied().flatten();
            apply(&fields, machine, bytes, offset, r_type, value, addend).map_err(|why| {
                ViewError::new(format!("{shown}: {} at {offset:#x}: {why}", name(target)))
            })?;
        }
    }

    // The file: the header, the kept sections' contents in the input's order, the section
    // headers.
    let ehsize = usize::from(header.e_ehsize(endian));
    let mut head = data
        .get(..ehsize)
        .ok_or_else(|| ViewError::new(format!("{shown}: the ELF header is cut short")))?
        .to_vec();
    let mut pieces = Vec::new();
    let mut position = ehsize;
    let mut section_headers =
        Vec::with_capacity(kept.len() * std::mem::size_of::<Elf::SectionHeader>());
    let mut by_offset: Vec<usize> = kept
        .iter()
        .copied()
        .filter(|&i| i != 0 && headers[i].sh_type(endian) != elf::SHT_NOBITS)
        .collect();
    by_offset.sort_by_key(|&i| headers[i].sh_offset(endian).into());
    let mut offsets = vec![0u64; headers.len()];
    for &index in &by_offset {
        let section = headers[index];
        let align = (section.sh_addralign(endian).into()).max(1) as usize;
        let start = position.div_ceil(align) * align;
        pieces.push(Piece::Padding(start - position));
        let contents: Piece = if index == symtab_index {
            Piece::Owned(std::mem::take(&mut symtab))
        } else if let Some(bytes) = relocated[index].take() {
            Piece::Owned(bytes)
        } else {
            Piece::Borrowed(
                section
                    .data(endian, data)
                    .map_err(|e| elf_error(shown, e))?,
            )
        };
        position = start + contents.len();
        pieces.push(contents);
        offsets[index] = start as u64;
    }
    let word = fields.word();
    let shoff = position.div_ceil(word) * word;
    pieces.push(Piece::Padding(shoff - position));
    let (flags_at, addr_at, offset_at, link_at, info_at) = fields.section();
    for &index in &kept {
        let section = headers[index];
        let mut bytes = object::pod::bytes_of(section).to_vec();
        if index != 0 {
            let flags: u64 = section.sh_flags(endian).into();
            fields.put(
                &mut bytes,
                flags_at,
                word,
                flags & !u64::from(elf::SHF_ALLOC),
            );
            fields.put(&mut bytes, addr_at, word, addresses[index]);
            fields.put(&mut bytes, offset_at, word, offsets[index]);
            let link = renumber(
                section.sh_link(endian) as usize,
                &format!("section {}", name(index)),
            )?;
            fields.put(&mut bytes, link_at, 4, link as u64);
            if flags & u64::from(elf::SHF_INFO_LINK) != 0 {
                let info = renumber(
                    section.sh_info(endian) as usize,
                    &format!("section {}", name(index)),
                )?;
                fields.put(&mut bytes, info_at, 4, info as u64);
            }
        }
        section_headers.extend_from_slice(&bytes);
    }
    let (type_at, phoff_at, shoff_at, phnum_at, shnum_at, shstrndx_at) = fields.header();
    fields.put(&mut head, type_at, 2, u64::from(elf::ET_EXEC));
    fields.put(&mut head, phoff_at, word, 0);
    fields.put(&mut head, shoff_at, word, shoff as u64);
    fields.put(&mut head, phnum_at, 2, 0);
    fields.put(&mut head, shnum_at, 2, kept.len() as u64);
    let shstrndx = renumber(usize::from(header.e_shstrndx(endian)), "the ELF header")?;
    fields.put(&mut head, shstrndx_at, 2, shstrndx as u64);
    pieces.insert(0, Piece::Owned(head));
    pieces.push(Piece::Owned(section_headers));
    Ok(View { pieces })
}

/// The address of each section in the view: the per-cpu section's `(index, address)` from
/// the view's script, each other allocated section after it, in the file's order, at its
/// alignment, at [`FIRST_ADDRESS`] or above; 0 for a section that is not allocated.
fn layout<Elf: FileHeader<Endian = Endianness>>(
    headers: &[&Elf::SectionHeader],
    endian: Endianness,
    percpu: Option<(usize, u64)>,
) -> Vec<u64> {
    let allocated =
        |s: &Elf::SectionHeader| s.sh_flags(endian).into() & u64::from(elf::SHF_ALLOC) != 0;
    let percpu = percpu.filter(|&(i, _)| allocated(headers[i]));
    let mut next = percpu.map_or(FIRST_ADDRESS, |(i, address)| {
        (address + headers[i].sh_size(endian).into()).max(FIRST_ADDRESS)
    });
    headers
        .iter()
        .enumerate()
        .map(|(index, section)| {
            if !allocated(section) {
                0
            } else if let Some((_, address)) = percpu.filter(|&(i, _)| i == index) {
                address
            } else {
                let align = section.sh_addralign(endian).into().max(1);
                let address = next.div_ceil(align) * align;
                next = address + section.sh_size(endian).into();
                address
            }
        })
        .collect()
}

/// A copy of the symbol table's bytes.
fn symbols_bytes<Elf: FileHeader<Endian = Endianness>>(
    headers: &[&Elf::SectionHeader],
    index: usize,
    endian: Endianness,
    data: &[u8],
    shown: &str,
) -> Result<Vec<u8>, ViewError> {
    match headers.get(index) {
        Some(section) if index != 0 => section
            .data(endian, data)
            .map(<[u8]>::to_vec)
            .map_err(|e| elf_error(shown, e)),
        _ => Err(ViewError::new(format!("{shown}: no symbol table"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LITTLE64: Fields = Fields {
        wide: true,
        endian: Endianness::Little,
    };

    #[test]
    fn an_absolute_relocation_stores_symbol_plus_addend() {
        let mut bytes = [0xaa; 16];
        let applied = apply(
            &LITTLE64,
            elf::EM_X86_64,
            &mut bytes,
            4,
            elf::R_X86_64_64,
            Some(0x1000),
            Some(0x20),
        );
        assert_eq!(applied, Ok(true));
        assert_eq!(bytes[4..12], 0x1020u64.to_le_bytes());
        assert_eq!(bytes[..4], [0xaa; 4]);
        let applied = apply(
            &LITTLE64,
            elf::EM_X86_64,
            &mut bytes,
            0,
            elf::R_X86_64_32,
            Some(0x10),
            Some(2),
        );
        assert_eq!(applied, Ok(true));
        assert_eq!(bytes[..4], 0x12u32.to_le_bytes());
    }

    #[test]
    fn an_implicit_addend_is_read_from_the_field() {
        let fields = Fields {
            wide: false,
            endian: Endianness::Little,
        };
        let mut bytes = 0x30u32.to_le_bytes();
        let applied = apply(
            &fields,
            elf::EM_386,
            &mut bytes,
            0,
            elf::R_386_32,
            Some(0x400),
            None,
        );
        assert_eq!(applied, Ok(true));
        assert_eq!(bytes, 0x430u32.to_le_bytes());
    }

    #[test]
    fn what_the_view_cannot_apply_is_an_error() {
        let mut bytes = [0; 8];
        let mut try_apply = |r_type, value, addend, offset| {
            apply(
                &LITTLE64,
                elf::EM_X86_64,
                &mut bytes,
                offset,
                r_type,
                value,
                Some(addend),
            )
        };
        let overflow = try_apply(elf::R_X86_64_32, Some(u64::from(u32::MAX)), 1, 0);
        assert!(overflow.unwrap_err().contains("does not fit"));
        let negative = try_apply(elf::R_X86_64_32, Some(0), -1, 0);
        assert!(negative.unwrap_err().contains("does not fit"));
        let signed = try_apply(elf::R_X86_64_32S, Some(0), -1, 0);
        assert_eq!(signed, Ok(true));
        let relative = try_apply(elf::R_X86_64_PC32, Some(0), 0, 0);
        assert!(relative.unwrap_err().contains("not an absolute address"));
        let undefined = try_apply(elf::R_X86_64_64, None, 0, 0);
        assert!(undefined.unwrap_err().contains("undefined"));
        let outside = try_apply(elf::R_X86_64_64, Some(0), 0, 4);
        assert!(outside.unwrap_err().contains("outside the section"));
        assert_eq!(try_apply(elf::R_X86_64_NONE, None, 0, 100), Ok(false));
    }
}
