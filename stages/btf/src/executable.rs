//! The BTF input view as pahole reads a linked vmlinux, made from vmlinux's link inputs
//! (vmlinux.o and the link's other objects) and the view's script ([`crate::view`]).
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
//! [`executable_view`] does what `ld -r` with the view's script does to the inputs, and then
//! gives the result a linked file's addresses:
//! - each input section goes where the first of the script's descriptions that matches its
//!   name sends it: nowhere (`/DISCARD/`, and its symbols with it), or the per-cpu section,
//!   laid out from the script's address by its commands (`. = ALIGN(n)`, input sections in
//!   link order or by descending alignment); every other section goes after the parts of the
//!   same name from earlier inputs, at its alignment, as `ld -r` concatenates them (so
//!   vmlinux.o's part of each debug section is at its start, and no string is merged);
//! - every other allocated output section follows the per-cpu section, in order, at its
//!   alignment, and never at address 0; each symbol's value is its section's address plus
//!   its offset;
//! - the symbol table holds each input's local symbols, then the global ones, each defined
//!   once (a strong definition over a weak one) and an undefined one only where no input
//!   defines it, in the order of a [`SymbolOrder`] where one is given;
//! - the relocations of every section that is not allocated (the debug information) are
//!   applied, `S + A` as the linker does; one against a discarded section stores 0, as
//!   `ld -r` drops it and leaves 0; every relocation section is left out (nothing that reads
//!   the view reads an allocated section's relocations);
//! - no section is allocated (SHF_ALLOC) and there are no program headers, so that a tool
//!   that rewrites the file (pahole's objcopy adding `.BTF`) has no segments to look for.
//!
//! One `ld -r` of the inputs with the view's script is an input like any other: its per-cpu
//! section starts where the script places it, which is where GNU ld left it.
//!
//! A view that needs more (a relocation type that is not a plain absolute address, a
//! relocation against a symbol no input defines, section groups, extended section indices,
//! compressed debug sections, a symbol defined twice) is an error: the caller links the
//! kernel's own way.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Write};

use object::elf;
use object::read::elf::{FileHeader, Rel, Rela, SectionHeader, SectionTable, Sym, SymbolTable};
use object::{Endian, Endianness, FileKind};

use crate::view::{Destination, PercpuCommand, ViewError, ViewScript, PERCPU_SECTION};
use kslink_linker_script::align_up;
use kslink_schema::fsio::AtomicFile;

/// The lowest address of an allocated section other than a zero-based per-cpu one, so
/// that an address 0 in the view's DWARF means what it means in a linked kernel: nothing
/// (a reference into a discarded section).
const FIRST_ADDRESS: u64 = 0x1000;

/// One relocatable input of the view: its bytes, its file and its name in messages.
#[derive(Clone, Copy, Debug)]
pub struct ViewInput<'d> {
    /// The file's bytes.
    pub data: &'d [u8],
    /// The file, which the view's unchanged sections are copied from.
    pub file: &'d File,
    /// The file, as messages name it.
    pub shown: &'d str,
}

/// The order of the view's global symbols. pahole names a per-cpu variable after one of
/// the symbols at its address, which one by their order in the symbol table, so the view
/// orders them as the linked file will: GNU ld writes its global symbols in the order of its
/// hash table, not of its inputs, and ld.lld writes hidden ones as local symbols, before the
/// others.
#[derive(Debug, Default)]
pub enum SymbolOrder<'o> {
    /// The inputs' order.
    #[default]
    Inputs,
    /// The order of a file's global symbols, by name (one `ld -r --strip-debug` of the
    /// inputs with the view's script): GNU ld's.
    File(HashMap<&'o [u8], usize>),
    /// Hidden definitions first, then the others, each in the inputs' order: ld.lld's.
    HiddenFirst,
}

