//! Reading the symbol table of an ELF file the way GNU `nm` (binutils 2.40) lists it.

use std::cmp::Ordering;
use std::fmt;

use object::elf;
use object::read::elf::{ElfFile, FileHeader, SectionHeader, Sym};
use object::{Endianness, SymbolIndex};

use crate::letter::{
    decode_symclass, elf_section_flags, is_debugging_symbol, is_target_special_symbol,
    is_undefined_class, section_letter, symbol_flags, SymbolPlace,
};

/// One symbol as `nm` lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NmSymbol<'data> {
    /// The value `nm` prints: `st_value` (without the Thumb bit on Arm, plus the section's
    /// address in a relocatable file), `st_size` for a common symbol, 0 for an undefined one
    /// (which `nm` prints without an address).
    pub address: u64,
    /// The type letter ([`crate::letter::decode_symclass`]).
    pub type_letter: u8,
    /// The name, from the string table.
    pub name: &'data [u8],
    /// The ELF section index the symbol is defined in; `None` for undefined, absolute and
    /// common symbols.
    pub section: Option<u32>,
    /// The symbol's index in `.symtab`: `nm -n`'s last tie-breaker.
    pub index: u32,
}

impl NmSymbol<'_> {
    /// True for an undefined symbol (`U`, `w`, `v`), which `nm` prints without an address
    /// and sorts before every defined symbol.
    pub fn is_undefined(&self) -> bool {
        is_undefined_class(self.type_letter)
    }
}

/// `nm -n`'s order (`numeric_forward` in binutils/nm.c, run by glibc's stable `qsort`):
/// undefined symbols first, among themselves by name; defined symbols by value, equal
/// values by name (`strcmp`: Kbuild runs `nm` with `LC_COLLATE=C`); equal names in
/// symbol-table order.
pub fn nm_numeric_cmp(a: &NmSymbol, b: &NmSymbol) -> Ordering {
    match (a.is_undefined(), b.is_undefined()) {
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (true, true) => Ordering::Equal,
        (false, false) => a.address.cmp(&b.address),
    }
    .then_with(|| a.name.cmp(b.name))
    .then(a.index.cmp(&b.index))
}

/// Sorts symbols into `nm -n` order ([`nm_numeric_cmp`]).
///
/// In two passes, for speed: first as plain integers, (undefined first, value, position),
/// then each run of equal values by [`nm_numeric_cmp`] (name, table index).
pub fn sort_nm_numeric(symbols: &mut Vec<NmSymbol>) {
    let group = |s: &NmSymbol| -> u128 {
        if s.is_undefined() {
            0
        } else {
            (1 << 64) | u128::from(s.address)
        }
    };
    let position_bits = usize::BITS - symbols.len().leading_zeros();
    let mut keys: Vec<u128> = symbols
        .iter()
        .enumerate()
        .map(|(i, s)| (group(s) << position_bits) | i as u128)
        .collect();
    keys.sort_unstable();
    let mask = (1u128 << position_bits) - 1;
    *symbols = keys
        .iter()
        .map(|&key| symbols[(key & mask) as usize])
        .collect();
    let mut start = 0;
    while start < symbols.len() {
        let first = group(&symbols[start]);
        let len = symbols[start..]
            .iter()
            .position(|s| group(s) != first)
            .unwrap_or(symbols.len() - start);
        if len > 1 {
            symbols[start..start + len].sort_unstable_by(nm_numeric_cmp);
        }
        start += len;
    }
}

/// The symbols of an ELF file that `nm` lists, in symbol-table order, with what is needed to
/// print them.
#[derive(Clone, Debug)]
pub struct LinkedSymbols<'data> {
    /// 32 or 64, from the ELF class: the width of `nm`'s addresses (8 or 16 hex digits).
    pub address_bits: u8,
    /// True for a big-endian file.
    pub big_endian: bool,
    /// `e_machine`.
    pub machine: u16,
    /// `e_type`.
    pub file_type: u16,
    /// The names of all sections, by ELF section index (index 0 is the empty name), as
    /// [`NmSymbol::section`] indexes them.
    pub sections: Vec<String>,
    /// The symbols `nm` lists: every `.symtab` entry but the first, less section and file
    /// symbols and the target's special symbols.
    pub symbols: Vec<NmSymbol<'data>>,
}

/// Why an ELF file's symbols could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// The file does not begin with the ELF magic number.
    NotElf,
    /// The file is an ELF file but cannot be read: truncated, or a header points outside it.
    Malformed(String),
    /// The file has no `.symtab`: it was stripped.
    NoSymbolTable,
    /// The `.symtab` holds no symbol but the null one.
    NoSymbols,
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::NotElf => f.write_str("not an ELF file"),
            ElfError::Malformed(what) => write!(f, "malformed or truncated ELF file: {what}"),
            ElfError::NoSymbolTable => {
                f.write_str("no symbol table (.symtab): the file is stripped")
            }
            ElfError::NoSymbols => f.write_str("the symbol table (.symtab) holds no symbols"),
        }
    }
}

