//! Target machines the table object can be written for.

use kslink_schema::DataLayout;
use object::{elf, Architecture, Endianness};

/// The relocations the GNU assembler of a target makes of `.long _text - . + N` (7.x's
/// place-relative `kallsyms_offsets` entries), checked against binutils 2.40.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaceRelativeReloc {
    /// One PC-relative 32-bit relocation against `_text` with addend `N`
    /// (`R_X86_64_PC32`, `R_386_PC32`, `R_AARCH64_PREL32`, `R_ARM_REL32`).
    Single(u32),
    /// A pair at the field (RISC-V, which resolves differences at link time): `add` against
    /// `_text` with addend `N`, then `sub` against a local label `.L0 ` at the field.
    AddSub {
        /// `R_RISCV_ADD32`.
        add: u32,
        /// `R_RISCV_SUB32`.
        sub: u32,
    },
    /// Not checked against this target's assembler: place-relative objects are refused.
    Unchecked,
}

/// What the object writer needs to know about a target.
#[derive(Clone, Copy, Debug)]
pub struct Arch {
    /// Name on the command line (`--arch`).
    pub name: &'static str,
    /// The `object` crate's architecture.
    pub architecture: Architecture,
    /// Byte order.
    pub big_endian: bool,
    /// Pointer size in bytes.
    pub pointer_bytes: u8,
    /// ELF relocation type of a pointer-sized absolute reference (`PTR _text + D`).
    pub pointer_reloc: u32,
    /// What a place-relative 32-bit reference to `_text` becomes.
    pub place_relative_reloc: PlaceRelativeReloc,
    /// ELF header flags the GNU assembler sets by default for the target.
    pub e_flags: u32,
}

impl Arch {
    /// Byte order and word size of tables for this target.
    pub fn layout(&self) -> DataLayout {
        DataLayout {
            pointer_bytes: self.pointer_bytes,
            big_endian: self.big_endian,
        }
    }

    /// The byte order as the `object` crate names it.
    pub fn endianness(&self) -> Endianness {
        if self.big_endian {
            Endianness::Big
        } else {
            Endianness::Little
        }
    }

    /// The target named `name`.
    pub fn by_name(name: &str) -> Option<&'static Arch> {
        ARCHES.iter().find(|arch| arch.name == name)
    }

    /// The names of all targets, for messages.
    pub fn names() -> Vec<&'static str> {
        ARCHES.iter().map(|arch| arch.name).collect()
    }

    /// The machine this program runs on, falling back to x86_64.
    pub fn host() -> &'static Arch {
        let name = match std::env::consts::ARCH {
            "x86" => "i386",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "powerpc" => "ppc",
            "loongarch64" => "loongarch64",
            other => other,
        };
        Arch::by_name(name).unwrap_or(&ARCHES[0])
    }
}

const fn arch(
    name: &'static str,
    architecture: Architecture,
    big_endian: bool,
    pointer_bytes: u8,
    pointer_reloc: u32,
    place_relative_reloc: PlaceRelativeReloc,
    e_flags: u32,
) -> Arch {
    Arch {
        name,
        architecture,
        big_endian,
        pointer_bytes,
        pointer_reloc,
        place_relative_reloc,
        e_flags,
    }
}

const RISCV_ADD_SUB: PlaceRelativeReloc = PlaceRelativeReloc::AddSub {
    add: elf::R_RISCV_ADD32,
    sub: elf::R_RISCV_SUB32,
};

/// Every supported target.
pub const ARCHES: &[Arch] = &[
    arch(
        "x86_64",
        Architecture::X86_64,
        false,
        8,
        elf::R_X86_64_64,
        PlaceRelativeReloc::Single(elf::R_X86_64_PC32),
        0,
    ),
    arch(
        "i386",
        Architecture::I386,
        false,
        4,
        elf::R_386_32,
        PlaceRelativeReloc::Single(elf::R_386_PC32),
        0,
    ),
    arch(
        "aarch64",
        Architecture::Aarch64,
        false,
        8,
        elf::R_AARCH64_ABS64,
        PlaceRelativeReloc::Single(elf::R_AARCH64_PREL32),
        0,
    ),
    arch(
        "aarch64_be",
        Architecture::Aarch64,
        true,
        8,
        elf::R_AARCH64_ABS64,
        PlaceRelativeReloc::Single(elf::R_AARCH64_PREL32),
        0,
    ),
    arch(
        "arm",
        Architecture::Arm,
        false,
        4,
        elf::R_ARM_ABS32,
        PlaceRelativeReloc::Single(elf::R_ARM_REL32),
        elf::EF_ARM_EABI_VER5 | elf::EF_ARM_ABI_FLOAT_HARD,
    ),
    arch(
        "armeb",
        Architecture::Arm,
        true,
        4,
        elf::R_ARM_ABS32,
        PlaceRelativeReloc::Single(elf::R_ARM_REL32),
        elf::EF_ARM_EABI_VER5,
    ),
    arch(
        "riscv64",
        Architecture::Riscv64,
        false,
        8,
        elf::R_RISCV_64,
        RISCV_ADD_SUB,
        elf::EF_RISCV_RVC | elf::EF_RISCV_FLOAT_ABI_DOUBLE,
    ),
    arch(
        "riscv32",
        Architecture::Riscv32,
        false,
        4,
        elf::R_RISCV_32,
        RISCV_ADD_SUB,
        elf::EF_RISCV_RVC | elf::EF_RISCV_FLOAT_ABI_DOUBLE,
    ),
    arch(
        "ppc64",
        Architecture::PowerPc64,
        true,
        8,
        elf::R_PPC64_ADDR64,
        PlaceRelativeReloc::Unchecked,
        1,
    ),
    arch(
        "ppc64le",
        Architecture::PowerPc64,
        false,
        8,
        elf::R_PPC64_ADDR64,
        PlaceRelativeReloc::Unchecked,
        2,
    ),
    arch(
        "ppc",
        Architecture::PowerPc,
        true,
        4,
        elf::R_PPC_ADDR32,
        PlaceRelativeReloc::Unchecked,
        0,
    ),
    arch(
        "s390x",
        Architecture::S390x,
        true,
        8,
        elf::R_390_64,
        PlaceRelativeReloc::Unchecked,
        0,
    ),
    arch(
        "loongarch64",
        Architecture::LoongArch64,
        false,
        8,
        elf::R_LARCH_64,
        PlaceRelativeReloc::Unchecked,
        0x43,
    ),
];