impl<'o> SymbolOrder<'o> {
    /// The order of the global symbols of `data`, an ELF file shown as `shown`.
    pub fn of_file(data: &'o [u8], shown: &str) -> Result<SymbolOrder<'o>, ViewError> {
        use object::{Object, ObjectSymbol};
        let file = object::File::parse(data).map_err(|e| elf_error(shown, e))?;
        let mut rank = HashMap::new();
        for symbol in file.symbols().filter(|s| s.is_global()) {
            let name = symbol.name_bytes().map_err(|e| elf_error(shown, e))?;
            let next = rank.len();
            rank.entry(name).or_insert(next);
        }
        Ok(SymbolOrder::File(rank))
    }

    /// Where a global symbol named `name` with visibility `visibility` goes, before any of
    /// a greater rank: after every name of a file's order if it has none.
    fn rank(&self, name: &[u8], visibility: u8) -> usize {
        match self {
            SymbolOrder::Inputs => 0,
            SymbolOrder::File(rank) => rank.get(name).copied().unwrap_or(usize::MAX),
            SymbolOrder::HiddenFirst => {
                usize::from(!matches!(visibility, elf::STV_HIDDEN | elf::STV_INTERNAL))
            }
        }
    }
}

/// The executable view of `inputs`, in link order (vmlinux.o first), placed by `script`,
/// its global symbols in the order that `order` gives (the inputs' order for those it does
/// not name), asked for once the sections are relocated (a link that makes it may run
/// meanwhile): the bytes of the file to write, as pieces in order.
pub fn executable_view<'d, 'o>(
    inputs: &[ViewInput<'d>],
    script: &ViewScript,
    order: impl FnOnce() -> Result<SymbolOrder<'o>, ViewError>,
) -> Result<View<'d>, ViewError> {
    let Some(first) = inputs.first() else {
        return Err(ViewError::new(
            "the view needs at least one input".to_string(),
        ));
    };
    let kind = file_kind(first)?;
    for input in &inputs[1..] {
        if file_kind(input)? != kind {
            return Err(ViewError::new(format!(
                "{}: not of {}'s ELF class",
                input.shown, first.shown
            )));
        }
    }
    match kind {
        FileKind::Elf64 => convert::<elf::FileHeader64<Endianness>>(inputs, script, order),
        _ => convert::<elf::FileHeader32<Endianness>>(inputs, script, order),
    }
}

/// `input`'s ELF class, if it is an ELF file.
pub(crate) fn file_kind(input: &ViewInput<'_>) -> Result<FileKind, ViewError> {
    match FileKind::parse(input.data) {
        Ok(kind @ (FileKind::Elf64 | FileKind::Elf32)) => Ok(kind),
        _ => Err(ViewError::new(format!(
            "{}: not an ELF file (an object of vmlinux's link)",
            input.shown
        ))),
    }
}

/// The view's bytes: pieces of the input and rewritten parts, written in order.
pub struct View<'d> {
    pieces: Vec<Piece<'d>>,
}

enum Piece<'d> {
    /// An input's bytes, at `offset` in its `file`.
    Borrowed {
        bytes: &'d [u8],
        file: &'d File,
        offset: u64,
    },
    Owned(Vec<u8>),
    Padding(usize),
}

/// The size from which an input's bytes are copied by the kernel, not written from the map:
/// the debug strings, the code; not the many small sections of the exports' object.
const KERNEL_COPY: usize = 1 << 16;

impl Piece<'_> {
    fn len(&self) -> usize {
        match self {
            Piece::Borrowed { bytes, .. } => bytes.len(),
            Piece::Owned(bytes) => bytes.len(),
            Piece::Padding(len) => *len,
        }
    }
}