impl std::error::Error for ElfError {}

fn malformed(err: object::read::Error) -> ElfError {
    ElfError::Malformed(err.to_string())
}

/// `SHN_X86_64_LCOMMON`: large common symbols on x86-64.
const SHN_X86_64_LCOMMON: u16 = 0xff02;

/// Reads the symbols `nm` would list from the ELF file `data` (ELF32 or ELF64, either byte
/// order). The names borrow from `data`.
pub fn read_linked(data: &[u8]) -> Result<LinkedSymbols<'_>, ElfError> {
    if data.len() < 4 || data[..4] != elf::ELFMAG {
        return Err(ElfError::NotElf);
    }
    match data.get(4) {
        // e_ident[EI_CLASS]
        Some(&elf::ELFCLASS32) => read_class::<elf::FileHeader32<Endianness>>(data),
        Some(&elf::ELFCLASS64) => read_class::<elf::FileHeader64<Endianness>>(data),
        Some(class) => Err(ElfError::Malformed(format!("unknown ELF class {class}"))),
        None => Err(ElfError::Malformed(
            "file ends inside the ELF header".into(),
        )),
    }
}

/// What a symbol's section index stands for, per ELF section.
#[derive(Clone, Copy)]
struct SectionInfo {
    place: SymbolPlace,
    /// `sh_addr`: BFD's section address, added to values in relocatable files.
    address: u64,
}

fn read_class<'data, Elf>(data: &'data [u8]) -> Result<LinkedSymbols<'data>, ElfError>
where
    Elf: FileHeader<Endian = Endianness>,
{
    let file = ElfFile::<Elf, &'data [u8]>::parse(data).map_err(malformed)?;
    let endian = file.endian();
    let header = file.elf_header();
    let machine = header.e_machine(endian);
    let file_type = header.e_type(endian);
    let table = file.elf_section_table();
    let symtab = file.elf_symbol_table();
    if symtab.section().0 == 0 {
        return Err(ElfError::NoSymbolTable);
    }
    if symtab.len() <= 1 {
        return Err(ElfError::NoSymbols);
    }

    let headers = table.iter().as_slice();
    let shstrndx = header.shstrndx(endian, data).map_err(malformed)?;
    let symtab_index = symtab.section().0;
    let mut names = Vec::with_capacity(headers.len());
    let mut info = Vec::with_capacity(headers.len());
    for (index, section) in headers.iter().enumerate() {
        let name = table.section_name(endian, section).map_err(malformed)?;
        names.push(String::from_utf8_lossy(name).into_owned());
        let place = if bfd_makes_section(headers, index, endian, file_type, symtab_index, shstrndx)
        {
            let flags = elf_section_flags(
                name,
                section.sh_type(endian),
                section.sh_flags(endian).into(),
            );
            SymbolPlace::Section {
                letter: section_letter(name, flags),
            }
        } else {
            SymbolPlace::Absolute
        };
        info.push(SectionInfo {
            place,
            address: section.sh_addr(endian).into(),
        });
    }

    // Values are section-relative in BFD; for executables and shared objects BFD subtracts
    // the section address and nm adds it back, for other files it only adds it.
    let add_section_address = !matches!(file_type, elf::ET_EXEC | elf::ET_DYN);
    let strings = symtab.strings();
    let mut symbols = Vec::with_capacity(symtab.len());
    for (index, sym) in symtab.enumerate().skip(1) {
        let st_info = sym.st_info();
        if is_debugging_symbol(st_info) {
            continue;
        }
        let name = sym.name(endian, strings).map_err(|_| {
            ElfError::Malformed(format!(
                "symbol {}: name offset {:#x} is outside the string table",
                index.0,
                sym.st_name(endian)
            ))
        })?;
        if is_target_special_symbol(machine, name) {
            continue;
        }
        let kind = st_info & 0xf;
        let mut value: u64 = sym.st_value(endian).into();
        if machine == elf::EM_ARM && (kind == elf::STT_FUNC || kind == elf::STT_GNU_IFUNC) {
            // elf32_arm_swap_symbol_in: the Thumb bit is not part of the address.
            value &= !1;
        }
        let shndx = match sym.st_shndx(endian) {
            elf::SHN_XINDEX => match symtab.shndx(endian, index) {
                Some(shndx) => Shndx::Index(shndx),
                None => Shndx::Reserved,
            },
            elf::SHN_UNDEF => Shndx::Index(0),
            elf::SHN_ABS => Shndx::Reserved,
            elf::SHN_COMMON => Shndx::Common,
            SHN_X86_64_LCOMMON if machine == elf::EM_X86_64 => Shndx::Common,
            shndx if shndx >= elf::SHN_LORESERVE => Shndx::Reserved,
            shndx => Shndx::Index(shndx.into()),
        };
        let (place, section) = match shndx {
            Shndx::Index(0) => (SymbolPlace::Undefined, None),
            Shndx::Index(i) => match info.get(i as usize) {
                Some(section) => {
                    if add_section_address && matches!(section.place, SymbolPlace::Section { .. }) {
                        value = value.wrapping_add(section.address);
                    }
                    (section.place, Some(i))
                }
                None => (SymbolPlace::Absolute, None),
            },
            Shndx::Common => {
                // BFD keeps the size in a common symbol's value (the alignment is lost).
                value = sym.st_size(endian).into();
                (SymbolPlace::Common, None)
            }
            Shndx::Reserved => (SymbolPlace::Absolute, None),
        };
        let flags = symbol_flags(
            st_info,
            matches!(place, SymbolPlace::Undefined | SymbolPlace::Common),
        );
        let type_letter = decode_symclass(place, flags);
        if is_undefined_class(type_letter) {
            value = 0;
        }
        symbols.push(NmSymbol {
            address: value,
            type_letter,
            name,
            section,
            index: index_u32(index),
        });
    }
    Ok(LinkedSymbols {
        address_bits: if header.is_type_64() { 64 } else { 32 },
        big_endian: file.endian() == Endianness::Big,
        machine,
        file_type,
        sections: names,
        symbols,
    })
}

