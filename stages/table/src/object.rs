//! The table as an ELF relocatable object, written directly: the same `.rodata` bytes,
//! global labels and relocations that `gcc -c` makes of upstream's `.S`.

use std::io::Write;

use kslink_schema::KallsymsTable;
use object::write::{Object, Relocation, StandardSection, Symbol, SymbolSection};
use object::{elf, BinaryFormat, FileFlags, RelocationFlags, SymbolFlags, SymbolKind, SymbolScope};

use crate::arch::Arch;

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

/// Writes `table` as a relocatable object for `arch`.
///
/// Each pointer to `_text + D` becomes a relocation against the undefined symbol `_text`
/// with addend `D`: explicit on RELA targets (the field is zero, as the assembler leaves
/// it), in the field on REL targets (i386, arm). An empty `.note.GNU-stack` keeps linkers
/// from assuming an executable stack.
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
        data[field..field + arch.pointer_bytes as usize].fill(0);
    }
    obj.set_section_data(rodata, data, arch.pointer_bytes as u64);
    let note = obj.add_section(
        Vec::new(),
        b".note.GNU-stack".to_vec(),
        object::SectionKind::Note,
    );
    obj.section_mut(note).flags = object::SectionFlags::Elf { sh_flags: 0 };

    for array in &table.arrays {
        obj.add_symbol(global_notype(
            array.kind.label(),
            SymbolSection::Section(rodata),
            array.offset,
        ));
    }
    if !table.text_relocations.is_empty() {
        let text = obj.add_symbol(global_notype("_text", SymbolSection::Undefined, 0));
        for relocation in &table.text_relocations {
            obj.add_relocation(
                rodata,
                Relocation {
                    offset: relocation.offset,
                    symbol: text,
                    addend: relocation.addend,
                    flags: RelocationFlags::Elf {
                        r_type: arch.pointer_reloc,
                    },
                },
            )?;
        }
    }
    obj.write_stream(out)
}