impl View<'_> {
    /// Writes the view to `out`.
    pub fn write_to(&self, out: &mut AtomicFile) -> std::io::Result<()> {
        for piece in &self.pieces {
            match piece {
                Piece::Borrowed {
                    bytes,
                    file,
                    offset,
                } if bytes.len() >= KERNEL_COPY => {
                    out.copy_range(file, *offset, bytes.len() as u64)?
                }
                Piece::Borrowed { bytes, .. } => out.write_all(bytes)?,
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
pub(crate) struct Fields {
    /// ELF64.
    pub(crate) wide: bool,
    /// The byte order.
    pub(crate) endian: Endianness,
}

impl Fields {
    /// The width of an address or offset.
    pub(crate) fn word(&self) -> usize {
        if self.wide {
            8
        } else {
            4
        }
    }

    /// Stores `value` in the field of `width` bytes at `at`.
    pub(crate) fn put(&self, bytes: &mut [u8], at: usize, width: usize, value: u64) {
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
    pub(crate) fn header(&self) -> (usize, usize, usize, usize, usize, usize) {
        if self.wide {
            (16, 32, 40, 56, 60, 62)
        } else {
            (16, 28, 32, 44, 48, 50)
        }
    }

    /// `sh_offset`'s offset in a section header (after `sh_name`, `sh_type`, `sh_flags` and
    /// `sh_addr`).
    pub(crate) fn section_offset(&self) -> usize {
        8 + 2 * self.word()
    }

    fn section_header_size(&self) -> usize {
        if self.wide {
            64
        } else {
            40
        }
    }

    /// A section header named at `name` in the section names, its contents at `offset`.
    fn section_header(&self, name: u64, offset: u64, shape: &SectionShape) -> Vec<u8> {
        let mut bytes = vec![0; self.section_header_size()];
        let w = self.word();
        // sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info,
        // sh_addralign, sh_entsize, in order.
        let values = [
            (4, name),
            (4, u64::from(shape.sh_type)),
            (w, shape.flags),
            (w, shape.address),
            (w, offset),
            (w, shape.size),
            (4, u64::from(shape.link)),
            (4, u64::from(shape.info)),
            (w, shape.align),
            (w, shape.entsize),
        ];
        let mut at = 0;
        for (width, value) in values {
            self.put(&mut bytes, at, width, value);
            at += width;
        }
        bytes
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

/// A section header's fields but its name and file offset.
struct SectionShape {
    sh_type: u32,
    flags: u64,
    address: u64,
    size: u64,
    link: u32,
    info: u32,
    align: u64,
    entsize: u64,
}

impl SectionShape {
    /// A string table of `size` bytes.
    fn strings(size: usize) -> SectionShape {
        SectionShape {
            sh_type: elf::SHT_STRTAB,
            flags: 0,
            address: 0,
            size: size as u64,
            link: 0,
            info: 0,
            align: 1,
            entsize: 0,
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

/// Where the view puts an input section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// Nowhere: read for the view (symbols, strings, relocations), or the null section.
    Read,
    /// Discarded by the script.
    Discarded,
    /// At `offset` in output section `out`.
    Placed { out: usize, offset: u64 },
}

/// A section of the view, gathered from input sections.
struct OutputSection<'d> {
    name: &'d [u8],
    sh_type: u32,
    flags: u64,
    align: u64,
    entsize: u64,
    size: u64,
    address: u64,
    /// `(input, section)` in the order they were placed.
    parts: Vec<(usize, usize)>,
}

/// A relocatable input, parsed.
struct Input<'d, Elf: FileHeader> {
    shown: &'d str,
    data: &'d [u8],
    file: &'d File,
    sections: SectionTable<'d, Elf, &'d [u8]>,
    symbols: SymbolTable<'d, Elf, &'d [u8]>,
    slots: Vec<Slot>,
}

/// What a symbol of an input stands for in the view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Value {
    /// An address (or an absolute value), and the view's section index for it.
    Defined { value: u64, shndx: u16 },
    /// Defined in a discarded section.
    Discarded,
    /// Not defined by this input.
    Undefined,
}

/// A global symbol's definition: the input and symbol that define it, and whether weakly.
#[derive(Clone, Copy)]
struct Definition {
    input: usize,
    symbol: usize,
    weak: bool,
}

/// `shown` is not an ELF file that can be read, as `err` says.
pub(crate) fn elf_error(shown: &str, err: object::read::Error) -> ViewError {
    ViewError::new(format!("{shown}: not a readable ELF file: {err}"))
}

fn is_read(sh_type: u32) -> bool {
    matches!(
        sh_type,
        elf::SHT_NULL | elf::SHT_SYMTAB | elf::SHT_STRTAB | elf::SHT_REL | elf::SHT_RELA
    )
}

/// The inputs parsed and placed: the view's sections, and where each input section is.
struct Gathered<'d, Elf: FileHeader> {
    endian: Endianness,
    machine: u16,
    fields: Fields,
    inputs: Vec<Input<'d, Elf>>,
    outputs: Vec<OutputSection<'d>>,
}

/// Each global symbol's definition, by name.
type Globals<'d> = HashMap<&'d [u8], Definition>;

/// The view's symbol table, its strings, and the index of its first global symbol.
struct SymbolTables {
    symbols: Vec<u8>,
    strings: Vec<u8>,
    first_global: usize,
}

fn convert<'d, 'o, Elf: FileHeader<Endian = Endianness>>(
    files: &[ViewInput<'d>],
    script: &ViewScript,
    order: impl FnOnce() -> Result<SymbolOrder<'o>, ViewError>,
) -> Result<View<'d>, ViewError> {
    let gathered = gather::<Elf>(files, script)?;
    let (values, globals) = symbol_values(&gathered)?;
    let relocated = relocate(&gathered, &values)?;
    let tables = symbol_tables(&gathered, &values, &globals, &order()?)?;
    write(&gathered, &files[0], tables, relocated)
}

/// `file`'s ELF header and byte order, if it is a relocatable file.
pub(crate) fn relocatable_header<'d, Elf: FileHeader<Endian = Endianness>>(
    file: &ViewInput<'d>,
) -> Result<(&'d Elf, Endianness), ViewError> {
    let header = Elf::parse(file.data).map_err(|e| elf_error(file.shown, e))?;
    let endian = header.endian().map_err(|e| elf_error(file.shown, e))?;
    if header.e_type(endian) != elf::ET_REL {
        return Err(ViewError::new(format!(
            "{}: not a relocatable file (the view is made from the objects of vmlinux's link)",
            file.shown
        )));
    }
    Ok((header, endian))
}

/// Each input parsed, its sections sent where `script` sends them and laid out.
fn gather<'d, Elf: FileHeader<Endian = Endianness>>(
    files: &[ViewInput<'d>],
    script: &ViewScript,
) -> Result<Gathered<'d, Elf>, ViewError> {
    let first = Elf::parse(files[0].data).map_err(|e| elf_error(files[0].shown, e))?;
    let endian = first.endian().map_err(|e| elf_error(files[0].shown, e))?;
    let machine = first.e_machine(endian);
    let fields = Fields {
        wide: first.is_class_64(),
        endian,
    };

    // Each input parsed, and its sections sent where the script sends them.
    let mut inputs: Vec<Input<'d, Elf>> = Vec::with_capacity(files.len());
    let mut outputs: Vec<OutputSection<'d>> = Vec::new();
    let mut by_name: HashMap<&'d [u8], usize> = HashMap::new();
    let percpu_commands = script.percpu.as_ref().map_or(0, |p| p.commands.len());
    let mut percpu_parts: Vec<Vec<(usize, usize)>> = vec![Vec::new(); percpu_commands];
    let mut percpu_out = None;
    for (number, file) in files.iter().enumerate() {
        let shown = file.shown;
        let (header, file_endian) = relocatable_header::<Elf>(file)?;
        if file_endian != endian || header.e_machine(endian) != machine {
            return Err(ViewError::new(format!(
                "{shown}: not for {}'s machine",
                files[0].shown
            )));
        }
        let sections = header
            .sections(endian, file.data)
            .map_err(|e| elf_error(shown, e))?;
        let symbols = sections
            .symbols(endian, file.data, elf::SHT_SYMTAB)
            .map_err(|e| elf_error(shown, e))?;
        if symbols.section().0 == 0 {
            return Err(ViewError::new(format!("{shown}: no symbol table")));
        }
        let mut slots = Vec::with_capacity(sections.len());
        for (index, section) in sections.iter().enumerate() {
            let sh_type = section.sh_type(endian);
            let name = sections
                .section_name(endian, section)
                .map_err(|e| elf_error(shown, e))?;
            let what = match sh_type {
                elf::SHT_GROUP => "a section group",
                elf::SHT_SYMTAB_SHNDX => "a table of extended section indices",
                _ => "",
            };
            if !what.is_empty() {
                return Err(ViewError::new(format!(
                    "{shown}: section {} is {what}, which kslink's view does not rewrite",
                    String::from_utf8_lossy(name)
                )));
            }
            if is_read(sh_type) {
                slots.push(Slot::Read);
                continue;
            }
            let out = match script.destination(name) {
                Some(Destination::Discard) => {
                    slots.push(Slot::Discarded);
                    continue;
                }
                Some(Destination::Percpu(command)) => {
                    percpu_parts[command].push((number, index));
                    *percpu_out.get_or_insert_with(|| {
                        outputs.push(OutputSection::new(PERCPU_SECTION));
                        outputs.len() - 1
                    })
                }
                None => *by_name.entry(name).or_insert_with(|| {
                    outputs.push(OutputSection::new(name));
                    outputs.len() - 1
                }),
            };
            let output = &mut outputs[out];
            output.flags |= section.sh_flags(endian).into();
            output.align = output.align.max(section.sh_addralign(endian).into());
            if output.parts.is_empty() {
                output.entsize = section.sh_entsize(endian).into();
            }
            if output.parts.is_empty() || sh_type != elf::SHT_NOBITS {
                output.sh_type = sh_type;
            }
            output.parts.push((number, index));
            slots.push(Slot::Placed { out, offset: 0 });
        }
        inputs.push(Input {
            shown,
            data: file.data,
            file: file.file,
            sections,
            symbols,
            slots,
        });
    }
    let size_of = |(input, section): (usize, usize)| -> (u64, u64) {
        let header = inputs[input]
            .sections
            .section(object::SectionIndex(section));
        let header = header.expect("an index of the table");
        (
            header.sh_size(endian).into(),
            header.sh_addralign(endian).into(),
        )
    };

    // The per-cpu section laid out from the script's address, the others concatenated.
    let mut offsets: Vec<((usize, usize), u64)> = Vec::new();
    if let (Some(out), Some(layout)) = (percpu_out, script.percpu.as_ref()) {
        let mut dot = layout.address;
        for (command, parts) in layout.commands.iter().zip(&mut percpu_parts) {
            match *command {
                PercpuCommand::Align(align) => dot = align_up(dot, align),
                PercpuCommand::Inputs { by_alignment } => {
                    if by_alignment {
                        parts.sort_by_key(|&part| std::cmp::Reverse(size_of(part).1));
                    }
                    for &part in parts.iter() {
                        let (size, align) = size_of(part);
                        dot = align_up(dot, align);
                        offsets.push((part, dot - layout.address));
                        dot += size;
                    }
                }
            }
        }
        outputs[out].parts = percpu_parts.concat();
        outputs[out].size = dot - layout.address;
        outputs[out].address = layout.address;
    }
    for (out, output) in outputs.iter_mut().enumerate() {
        if Some(out) == percpu_out {
            continue;
        }
        for &part in &output.parts {
            let (size, align) = size_of(part);
            let offset = align_up(output.size, align);
            offsets.push((part, offset));
            output.size = offset + size;
        }
    }
    for ((input, section), offset) in offsets {
        if let Slot::Placed { offset: at, .. } = &mut inputs[input].slots[section] {
            *at = offset;
        }
    }
    let percpu_end = percpu_out.map_or(0, |out| outputs[out].address + outputs[out].size);
    let mut next = percpu_end.max(FIRST_ADDRESS);
    for (out, output) in outputs.iter_mut().enumerate() {
        if Some(out) == percpu_out || output.flags & u64::from(elf::SHF_ALLOC) == 0 {
            continue;
        }
        output.address = align_up(next, output.align);
        next = output.address + output.size;
    }
    if outputs.len() + 4 >= usize::from(elf::SHN_LORESERVE) {
        return Err(ViewError::new(format!(
            "{}: the view would have {} sections, more than kslink's view numbers without extended indices",
            files[0].shown,
            outputs.len()
        )));
    }
    // A relocatable input's section that has an address (one `ld -r` of the inputs with
    // the view's script) must be where the script places it.
    for input in &inputs {
        for (index, section) in input.sections.iter().enumerate() {
            let linked: u64 = section.sh_addr(endian).into();
            if let Slot::Placed { out, offset } = input.slots[index] {
                let placed = outputs[out].address + offset;
                if linked != 0 && linked != placed {
                    return Err(ViewError::new(format!(
                        "{}: its {} is at {linked:#x}, where {} places it at {placed:#x}: link it with that script",
                        input.shown,
                        String::from_utf8_lossy(outputs[out].name),
                        script.file
                    )));
                }
            }
        }
    }

    Ok(Gathered {
        endian,
        machine,
        fields,
        inputs,
        outputs,
    })
}

/// What each input's symbols stand for in the view, and each global's definition.
fn symbol_values<'d, Elf: FileHeader<Endian = Endianness>>(
    gathered: &Gathered<'d, Elf>,
) -> Result<(Vec<Vec<Value>>, Globals<'d>), ViewError> {
    let (endian, inputs, outputs) = (gathered.endian, &gathered.inputs, &gathered.outputs);
    let mut values: Vec<Vec<Value>> = Vec::with_capacity(inputs.len());
    let mut globals: HashMap<&'d [u8], Definition> = HashMap::new();
    for (number, input) in inputs.iter().enumerate() {
        let shown = input.shown;
        let mut input_values = Vec::with_capacity(input.symbols.len());
        for (index, symbol) in input.symbols.symbols().iter().enumerate() {
            let shndx = symbol.st_shndx(endian);
            let st_value: u64 = symbol.st_value(endian).into();
            let value = match shndx {
                _ if index == 0 => Value::Defined {
                    value: 0,
                    shndx: 0,
                },
                elf::SHN_UNDEF => Value::Undefined,
                elf::SHN_XINDEX => {
                    return Err(ViewError::new(format!(
                        "{shown}: symbol {index} has an extended section index, which kslink's view does not rewrite"
                    )))
                }
                shndx if shndx >= elf::SHN_LORESERVE => Value::Defined {
                    value: st_value,
                    shndx,
                },
                shndx => match input.slots.get(usize::from(shndx)) {
                    Some(Slot::Discarded) => Value::Discarded,
                    Some(&Slot::Placed { out, offset }) => Value::Defined {
                        value: outputs[out].address + offset + st_value,
                        shndx: (out + 1) as u16,
                    },
                    _ => {
                        return Err(ViewError::new(format!(
                            "{shown}: symbol {index} is in section {shndx}, which the view does not place"
                        )))
                    }
                },
            };
            if symbol.st_bind() != elf::STB_LOCAL && value != Value::Undefined {
                let name = symbol
                    .name(endian, input.symbols.strings())
                    .map_err(|e| elf_error(shown, e))?;
                let weak = symbol.st_bind() == elf::STB_WEAK;
                let this = Definition {
                    input: number,
                    symbol: index,
                    weak,
                };
                match globals.get(name) {
                    None => {
                        globals.insert(name, this);
                    }
                    Some(earlier) if earlier.weak && !weak => {
                        globals.insert(name, this);
                    }
                    Some(earlier) if !earlier.weak && !weak => {
                        return Err(ViewError::new(format!(
                            "{shown}: symbol {} is defined in {} too",
                            String::from_utf8_lossy(name),
                            inputs[earlier.input].shown
                        )))
                    }
                    Some(_) => {}
                }
            }
            input_values.push(value);
        }
        values.push(input_values);
    }
    // An undefined symbol stands for its definition in another input.
    for (number, input) in inputs.iter().enumerate() {
        for (index, symbol) in input.symbols.symbols().iter().enumerate() {
            if values[number][index] != Value::Undefined {
                continue;
            }
            let name = symbol
                .name(endian, input.symbols.strings())
                .map_err(|e| elf_error(input.shown, e))?;
            if let Some(definition) = globals.get(name) {
                values[number][index] = values[definition.input][definition.symbol];
            }
        }
    }

    Ok((values, globals))
}

/// The view's symbol table and its strings.
fn symbol_tables<'d, Elf: FileHeader<Endian = Endianness>>(
    gathered: &Gathered<'d, Elf>,
    values: &[Vec<Value>],
    globals: &Globals<'d>,
    order: &SymbolOrder<'_>,
) -> Result<SymbolTables, ViewError> {
    let (endian, fields, inputs) = (gathered.endian, &gathered.fields, &gathered.inputs);
    // Locals of each input, then the globals; the strings are the inputs' string tables one
    // after another.
    let entsize = std::mem::size_of::<Elf::Sym>();
    let (value_at, shndx_at) = fields.symbol();
    let mut symtab = vec![0u8; entsize];
    let mut strtab: Vec<u8> = Vec::new();
    let mut string_bases = Vec::with_capacity(inputs.len());
    for input in inputs {
        string_bases.push(strtab.len() as u64);
        strtab.extend_from_slice(string_table::<Elf>(input, endian)?);
    }
    let emit = |symtab: &mut Vec<u8>, number: usize, index: usize, symbol: &Elf::Sym| {
        let start = symtab.len();
        symtab.extend_from_slice(object::pod::bytes_of(symbol));
        let name = u64::from(symbol.st_name(endian)) + string_bases[number];
        fields.put(symtab, start, 4, name);
        // A symbol no input defines is written as it is, undefined.
        if let Value::Defined { value, shndx } = values[number][index] {
            fields.put(symtab, start + value_at, fields.word(), value);
            fields.put(symtab, start + shndx_at, 2, u64::from(shndx));
        }
    };
    for (number, input) in inputs.iter().enumerate() {
        for (index, symbol) in input.symbols.symbols().iter().enumerate().skip(1) {
            if symbol.st_bind() == elf::STB_LOCAL && values[number][index] != Value::Discarded {
                emit(&mut symtab, number, index, symbol);
            }
        }
    }
    let first_global = symtab.len() / entsize;
    let mut undefined: HashSet<&[u8]> = HashSet::new();
    let mut kept_globals = Vec::new();
    for (number, input) in inputs.iter().enumerate() {
        for (index, symbol) in input.symbols.symbols().iter().enumerate().skip(1) {
            if symbol.st_bind() == elf::STB_LOCAL {
                continue;
            }
            let name = symbol
                .name(endian, input.symbols.strings())
                .map_err(|e| elf_error(input.shown, e))?;
            let wanted = match globals.get(name) {
                Some(definition) => definition.input == number && definition.symbol == index,
                None => undefined.insert(name),
            };
            if wanted && values[number][index] != Value::Discarded {
                kept_globals.push((
                    order.rank(name, symbol.st_visibility()),
                    number,
                    index,
                    symbol,
                ));
            }
        }
    }
    kept_globals.sort_by_key(|&(rank, ..)| rank);
    for (_, number, index, symbol) in kept_globals {
        emit(&mut symtab, number, index, symbol);
    }

    Ok(SymbolTables {
        symbols: symtab,
        strings: strtab,
        first_global,
    })
}

