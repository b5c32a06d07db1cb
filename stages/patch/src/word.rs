//! Pointer-sized words in the target's byte order: table fields, relocation offsets and
//! addends.

use kslink_schema::DataLayout;

/// `value` as a pointer-sized word of `layout`, truncated to 32 bits on a 32-bit target
/// (two's complement, so a negative addend stays negative).
pub(crate) fn encode(layout: DataLayout, value: u64) -> Vec<u8> {
    match (layout.pointer_bytes, layout.big_endian) {
        (8, false) => value.to_le_bytes().to_vec(),
        (8, true) => value.to_be_bytes().to_vec(),
        (_, false) => (value as u32).to_le_bytes().to_vec(),
        (_, true) => (value as u32).to_be_bytes().to_vec(),
    }
}

/// The pointer-sized word of `layout` at the start of `bytes`, if they hold one.
pub(crate) fn decode(layout: DataLayout, bytes: &[u8]) -> Option<u64> {
    let width = layout.pointer_bytes as usize;
    let word = bytes.get(..width)?;
    Some(match (width, layout.big_endian) {
        (8, false) => u64::from_le_bytes(word.try_into().ok()?),
        (8, true) => u64::from_be_bytes(word.try_into().ok()?),
        (_, false) => u32::from_le_bytes(word.try_into().ok()?).into(),
        (_, true) => u32::from_be_bytes(word.try_into().ok()?).into(),
    })
}

/// `value` cut to the target's pointer width, as the field holds it.
pub(crate) fn truncate(layout: DataLayout, value: u64) -> u64 {
    if layout.pointer_bytes == 8 {
        value
    } else {
        value & 0xffff_ffff
    }
}

/// Where the addend sits in an `Elf32_Rela`/`Elf64_Rela` record: after `r_offset` and
/// `r_info`, two pointer-sized words.
pub(crate) fn rela_addend_offset(layout: DataLayout) -> u64 {
    2 * u64::from(layout.pointer_bytes)
}
