//! `KallsymsTable`: the kernel's symbol table as bytes, with the layout later stages need.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Artifact, ArtifactKind};

/// One of the arrays the kernel's `kernel/kallsyms.c` reads, each behind a global label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ArrayKind {
    /// `kallsyms_num_syms`: u32 symbol count.
    NumSyms,
    /// `kallsyms_names`: length-prefixed compressed names in address order.
    Names,
    /// `kallsyms_markers`: u32 offset into the names of every 256th symbol.
    Markers,
    /// `kallsyms_token_table`: 256 NUL-terminated token expansions.
    TokenTable,
    /// `kallsyms_token_index`: u16 offset of each token in the token table.
    TokenIndex,
    /// `kallsyms_offsets`: 32 bits per symbol: relative to the relative base (6.1, 6.12), to
    /// the entry's own address (7.x with `--pc-relative`), or the address (7.x without).
    Offsets,
    /// `kallsyms_addresses`: a pointer per symbol (6.1 without base-relative).
    Addresses,
    /// `kallsyms_relative_base`: the pointer the offsets are relative to.
    RelativeBase,
    /// `kallsyms_seqs_of_names`: 3-byte big-endian address-order index per symbol in name
    /// order.
    SeqsOfNames,
}

impl ArrayKind {
    /// Every array kind.
    pub const ALL: [ArrayKind; 9] = [
        ArrayKind::NumSyms,
        ArrayKind::Names,
        ArrayKind::Markers,
        ArrayKind::TokenTable,
        ArrayKind::TokenIndex,
        ArrayKind::Offsets,
        ArrayKind::Addresses,
        ArrayKind::RelativeBase,
        ArrayKind::SeqsOfNames,
    ];

    /// The global label the kernel refers to the array by.
    pub fn label(self) -> &'static str {
        match self {
            ArrayKind::NumSyms => "kallsyms_num_syms",
            ArrayKind::Names => "kallsyms_names",
            ArrayKind::Markers => "kallsyms_markers",
            ArrayKind::TokenTable => "kallsyms_token_table",
            ArrayKind::TokenIndex => "kallsyms_token_index",
            ArrayKind::Offsets => "kallsyms_offsets",
            ArrayKind::Addresses => "kallsyms_addresses",
            ArrayKind::RelativeBase => "kallsyms_relative_base",
            ArrayKind::SeqsOfNames => "kallsyms_seqs_of_names",
        }
    }

    /// The array whose label is `label`.
    pub fn from_label(label: &str) -> Option<ArrayKind> {
        Self::ALL.into_iter().find(|kind| kind.label() == label)
    }

    /// Whether the array's size depends on the symbols (their number, names, or the tokens
    /// compression picks), so that a table made from a prediction can differ from the final
    /// one there. `kallsyms_num_syms`, `kallsyms_token_index` and `kallsyms_relative_base`
    /// have a fixed size.
    pub fn size_depends_on_symbols(self) -> bool {
        !matches!(
            self,
            ArrayKind::NumSyms | ArrayKind::TokenIndex | ArrayKind::RelativeBase
        )
    }
}

/// Where one array sits in [`KallsymsTable::data`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableArray {
    /// Which array.
    pub kind: ArrayKind,
    /// Byte offset of its label from the start of the table.
    pub offset: u64,
    /// Bytes of content (padding to the next array's alignment excluded).
    pub size: u64,
}

/// How a field refers to `_text + addend`, and so which relocation the linker resolves it by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TextReference {
    /// A pointer-sized field holding `_text + addend` (`PTR _text + D`: 6.1's addresses,
    /// the relative base). The table's data holds that value.
    Pointer,
    /// A 32-bit field holding `_text + addend - .`, the distance from the field's own
    /// address (`.long _text - . + D`: 7.x's `kallsyms_offsets` with `--pc-relative`). The
    /// table's data holds `addend` (as a 32-bit signed value): the field's address is known
    /// only where the table is placed.
    PlaceRelative,
}

/// A field whose value derives from `_text + addend`, left to the linker as a relocation
/// against the undefined symbol `_text`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextRelocation {
    /// Byte offset of the field from the start of the table.
    pub offset: u64,
    /// The signed distance from `_text`.
    pub addend: i64,
    /// How the field refers to `_text + addend`.
    pub reference: TextReference,
}

impl TextRelocation {
    /// The field's width in bytes in a table of `layout`.
    pub fn width(&self, layout: DataLayout) -> usize {
        match self.reference {
            TextReference::Pointer => layout.pointer_bytes as usize,
            TextReference::PlaceRelative => 4,
        }
    }
}

/// The options upstream's `scripts/kallsyms` takes, which change the table's content.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableOptions {
    /// `--all-symbols` (CONFIG_KALLSYMS_ALL): keep symbols outside the text ranges.
    pub all_symbols: bool,
    /// `--absolute-percpu` (CONFIG_KALLSYMS_ABSOLUTE_PERCPU).
    pub absolute_percpu: bool,
    /// `--base-relative` (6.1's CONFIG_KALLSYMS_BASE_RELATIVE).
    pub base_relative: bool,
    /// `--lto-clang` (6.1's CONFIG_LTO_CLANG): name order ignores `.llvm.` suffixes.
    pub lto_clang: bool,
    /// `--pc-relative` (7.x, with CONFIG_64BIT or CONFIG_RELOCATABLE): each
    /// `kallsyms_offsets` entry is its symbol's distance from the entry's own address;
    /// without it a 7.x entry is the symbol's address, truncated to 32 bits.
    pub pc_relative: bool,
}