/// The debug sections' parts, relocated, by (input, section).
fn relocate<'d, Elf: FileHeader<Endian = Endianness>>(
    gathered: &Gathered<'d, Elf>,
    values: &[Vec<Value>],
) -> Result<HashMap<(usize, usize), Vec<u8>>, ViewError> {
    let (endian, machine, fields) = (gathered.endian, gathered.machine, &gathered.fields);
    let (inputs, outputs) = (&gathered.inputs, &gathered.outputs);
    let mut relocated: HashMap<(usize, usize), Vec<u8>> = HashMap::new();
    for (number, input) in inputs.iter().enumerate() {
        let shown = input.shown;
        let symtab_index = input.symbols.section().0;
        for section in input.sections.iter() {
            if !matches!(section.sh_type(endian), elf::SHT_REL | elf::SHT_RELA) {
                continue;
            }
            let target = section.sh_info(endian) as usize;
            let Some(Slot::Placed { out, .. }) = input.slots.get(target).copied() else {
                continue;
            };
            if outputs[out].flags & u64::from(elf::SHF_ALLOC) != 0 {
                continue;
            }
            let target_header = input
                .sections
                .section(object::SectionIndex(target))
                .map_err(|e| elf_error(shown, e))?;
            let target_name = String::from_utf8_lossy(outputs[out].name);
            if section.sh_link(endian) as usize != symtab_index {
                return Err(ViewError::new(format!(
                    "{shown}: the relocations of {target_name} are not against the symbol table"
                )));
            }
            if target_header.sh_flags(endian).into() & u64::from(elf::SHF_COMPRESSED) != 0 {
                return Err(ViewError::new(format!(
                    "{shown}: {target_name} is compressed, which kslink's view does not relocate"
                )));
            }
            let bytes = match relocated.entry((number, target)) {
                std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::hash_map::Entry::Vacant(entry) => entry.insert(
                    target_header
                        .data(endian, input.data)
                        .map_err(|e| elf_error(shown, e))?
                        .to_vec(),
                ),
            };
            // (offset, symbol, type, addend: None where the field holds it)
            let records: Box<dyn Iterator<Item = (u64, u32, u32, Option<i64>)>> =
                if let Some((rela, _)) = section
                    .rela(endian, input.data)
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
                        .rel(endian, input.data)
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
                let (value, addend) = match values[number].get(sym as usize) {
                    Some(Value::Defined { value, .. }) => (Some(*value), addend),
                    // `ld -r` drops it, and the field stays as the compiler left it: 0 with
                    // an explicit addend, the addend with an implicit one.
                    Some(Value::Discarded) if addend.is_none() => continue,
                    Some(Value::Discarded) => (Some(0), Some(0)),
                    _ => (None, addend),
                };
                apply(fields, machine, bytes, offset, r_type, value, addend).map_err(|why| {
                    ViewError::new(format!("{shown}: {target_name} at {offset:#x}: {why}"))
                })?;
            }
        }
    }

    Ok(relocated)
}

