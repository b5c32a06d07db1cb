//! `TableLocation`: where a linked file holds its table; `PatchReport`: what a patch wrote.

use serde::{Deserialize, Serialize};

use crate::{ArrayKind, Artifact, ArtifactKind, DataLayout, TextReference};

/// One array of the table as the linked file holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocatedArray {
    /// Which array.
    pub kind: ArrayKind,
    /// The address of its label in the linked image.
    pub address: u64,
    /// The file offset of that address.
    pub file_offset: u64,
    /// Bytes reserved for it (its `PadSpec` room), all inside one section's file contents.
    pub room: u64,
}

/// A relocation record kept in the linked file for a table field resolved against `_text`
/// (a pointer, or a 7.x place-relative offset): patching the field's value must keep the
/// record consistent.
///
/// Such records are the ones `ld --emit-relocs` keeps (in a non-allocated relocation section
/// of the table's section), and, in a position-independent file, the dynamic ones the loader
/// applies (`R_*_RELATIVE`, which refer to no symbol).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocatedRelocation {
    /// The address of the field the record relocates.
    pub field_address: u64,
    /// The file offset of the record itself in its relocation section.
    pub record_offset: u64,
    /// True for a RELA record (addend in the record), false for REL (addend in the field).
    pub rela: bool,
    /// The value of the symbol the record refers to (0 for a record that refers to none):
    /// a RELA record's addend is the address the field refers to less this.
    pub symbol_value: u64,
    /// How the field refers to its address: a pointer holds it, a place-relative field
    /// its distance from the field (the record's result is then the symbol plus the
    /// addend less the field's address).
    pub reference: TextReference,
    /// The link wrote the record's result into the field too. False for the fields that a
    /// dynamic record fills at load time and the link left zero (`ld
    /// --no-apply-dynamic-relocs`, as arm64 links a relocatable kernel): a patch keeps
    /// such a field zero and gives the value to its records alone. Always true for REL
    /// records, whose addend is the field.
    pub applied: bool,
}

/// The containing section of the table, as it was when the location was taken: the patch
/// stage checks it against the file it is given, so a location cannot be applied to another
/// file by mistake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocatedSection {
    /// Section name.
    pub name: String,
    /// Index in the section header table.
    pub index: u32,
    /// Its address.
    pub address: u64,
    /// Its file offset.
    pub file_offset: u64,
    /// Its size in the file.
    pub size: u64,
}

/// Where the arrays of a kallsyms table sit in a linked ELF file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableLocation {
    /// The linked file the location was taken from.
    pub elf: String,
    /// Its length in bytes.
    pub elf_len: u64,
    /// Byte order and word size of the file.
    pub layout: DataLayout,
    /// The section that holds the table.
    pub section: LocatedSection,
    /// The address of `_text` in the linked file: the table's pointers are relative to it.
    pub text_address: u64,
    /// Every array of the frame, in table order.
    pub arrays: Vec<LocatedArray>,
    /// Relocation records kept for the table's `_text`-relative fields, if any.
    pub relocations: Vec<LocatedRelocation>,
}

impl Artifact for TableLocation {
    const KIND: ArtifactKind = ArtifactKind::TableLocation;
}

impl TableLocation {
    /// The located array of the given kind, if the table has it.
    pub fn array(&self, kind: ArrayKind) -> Option<&LocatedArray> {
        self.arrays.iter().find(|array| array.kind == kind)
    }

    /// The located array whose room holds the byte at `address`.
    pub fn array_at(&self, address: u64) -> Option<&LocatedArray> {
        self.arrays
            .iter()
            .find(|array| address.wrapping_sub(array.address) < array.room)
    }
}

/// One array as the patch step wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchedArray {
    /// Which array.
    pub kind: ArrayKind,
    /// Bytes of final content written.
    pub written: u64,
    /// Bytes reserved; `room - written` were zero-filled.
    pub room: u64,
}

/// What a patch step wrote, and what it checked afterwards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchReport {
    /// The patched file.
    pub output: String,
    /// Symbols in the final table.
    pub num_syms: u32,
    /// Each array written.
    pub arrays: Vec<PatchedArray>,
    /// Relocation records brought in line with their field's final value: a RELA record's
    /// addend written, a REL record's (its addend is the field itself) written with the field.
    pub relocations_updated: u32,
    /// Reserved bytes left zero (the frame's waste).
    pub pad_waste: u64,
    /// Symbols the read-back check decoded and compared with the file's own.
    pub verified_symbols: u64,
    /// Bytes of the file whose value the patch changed: 0 when the file already held the
    /// final table (a kernel patched with its own table, or a repeated `--in-place` run).
    pub changed_bytes: u64,
}

impl Artifact for PatchReport {
    const KIND: ArtifactKind = ArtifactKind::PatchReport;
}
