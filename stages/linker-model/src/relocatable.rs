//! Relocatable ELF objects, read for what a link does with their sections and symbols.

use std::borrow::Cow;

use object::elf;
use object::read::elf::{FileHeader, SectionHeader, Sym};
use object::Endianness;

/// `SHN_X86_64_LCOMMON`: large common symbols on x86-64.
const SHN_X86_64_LCOMMON: u16 = 0xff02;

/// The machine an object is for; every input of one link must agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Machine {
    /// `e_machine`.
    pub machine: u16,
    /// ELF64 rather than ELF32.
    pub is_64: bool,
    /// Big-endian.
    pub big_endian: bool,
}

/// How an object is named: in messages, and for linker script file patterns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectName {
    /// For messages: `path`, or `archive(member)`.
    pub display: String,
    /// What a script's file pattern is matched against: the path as given, an archive
    /// member's name, or a thin archive member's path.
    pub file_name: Vec<u8>,
    /// The archive the object is a member of, as given (for `archive:member` patterns).
    pub archive: Option<Vec<u8>>,
    /// True for a file named on the command line, which a script may name exactly.
    pub top_level: bool,
}

/// A section of an input object.
#[derive(Clone, Copy, Debug)]
pub struct InputSection<'data> {
    /// Its name.
    pub name: &'data [u8],
    /// `sh_type`.
    pub sh_type: u32,
    /// `sh_flags`.
    pub sh_flags: u64,
    /// `sh_size`.
    pub size: u64,
    /// `sh_addralign` (at least 1).
    pub align: u64,
}

impl InputSection<'_> {
    /// Whether a final link places this section in an output section. Symbol tables,
    /// string tables, relocations and group sections are read by the linker, not placed;
    /// `SHF_EXCLUDE` sections and `.note.GNU-stack` are dropped.
    pub fn is_placed(&self) -> bool {
        !matches!(
            self.sh_type,
            elf::SHT_NULL
                | elf::SHT_SYMTAB
                | elf::SHT_STRTAB
                | elf::SHT_REL
                | elf::SHT_RELA
                | elf::SHT_GROUP
                | elf::SHT_SYMTAB_SHNDX
                | elf::SHT_DYNSYM
        ) && self.sh_flags & u64::from(elf::SHF_EXCLUDE) == 0
            && self.name != b".note.GNU-stack"
    }

    /// Writable.
    pub fn is_writable(&self) -> bool {
        self.sh_flags & u64::from(elf::SHF_WRITE) != 0
    }
}

/// Where an input symbol is defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// Undefined: a reference.
    Undefined,
    /// `SHN_ABS`, or a reserved index BFD treats as absolute.
    Absolute,
    /// A common symbol.
    Common,
    /// The section with this index.
    Section(u32),
}

/// A symbol of an input object.
#[derive(Clone, Copy, Debug)]
pub struct InputSymbol<'data> {
    /// Its name.
    pub name: &'data [u8],
    /// `st_info`: binding and type.
    pub info: u8,
    /// `st_other`: the visibility.
    pub other: u8,
    /// Where it is defined.
    pub place: Place,
    /// `st_value`: the offset in its section (for a common symbol, its alignment).
    pub value: u64,
    /// `st_size` (for a common symbol, its size).
    pub size: u64,
}

impl InputSymbol<'_> {
    /// `STB_*`.
    pub fn binding(&self) -> u8 {
        self.info >> 4
    }

    /// `STT_*`.
    pub fn kind(&self) -> u8 {
        self.info & 0xf
    }

    /// `STV_*`.
    pub fn visibility(&self) -> u8 {
        self.other & 0x3
    }

    /// Local binding.
    pub fn is_local(&self) -> bool {
        self.binding() == elf::STB_LOCAL
    }

    /// Weak binding.
    pub fn is_weak(&self) -> bool {
        self.binding() == elf::STB_WEAK
    }
}

/// A relocation section of an object: the section it applies to and its entries, as in
/// the file.
#[derive(Clone, Debug)]
pub struct Relocations<'data> {
    /// The section the relocations apply to (`sh_info`), by ELF index.
    pub target: u32,
    /// `SHT_RELA` rather than `SHT_REL`.
    pub rela: bool,
    /// The entries, in the object's byte order and class (borrowed from the file, or made
    /// for an object the link will also have).
    pub entries: Cow<'data, [u8]>,
}