fn index_u32(index: SymbolIndex) -> u32 {
    // A symbol table of more than 2^32 entries would be more than 64 GiB.
    u32::try_from(index.0).expect("symbol index fits in 32 bits")
}

enum Shndx {
    /// A section header index (0: undefined).
    Index(u32),
    /// `SHN_COMMON` and the like.
    Common,
    /// `SHN_ABS`, or a reserved index BFD makes absolute.
    Reserved,
}

/// Whether BFD makes a section of ELF section `index` (`bfd_section_from_shdr`). It does not
/// for the null section, the symbol table and its extended index table, the section-name and
/// symbol string tables, and relocation sections that it reads as relocations; a symbol
/// defined in one of these is absolute for `nm`.
fn bfd_makes_section<S: SectionHeader<Endian = Endianness>>(
    headers: &[S],
    index: usize,
    endian: Endianness,
    file_type: u16,
    symtab_index: usize,
    shstrndx: u32,
) -> bool {
    let section = &headers[index];
    match section.sh_type(endian) {
        elf::SHT_NULL | elf::SHT_SYMTAB | elf::SHT_SYMTAB_SHNDX => false,
        elf::SHT_STRTAB => {
            index as u32 != shstrndx
                && !headers.iter().any(|other| {
                    other.sh_type(endian) == elf::SHT_SYMTAB
                        && other.sh_link(endian) as usize == index
                })
        }
        elf::SHT_REL | elf::SHT_RELA => {
            let flags: u64 = section.sh_flags(endian).into();
            let alloc = flags & u64::from(elf::SHF_ALLOC) != 0;
            let link = section.sh_link(endian) as usize;
            let target = section.sh_info(endian) as usize;
            // A section unless BFD can read it as the relocations of section `target`.
            (matches!(file_type, elf::ET_EXEC | elf::ET_DYN) && alloc)
                || link == 0
                || link != symtab_index
                || target == 0
                || target >= headers.len()
                || matches!(
                    headers[target].sh_type(endian),
                    elf::SHT_REL | elf::SHT_RELA
                )
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(address: u64, type_letter: u8, name: &'static str, index: u32) -> NmSymbol<'static> {
        NmSymbol {
            address,
            type_letter,
            name: name.as_bytes(),
            section: None,
            index,
        }
    }

    #[test]
    fn numeric_order() {
        let mut symbols = vec![
            sym(0x20, b't', "b", 1),
            sym(0x10, b'T', "zeta", 2),
            sym(0x10, b't', "Zeta", 3),
            sym(0, b'U', "undef_b", 4),
            sym(0x10, b'a', "zeta", 5),
            sym(0x10, b't', "_zeta", 6),
            sym(0, b'w', "undef_a", 7),
            sym(0x10, b'd', "", 8),
            sym(0, b'A', "abs0", 9),
            sym(0x10, b't', "zeta", 10),
            sym(u64::MAX, b'A', "top", 11),
            sym(0x10, b'D', "\u{e9}", 12),
        ];
        sort_nm_numeric(&mut symbols);
        let order: Vec<u32> = symbols.iter().map(|s| s.index).collect();
        // Undefined by name; then by value; the empty name first, strcmp order (upper case,
        // `_`, lower case, then bytes >= 0x80); equal names in table order.
        assert_eq!(order, [7, 4, 9, 8, 3, 6, 2, 5, 10, 12, 1, 11]);
    }
}
