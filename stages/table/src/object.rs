//! The table as an ELF relocatable object, written directly: the same `.rodata` bytes,
//! global labels and relocations that `gcc -c` makes of upstream's `.S`.

use std::io::Write;

use kslink_schema::{KallsymsTable, TextReference};
use object::write::{Object, Relocation, StandardSection, Symbol, SymbolSection};
use object::{elf, BinaryFormat, FileFlags, RelocationFlags, SymbolFlags, SymbolKind, SymbolScope};

use crate::arch::{Arch, PlaceRelativeReloc};
use crate::profile::Profile;

fn global_notype(name: &str, section: SymbolSection, value: u64) -> Symbol {
    Symbol {
        name: name.as_bytes().to_vec(),
        value,
        size: 0,
        kind: SymbolKind::Unknown,
        scope: SymbolScope::Dynamic,
        weak: false,
        section,
        flags: SymbolFlags::Elf {
            st_info: (elf::STB_GLOBAL << 4) | elf::STT_NOTYPE,
            st_other: elf::STV_DEFAULT,
        },
    }
}

fn local_label(name: &str, section: object::write::SectionId, value: u64) -> Symbol {
    Symbol {
        name: name.as_bytes().to_vec(),
        value,
        size: 0,
        kind: SymbolKind::Label,
        scope: SymbolScope::Compilation,
        weak: false,
        section: SymbolSection::Section(section),
        flags: SymbolFlags::Elf {
            st_info: (elf::STB_LOCAL << 4) | elf::STT_NOTYPE,
            st_other: elf::STV_DEFAULT,
        },
    }
}

/// Writes `table` as a relocatable object for `arch`.
///
/// Each pointer to `_text + D` becomes a relocation against the undefined symbol `_text`
/// with addend `D`: explicit on RELA targets (the field is zero, as the assembler leaves
/// it), in the field on REL targets (i386, arm). A place-relative entry (`.long _text - . +
/// D`) becomes what the target's assembler makes of it ([`PlaceRelativeReloc`]); a target
/// whose assembler was not checked is an error. `.rodata` is aligned as the profile aligns
/// its arrays, and the labels the profile's `.S` sizes get their content's size. An empty
/// `.note.GNU-stack` keeps linkers from assuming an executable stack.
pub fn write_object<W: Write>(
    table: &KallsymsTable,
    arch: &Arch,
    out: W,
) -> Result<(), Box<dyn std::error::Error>> {
    if table.layout != arch.layout() {
        return Err(format!(
            "the table was built for {}-byte pointers, {}; {} has {}-byte pointers, {}",
            table.layout.pointer_bytes,
            if table.layout.big_endian {
                "big-endian"
            } else {
                "little-endian"
            },
            arch.name,
            arch.pointer_bytes,
            if arch.big_endian {
                "big-endian"
            } else {
                "little-endian"
            },
        )
        .into());
    }
    let profile = Profile::by_name(&table.profile).ok_or_else(|| {
        format!(
            "the table is a {} table, a profile this kslink-table does not know ({})",
            table.profile,
            Profile::names().join(", ")
        )
    })?;
    let place_relative = table
        .text_relocations
        .iter()
        .any(|relocation| relocation.reference == TextReference::PlaceRelative);
    if place_relative && arch.place_relative_reloc == PlaceRelativeReloc::Unchecked {
        return Err(format!(
            "cannot write a {} object with place-relative kallsyms_offsets (--pc-relative): \
             its assembler's relocations for them are unchecked; use --emit-asm and assemble it",
            arch.name
        )
        .into());
    }
    let mut obj = Object::new(BinaryFormat::Elf, arch.architecture, arch.endianness());
    obj.flags = FileFlags::Elf {
        os_abi: elf::ELFOSABI_NONE,
        abi_version: 0,
        e_flags: arch.e_flags,
    };
    let rodata = obj.section_id(StandardSection::ReadOnlyData);
    let mut data = table.data.clone();
    for relocation in &table.text_relocations {
        let field = relocation.offset as usize;
        data[field..field + relocation.width(table.layout)].fill(0);
    }
    obj.set_section_data(rodata, data, profile.alignment(table.layout));
    let note = obj.add_section(
        Vec::new(),
        b".note.GNU-stack".to_vec(),
        object::SectionKind::Note,
    );
    obj.section_mut(note).flags = object::SectionFlags::Elf { sh_flags: 0 };

    for array in &table.arrays {
        let mut label = global_notype(
            array.kind.label(),
            SymbolSection::Section(rodata),
            array.offset,
        );
        if profile.sized_arrays.contains(&array.kind) {
            label.size = array.size;
        }
        obj.add_symbol(label);
    }
    if !table.text_relocations.is_empty() {
        let text = obj.add_symbol(global_notype("_text", SymbolSection::Undefined, 0));
        let relocation_to = |offset, symbol, addend, r_type| Relocation {
            offset,
            symbol,
            addend,
            flags: RelocationFlags::Elf { r_type },
        };
        for relocation in &table.text_relocations {
            let (offset, addend) = (relocation.offset, relocation.addend);
            match (relocation.reference, arch.place_relative_reloc) {
                (TextReference::Pointer, _) => obj.add_relocation(
                    rodata,
                    relocation_to(offset, text, addend, arch.pointer_reloc),
                )?,
                (TextReference::PlaceRelative, PlaceRelativeReloc::Single(r_type)) => {
                    obj.add_relocation(rodata, relocation_to(offset, text, addend, r_type))?
                }
                (TextReference::PlaceRelative, PlaceRelativeReloc::AddSub { add, sub }) => {
                    // The assembler's label for `.` at the field, named as GNU as names
                    // its temporary labels.
                    let place = obj.add_symbol(local_label(".L0 ", rodata, offset));
                    obj.add_relocation(rodata, relocation_to(offset, text, addend, add))?;
                    obj.add_relocation(rodata, relocation_to(offset, place, 0, sub))?;
                }
                (TextReference::PlaceRelative, PlaceRelativeReloc::Unchecked) => {
                    unreachable!("refused above")
                }
            }
        }
    }
    obj.write_stream(out)
}