/// A section group (`SHT_GROUP` with `GRP_COMDAT`): a link keeps the first group of each
/// signature and discards the others, with their sections and symbols.
#[derive(Clone, Debug)]
pub struct ComdatGroup<'data> {
    /// The signature.
    pub signature: &'data [u8],
    /// The member sections.
    pub sections: Vec<u32>,
}

/// A relocatable object's sections and symbols; the names borrow from the file.
pub struct Object<'data> {
    /// Its name.
    pub name: ObjectName,
    /// Its machine.
    pub machine: Machine,
    /// Its sections by ELF index (index 0 is the null section).
    pub sections: Vec<InputSection<'data>>,
    /// Its symbols by ELF index (index 0 is the null symbol).
    pub symbols: Vec<InputSymbol<'data>>,
    /// The index of the first non-local symbol (`sh_info` of `.symtab`).
    pub first_global: usize,
    /// Its COMDAT groups.
    pub groups: Vec<ComdatGroup<'data>>,
    /// Its relocation sections that apply to another section.
    pub relocations: Vec<Relocations<'data>>,
}

impl<'data> Object<'data> {
    /// Reads the relocatable object in `data`.
    pub fn parse(data: &'data [u8], name: ObjectName) -> Result<Object<'data>, String> {
        if data.len() < 5 || data[..4] != elf::ELFMAG {
            return Err("not an ELF file".into());
        }
        match data[4] {
            elf::ELFCLASS32 => read_class::<elf::FileHeader32<Endianness>>(data, name),
            elf::ELFCLASS64 => read_class::<elf::FileHeader64<Endianness>>(data, name),
            class => Err(format!("unknown ELF class {class}")),
        }
    }

    /// The types (`ELF64_R_TYPE`, `ELF32_R_TYPE`) of the relocations that apply to section
    /// `target`, in file order.
    pub fn relocation_types(&self, target: u32) -> impl Iterator<Item = u32> + '_ {
        let Machine {
            is_64, big_endian, ..
        } = self.machine;
        self.relocations
            .iter()
            .filter(move |r| r.target == target)
            .flat_map(move |r| {
                // r_offset, r_info[, r_addend]: words of the class's size.
                let entry = if is_64 { 8 } else { 4 } * if r.rela { 3 } else { 2 };
                r.entries.chunks_exact(entry).map(move |e| {
                    if is_64 {
                        let info: [u8; 8] = e[8..16].try_into().expect("8 bytes");
                        let info = if big_endian {
                            u64::from_be_bytes(info)
                        } else {
                            u64::from_le_bytes(info)
                        };
                        info as u32 // ELF64_R_TYPE: the low 32 bits
                    } else {
                        let info: [u8; 4] = e[4..8].try_into().expect("4 bytes");
                        let info = if big_endian {
                            u32::from_be_bytes(info)
                        } else {
                            u32::from_le_bytes(info)
                        };
                        info & 0xff // ELF32_R_TYPE: the low 8 bits
                    }
                })
            })
    }

    /// The global (non-local) symbols with their indices.
    pub fn globals(&self) -> impl Iterator<Item = (usize, &InputSymbol<'data>)> {
        self.symbols
            .iter()
            .enumerate()
            .skip(self.first_global.max(1))
    }
}

fn malformed(err: object::read::Error) -> String {
    format!("malformed or truncated ELF file: {err}")
}