/// The byte order and word size the table's integers are written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataLayout {
    /// Pointer size in bytes: 4 or 8. Arrays are aligned to it.
    pub pointer_bytes: u8,
    /// Big-endian target.
    pub big_endian: bool,
}

/// Words in the target's byte order: the one home of byte order and word size for every
/// stage that reads or writes a table, a relocation record or an ELF field.
impl DataLayout {
    /// `value` as a pointer-sized word, truncated to 32 bits on a 32-bit target (two's
    /// complement, so a negative addend stays negative).
    pub fn encode_pointer(self, value: u64) -> Vec<u8> {
        match (self.pointer_bytes, self.big_endian) {
            (8, false) => value.to_le_bytes().to_vec(),
            (8, true) => value.to_be_bytes().to_vec(),
            (_, false) => (value as u32).to_le_bytes().to_vec(),
            (_, true) => (value as u32).to_be_bytes().to_vec(),
        }
    }

    /// The pointer-sized word at the start of `bytes`, if they hold one.
    pub fn decode_pointer(self, bytes: &[u8]) -> Option<u64> {
        if self.pointer_bytes == 8 {
            let word = bytes.get(..8)?.try_into().ok()?;
            Some(if self.big_endian {
                u64::from_be_bytes(word)
            } else {
                u64::from_le_bytes(word)
            })
        } else {
            self.decode_u32(bytes).map(u64::from)
        }
    }

    /// `value` cut to the pointer width, as a pointer field holds it.
    pub fn truncate_pointer(self, value: u64) -> u64 {
        if self.pointer_bytes == 8 {
            value
        } else {
            value & 0xffff_ffff
        }
    }

    /// The 32-bit word at the start of `bytes`, if they hold one.
    pub fn decode_u32(self, bytes: &[u8]) -> Option<u32> {
        let word = bytes.get(..4)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(word)
        } else {
            u32::from_le_bytes(word)
        })
    }

    /// The 16-bit word at the start of `bytes`, if they hold one.
    pub fn decode_u16(self, bytes: &[u8]) -> Option<u16> {
        let word = bytes.get(..2)?.try_into().ok()?;
        Some(if self.big_endian {
            u16::from_be_bytes(word)
        } else {
            u16::from_le_bytes(word)
        })
    }

    /// `value` as a 32-bit word.
    pub fn encode_u32(self, value: u32) -> [u8; 4] {
        if self.big_endian {
            value.to_be_bytes()
        } else {
            value.to_le_bytes()
        }
    }

    /// `value` as a 16-bit word.
    pub fn encode_u16(self, value: u16) -> [u8; 2] {
        if self.big_endian {
            value.to_be_bytes()
        } else {
            value.to_le_bytes()
        }
    }

    /// Where the addend sits in an `Elf32_Rela`/`Elf64_Rela` record: after `r_offset` and
    /// `r_info`, two pointer-sized words.
    pub fn rela_addend_offset(self) -> u64 {
        2 * u64::from(self.pointer_bytes)
    }
}

impl fmt::Display for DataLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let order = if self.big_endian {
            "big-endian"
        } else {
            "little-endian"
        };
        write!(f, "{}-byte pointers, {order}", self.pointer_bytes)
    }
}

/// A kallsyms table: the bytes of the kernel's `.rodata` arrays and how they are laid out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KallsymsTable {
    /// The kernel-version profile it was built for (`linux-6.12`, `linux-6.1`).
    pub profile: String,
    /// The generator options it was built with.
    pub options: TableOptions,
    /// Byte order and word size.
    pub layout: DataLayout,
    /// Number of symbols (`kallsyms_num_syms`).
    pub num_syms: u32,
    /// The address of `_text` in the symbols the table was built from.
    pub text_address: u64,
    /// The relative base (0 where the layout has none).
    pub relative_base: u64,
    /// The table's bytes from the first array's label on, alignment padding included.
    /// Fields listed in `text_relocations` hold `_text + addend` ([`TextReference::Pointer`])
    /// or `addend` ([`TextReference::PlaceRelative`]).
    /// A table laid out in a frame ([`crate::PadSpec`]) holds the whole frame: each array at
    /// its reserved offset, zero bytes from the end of its content to the end of its room.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// The arrays in the order they appear in `data`, each with the size of its content
    /// (in a frame too: the room is the frame's).
    pub arrays: Vec<TableArray>,
    /// Fields that the linker resolves.
    pub text_relocations: Vec<TextRelocation>,
    /// The 256 token expansions (an unused slot is empty).
    pub tokens: Vec<serde_bytes::ByteBuf>,
}

impl Artifact for KallsymsTable {
    const KIND: ArtifactKind = ArtifactKind::KallsymsTable;
}

impl KallsymsTable {
    /// The array of the given kind, if the table's layout has it.
    pub fn array(&self, kind: ArrayKind) -> Option<&TableArray> {
        self.arrays.iter().find(|array| array.kind == kind)
    }

    /// The bytes of an array's content.
    pub fn array_bytes(&self, kind: ArrayKind) -> Option<&[u8]> {
        self.array(kind)
            .map(|array| &self.data[array.offset as usize..(array.offset + array.size) as usize])
    }
}