/// The view's bytes: the first input's header made an executable's, the sections' contents
/// in order, the symbol and string tables, the section headers.
fn write<'d, Elf: FileHeader<Endian = Endianness>>(
    gathered: &Gathered<'d, Elf>,
    first_file: &ViewInput<'d>,
    tables: SymbolTables,
    mut relocated: HashMap<(usize, usize), Vec<u8>>,
) -> Result<View<'d>, ViewError> {
    let (endian, fields) = (gathered.endian, &gathered.fields);
    let (inputs, outputs) = (&gathered.inputs, &gathered.outputs);
    let SymbolTables {
        symbols: symtab,
        strings: strtab,
        first_global,
    } = tables;
    let section_count = outputs.len();
    let entsize = std::mem::size_of::<Elf::Sym>();
    let first = Elf::parse(first_file.data).map_err(|e| elf_error(first_file.shown, e))?;
    let ehsize = usize::from(first.e_ehsize(endian));
    let mut head = first_file
        .data
        .get(..ehsize)
        .ok_or_else(|| {
            ViewError::new(format!("{}: the ELF header is cut short", first_file.shown))
        })?
        .to_vec();
    let word = fields.word();
    let mut pieces = vec![Piece::Padding(0)];
    let mut position = ehsize;
    let mut headers = SectionHeaders {
        names: vec![0],
        table: vec![0; fields.section_header_size()],
    };
    for output in outputs {
        let shape = SectionShape {
            sh_type: output.sh_type,
            flags: output.flags
                & !u64::from(
                    elf::SHF_ALLOC | elf::SHF_LINK_ORDER | elf::SHF_INFO_LINK | elf::SHF_GROUP,
                ),
            address: output.address,
            size: output.size,
            link: 0,
            info: 0,
            align: output.align,
            entsize: output.entsize,
        };
        if output.sh_type == elf::SHT_NOBITS {
            headers.add(fields, output.name, &shape, position);
            continue;
        }
        let start = align_up(position as u64, output.align) as usize;
        pieces.push(Piece::Padding(start - position));
        let mut filled = 0u64;
        for &(number, index) in &output.parts {
            let input = &inputs[number];
            let Slot::Placed { offset, .. } = input.slots[index] else {
                unreachable!("a part is placed")
            };
            let header = input
                .sections
                .section(object::SectionIndex(index))
                .map_err(|e| elf_error(input.shown, e))?;
            pieces.push(Piece::Padding((offset - filled) as usize));
            let contents = if let Some(bytes) = relocated.remove(&(number, index)) {
                Piece::Owned(bytes)
            } else if header.sh_type(endian) == elf::SHT_NOBITS {
                Piece::Padding(header.sh_size(endian).into() as usize)
            } else {
                Piece::Borrowed {
                    bytes: header
                        .data(endian, input.data)
                        .map_err(|e| elf_error(input.shown, e))?,
                    file: input.file,
                    offset: header.sh_offset(endian).into(),
                }
            };
            filled = offset + contents.len() as u64;
            pieces.push(contents);
        }
        pieces.push(Piece::Padding((output.size - filled) as usize));
        headers.add(fields, output.name, &shape, start);
        position = start + output.size as usize;
    }
    let symtab_start = position.div_ceil(word) * word;
    pieces.push(Piece::Padding(symtab_start - position));
    let symtab_size = symtab.len();
    let strtab_index = section_count + 2;
    headers.add(
        fields,
        b".symtab",
        &SectionShape {
            sh_type: elf::SHT_SYMTAB,
            flags: 0,
            address: 0,
            size: symtab_size as u64,
            link: strtab_index as u32,
            info: first_global as u32,
            align: word as u64,
            entsize: entsize as u64,
        },
        symtab_start,
    );
    pieces.push(Piece::Owned(symtab));
    position = symtab_start + symtab_size;
    let strtab_size = strtab.len();
    headers.add(
        fields,
        b".strtab",
        &SectionShape::strings(strtab_size),
        position,
    );
    pieces.push(Piece::Owned(strtab));
    position += strtab_size;
    let shstrtab_name = b".shstrtab";
    let shstrtab_size = headers.names.len() + shstrtab_name.len() + 1;
    headers.add(
        fields,
        shstrtab_name,
        &SectionShape::strings(shstrtab_size),
        position,
    );
    position += shstrtab_size;
    pieces.push(Piece::Owned(std::mem::take(&mut headers.names)));
    let shoff = position.div_ceil(word) * word;
    pieces.push(Piece::Padding(shoff - position));
    let (type_at, phoff_at, shoff_at, phnum_at, shnum_at, shstrndx_at) = fields.header();
    fields.put(&mut head, type_at, 2, u64::from(elf::ET_EXEC));
    fields.put(&mut head, phoff_at, word, 0);
    fields.put(&mut head, shoff_at, word, shoff as u64);
    fields.put(&mut head, phnum_at, 2, 0);
    fields.put(&mut head, shnum_at, 2, (section_count + 4) as u64);
    fields.put(&mut head, shstrndx_at, 2, (section_count + 3) as u64);
    pieces[0] = Piece::Owned(head);
    pieces.push(Piece::Owned(headers.table));
    Ok(View { pieces })
}

/// The view's section headers and their names, as they are added.
struct SectionHeaders {
    names: Vec<u8>,
    table: Vec<u8>,
}

impl SectionHeaders {
    fn add(&mut self, fields: &Fields, name: &[u8], shape: &SectionShape, offset: usize) {
        let name_at = self.names.len() as u64;
        self.names.extend_from_slice(name);
        self.names.push(0);
        self.table
            .extend(fields.section_header(name_at, offset as u64, shape));
    }
}

impl<'d> OutputSection<'d> {
    fn new(name: &'d [u8]) -> OutputSection<'d> {
        OutputSection {
            name,
            sh_type: elf::SHT_PROGBITS,
            flags: 0,
            align: 1,
            entsize: 0,
            size: 0,
            address: 0,
            parts: Vec::new(),
        }
    }
}

/// The string table of an input's symbol table.
fn string_table<'d, Elf: FileHeader<Endian = Endianness>>(
    input: &Input<'d, Elf>,
    endian: Endianness,
) -> Result<&'d [u8], ViewError> {
    let link = input.symbols.string_section();
    input
        .sections
        .section(link)
        .and_then(|s| s.data(endian, input.data))
        .map_err(|e| elf_error(input.shown, e))
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