fn read_class<'data, Elf>(data: &'data [u8], name: ObjectName) -> Result<Object<'data>, String>
where
    Elf: FileHeader<Endian = Endianness>,
{
    let header = Elf::parse(data).map_err(malformed)?;
    let endian = header.endian().map_err(malformed)?;
    let file_type = header.e_type(endian);
    if file_type != elf::ET_REL {
        return Err(format!(
            "not a relocatable object (ELF type {}): give the link's inputs, not a linked \
             file",
            match file_type {
                elf::ET_EXEC => "EXEC".to_string(),
                elf::ET_DYN => "DYN".to_string(),
                other => other.to_string(),
            }
        ));
    }
    let machine = Machine {
        machine: header.e_machine(endian),
        is_64: header.is_type_64(),
        big_endian: endian == Endianness::Big,
    };
    let table = header.sections(endian, data).map_err(malformed)?;
    let mut sections = Vec::with_capacity(table.len());
    for section in table.iter() {
        let name = table.section_name(endian, section).map_err(malformed)?;
        let align: u64 = section.sh_addralign(endian).into();
        sections.push(InputSection {
            name,
            sh_type: section.sh_type(endian),
            sh_flags: section.sh_flags(endian).into(),
            size: section.sh_size(endian).into(),
            align: align.max(1),
        });
    }
    let symtab = table
        .symbols(endian, data, elf::SHT_SYMTAB)
        .map_err(malformed)?;
    let first_global = if symtab.is_empty() {
        0
    } else {
        table
            .section(symtab.section())
            .map_err(malformed)?
            .sh_info(endian) as usize
    };
    let strings = symtab.strings();
    let mut symbols = Vec::with_capacity(symtab.len());
    for (index, sym) in symtab.enumerate() {
        let name = if index.0 == 0 {
            &[][..]
        } else {
            sym.name(endian, strings).map_err(|_| {
                format!(
                    "symbol {}: name offset {:#x} is outside the string table",
                    index.0,
                    sym.st_name(endian)
                )
            })?
        };
        let place = match sym.st_shndx(endian) {
            elf::SHN_UNDEF => Place::Undefined,
            elf::SHN_XINDEX => match symtab.shndx(endian, index) {
                Some(shndx) => Place::Section(shndx),
                None => return Err(format!("symbol {}: no extended section index", index.0)),
            },
            elf::SHN_COMMON => Place::Common,
            SHN_X86_64_LCOMMON if machine.machine == elf::EM_X86_64 => Place::Common,
            shndx if shndx >= elf::SHN_LORESERVE => Place::Absolute,
            shndx => Place::Section(shndx.into()),
        };
        if let Place::Section(shndx) = place {
            if shndx as usize >= sections.len() {
                return Err(format!(
                    "symbol {}: section index {shndx} is out of range",
                    index.0
                ));
            }
        }
        symbols.push(InputSymbol {
            name,
            info: sym.st_info(),
            other: sym.st_other(),
            place,
            value: sym.st_value(endian).into(),
            size: sym.st_size(endian).into(),
        });
    }
    let mut groups = Vec::new();
    for section in table.iter() {
        if section.sh_type(endian) != elf::SHT_GROUP {
            continue;
        }
        let Some((flag, members)) = section.group(endian, data).map_err(malformed)? else {
            continue;
        };
        if flag & elf::GRP_COMDAT == 0 {
            continue;
        }
        let signature = symbols
            .get(section.sh_info(endian) as usize)
            .map(|s| s.name)
            .ok_or_else(|| "a section group's signature symbol is out of range".to_string())?;
        groups.push(ComdatGroup {
            signature,
            sections: members.iter().map(|m| m.get(endian)).collect(),
        });
    }
    let mut relocations = Vec::new();
    for section in table.iter() {
        let rela = match section.sh_type(endian) {
            elf::SHT_RELA => true,
            elf::SHT_REL => false,
            _ => continue,
        };
        let target = section.sh_info(endian);
        if target == 0 || target as usize >= sections.len() {
            continue;
        }
        let entries = section.data(endian, data).map_err(malformed)?;
        relocations.push(Relocations {
            target,
            rela,
            entries: Cow::Borrowed(entries),
        });
    }
    Ok(Object {
        name,
        machine,
        sections,
        symbols,
        first_global,
        groups,
        relocations,
    })
}

/// The flags of a BFD section that decide where a link puts symbols and how `nm` shows
/// them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// `SEC_ALLOC`.
    pub alloc: bool,
    /// `SEC_LOAD`.
    pub load: bool,
    /// `SEC_READONLY`.
    pub readonly: bool,
    /// `SEC_CODE`.
    pub code: bool,
    /// `SEC_HAS_CONTENTS`.
    pub contents: bool,
    /// `SEC_THREAD_LOCAL`.
    pub tls: bool,
}

impl Flags {
    /// The BFD flags of an input section (`_bfd_elf_make_section_from_shdr`).
    pub fn of_input(section: &InputSection) -> Flags {
        let nobits = section.sh_type == elf::SHT_NOBITS;
        let alloc = section.sh_flags & u64::from(elf::SHF_ALLOC) != 0;
        Flags {
            alloc,
            load: alloc && !nobits,
            readonly: !section.is_writable(),
            code: section.sh_flags & u64::from(elf::SHF_EXECINSTR) != 0,
            contents: !nobits,
            tls: section.sh_flags & u64::from(elf::SHF_TLS) != 0,
        }
    }

    /// The flags of the `COMMON` section a final link allocates common symbols in.
    pub(crate) fn common() -> Flags {
        Flags {
            alloc: true,
            ..Flags::default()
        }
    }
}
