//! Reads a kallsyms table back the way the kernel's `kernel/kallsyms.c` does, from a
//! [`KallsymsTable`] artifact, a relocatable object, or a linked ELF (found by its
//! `kallsyms_*` labels), and lists the symbols as `/proc/kallsyms` would: in table order,
//! `ADDR TYPE NAME`, names that expand to nothing left out.
//!
//! The address encodings are those of 6.1 (`kallsyms_addresses`, or offsets from
//! `kallsyms_relative_base`), 6.12 (offsets from the relative base, `--absolute-percpu`'s
//! absolute per-cpu entries) and 7.x (no relative base: with `--pc-relative` every
//! `kallsyms_offsets` entry is its symbol's distance from the entry itself, without it the
//! address truncated to 32 bits). [`view_linked_arrays`] decodes a table's arrays as linked
//! given the profile and options it was built with, and refuses arrays of another format.
//!
//! Besides decoding, [`TableView::check`] verifies what the kernel silently relies on: the
//! markers point at every 256th name, the token index points at the token strings, and
//! `kallsyms_seqs_of_names` lists every symbol once, in name order.

#![deny(missing_docs)]

use std::collections::HashMap;
use std::fmt;

use kslink_schema::{ArrayKind, DataLayout, KallsymsTable, TableOptions};
use kslink_table::{OffsetsEncoding, Profile};
use kslink_table_labels::{relocation_records, Place, TableLabels};
use object::read::elf::{ElfFile, FileHeader, SectionHeader};
use object::read::{Object, ObjectSection, ObjectSymbol};
use object::{Endianness, ObjectKind, RelocationTarget};

/// One line of `/proc/kallsyms`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelSymbol {
    /// The address the kernel computes.
    pub address: u64,
    /// The type letter (the first byte of the expanded name).
    pub type_letter: u8,
    /// The name.
    pub name: Vec<u8>,
}

/// How the table's address fields are to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressMode {
    /// `kallsyms_addresses`: one pointer per symbol (6.1 without base-relative).
    Absolute,
    /// `kallsyms_offsets` from `kallsyms_relative_base`, unsigned.
    Relative,
    /// `kallsyms_offsets` with CONFIG_KALLSYMS_ABSOLUTE_PERCPU: non-negative values are
    /// absolute, negative ones count down from `relative_base - 1`.
    RelativeAbsolutePercpu,
    /// 7.x with `--pc-relative`: each `kallsyms_offsets` entry is its symbol's signed
    /// distance from the entry's own address (the kernel's `offset_to_ptr`).
    PlaceRelative,
    /// 7.x without `--pc-relative`: each `kallsyms_offsets` entry is the address, as u32.
    Address32,
}

/// How a table's `kallsyms_offsets` is to be read: what the arrays alone do not say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetsFormat {
    /// Offsets from `kallsyms_relative_base` (6.x), with CONFIG_KALLSYMS_ABSOLUTE_PERCPU's
    /// absolute entries if `absolute_percpu`.
    FromRelativeBase {
        /// `--absolute-percpu`.
        absolute_percpu: bool,
    },
    /// 7.x with `--pc-relative`, as linked: entry `i`, at `offsets_address + 4 * i`, holds
    /// its symbol's address less its own.
    PlaceRelative {
        /// The address `kallsyms_offsets` is linked at.
        offsets_address: u64,
    },
    /// 7.x without `--pc-relative`: each entry is the address truncated to 32 bits.
    Address32,
}

/// Why a table could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

fn err<T>(msg: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError(msg.into()))
}

/// The table's arrays, each as the bytes from its label to the end of what holds it.
pub struct TableView<'a> {
    layout: DataLayout,
    arrays: HashMap<ArrayKind, &'a [u8]>,
    /// The resolved value of `kallsyms_relative_base`, when the layout has it.
    relative_base: Option<u64>,
    /// Every symbol's address, where the fields do not give it alone: `kallsyms_addresses`
    /// resolved (an object's are relocations), or place-relative entries whose place is not
    /// that of a linked table (an artifact's hold the distance from `_text`, an object's are
    /// relocations).
    addresses: Option<Vec<u64>>,
    /// The address of `kallsyms_offsets` in a linked table with place-relative entries.
    offsets_address: Option<u64>,
    mode: AddressMode,
    /// Whether names are ordered as 6.1's `--lto-clang` orders them (`.llvm.` suffixes cut);
    /// `None` (an ELF file does not say) accepts either order.
    lto_clang: Option<bool>,
}

impl<'a> TableView<'a> {
    fn array(&self, kind: ArrayKind) -> Result<&'a [u8], DecodeError> {
        self.arrays
            .get(&kind)
            .copied()
            .ok_or_else(|| DecodeError(format!("no {} array", kind.label())))
    }

    fn u16_at(&self, bytes: &[u8], at: usize) -> Result<u16, DecodeError> {
        let word: [u8; 2] = bytes_at(bytes, at)?;
        Ok(self.layout.decode_u16(&word).expect("two bytes"))
    }

    fn u32_at(&self, bytes: &[u8], at: usize) -> Result<u32, DecodeError> {
        let word: [u8; 4] = bytes_at(bytes, at)?;
        Ok(self.layout.decode_u32(&word).expect("four bytes"))
    }

    /// `kallsyms_num_syms`.
    pub fn num_syms(&self) -> Result<u32, DecodeError> {
        self.u32_at(self.array(ArrayKind::NumSyms)?, 0)
    }

    /// How the addresses are encoded.
    pub fn mode(&self) -> AddressMode {
        self.mode
    }

    /// The expansion of every token slot, from `kallsyms_token_table` through
    /// `kallsyms_token_index`.
    fn tokens(&self) -> Result<Vec<&'a [u8]>, DecodeError> {
        let table = self.array(ArrayKind::TokenTable)?;
        let index = self.array(ArrayKind::TokenIndex)?;
        (0..256)
            .map(|slot| {
                let start = self.u16_at(index, slot * 2)? as usize;
                let rest = table.get(start..).ok_or_else(|| {
                    DecodeError(format!("token {slot} starts past the token table"))
                })?;
                let end = rest
                    .iter()
                    .position(|b| *b == 0)
                    .ok_or_else(|| DecodeError(format!("token {slot} is not terminated")))?;
                Ok(&rest[..end])
            })
            .collect()
    }

    /// The address of symbol `index`, as `kallsyms_sym_address` computes it.
    fn address(&self, index: usize) -> Result<u64, DecodeError> {
        if let Some(addresses) = &self.addresses {
            return addresses
                .get(index)
                .copied()
                .ok_or_else(|| DecodeError(format!("no address for symbol {index}")));
        }
        let wrap = |v: u64| {
            if self.layout.pointer_bytes == 4 {
                v & 0xffff_ffff
            } else {
                v
            }
        };
        match self.mode {
            AddressMode::Absolute => unreachable!("absolute mode has addresses"),
            AddressMode::PlaceRelative => {
                let at = (index * 4) as u64;
                let value = self.u32_at(self.array(ArrayKind::Offsets)?, index * 4)? as i32;
                let entry = self
                    .offsets_address
                    .expect("a linked place-relative table has its address")
                    .wrapping_add(at);
                Ok(wrap(entry.wrapping_add(value as i64 as u64)))
            }
            AddressMode::Address32 => Ok(u64::from(
                self.u32_at(self.array(ArrayKind::Offsets)?, index * 4)?,
            )),
            AddressMode::Relative | AddressMode::RelativeAbsolutePercpu => {
                let base = self.relative_base.expect("relative mode has a base");
                let offset = self.u32_at(self.array(ArrayKind::Offsets)?, index * 4)?;
                Ok(if self.mode == AddressMode::Relative {
                    wrap(base.wrapping_add(offset as u64))
                } else if (offset as i32) >= 0 {
                    offset as u64
                } else {
                    wrap(
                        base.wrapping_sub(1)
                            .wrapping_sub(offset as i32 as i64 as u64),
                    )
                })
            }
        }
    }

    /// Every symbol, as `/proc/kallsyms` lists them (names that expand to nothing are left
    /// out, as the kernel's `s_show` does).
    pub fn symbols(&self) -> Result<Vec<KernelSymbol>, DecodeError> {
        let count = self.num_syms()? as usize;
        let names = self.array(ArrayKind::Names)?;
        let tokens = self.tokens()?;
        // Every name takes a byte at least: a count the names cannot hold fails below, and
        // must not reserve room first.
        let mut symbols = Vec::with_capacity(count.min(names.len()));
        let mut off = 0usize;
        let mut expanded = Vec::new();
        for index in 0..count {
            let (_, data) = name_at(names, off)
                .ok_or_else(|| DecodeError(format!("name {index} runs past kallsyms_names")))?;
            off = data.end;
            expanded.clear();
            for &byte in &names[data] {
                expanded.extend_from_slice(tokens[byte as usize]);
            }
            // The kernel's `s_show` skips a symbol whose name (after the type) is empty.
            if expanded.len() < 2 {
                continue;
            }
            symbols.push(KernelSymbol {
                address: self.address(index)?,
                type_letter: expanded[0],
                name: expanded[1..].to_vec(),
            });
        }
        Ok(symbols)
    }

    /// Checks the arrays against each other, as upstream's generator lays them out and as
    /// the kernel relies on them: `kallsyms_num_syms` names fill `kallsyms_names` (none of
    /// length 0, nothing but zero padding after the last), every 256th name is where
    /// its `kallsyms_markers` entry says, the 256 token strings lie back to back where
    /// `kallsyms_token_index` says, every symbol has an address, and
    /// `kallsyms_seqs_of_names` lists every symbol once, ordered by name (with 6.1's
    /// `--lto-clang`, by name up to a `.llvm.` suffix), equal names by address, then by
    /// table order. Every error message names the array at fault.
    pub fn check(&self) -> Result<(), DecodeError> {
        let count = self.num_syms()? as usize;
        let names = self.array(ArrayKind::Names)?;
        let markers = self.array(ArrayKind::Markers)?;
        self.check_token_index()?;
        let tokens = self.tokens()?;
        let mut off = 0usize;
        // As in `symbols`: no more names than bytes of kallsyms_names.
        let mut full_names = Vec::with_capacity(count.min(names.len()));
        for index in 0..count {
            if index % 256 == 0 {
                let slot = index / 256;
                let marker = self.u32_at(markers, slot * 4).map_err(|_| {
                    DecodeError(format!(
                        "kallsyms_markers has no entry {slot} for symbol {index}"
                    ))
                })? as usize;
                if marker != off {
                    return err(format!(
                        "kallsyms_markers[{slot}] is {marker}, symbol {index} starts at {off}"
                    ));
                }
            }
            let (len, data) = name_at(names, off).ok_or_else(|| {
                DecodeError(format!(
                    "kallsyms_names: name {index} of {count} (kallsyms_num_syms) runs past \
                     the array's {} bytes",
                    names.len()
                ))
            })?;
            if len == 0 {
                return err(format!(
                    "kallsyms_names: name {index} of {count} (kallsyms_num_syms) has length 0"
                ));
            }
            off = data.end;
            let mut name = Vec::new();
            for &byte in &names[data] {
                name.extend_from_slice(tokens[byte as usize]);
            }
            full_names.push(name);
        }
        // Zero padding may follow (alignment, or room reserved for a later table); a
        // non-zero byte would be the length of a name kallsyms_num_syms does not count.
        if let Some(extra) = names[off..].iter().position(|&b| b != 0) {
            return err(format!(
                "kallsyms_names has a name at byte {} after its last of {count} \
                 (kallsyms_num_syms)",
                off + extra
            ));
        }
        let addresses = (0..count)
            .map(|index| self.address(index))
            .collect::<Result<Vec<_>, _>>()?;

        let seqs = self.array(ArrayKind::SeqsOfNames)?;
        let mut order = Vec::with_capacity(count);
        let mut seen = vec![false; count];
        for position in 0..count {
            let b = seqs.get(position * 3..position * 3 + 3).ok_or_else(|| {
                DecodeError("kallsyms_seqs_of_names is shorter than num_syms".into())
            })?;
            let seq = (b[0] as usize) << 16 | (b[1] as usize) << 8 | b[2] as usize;
            if seq >= count || std::mem::replace(&mut seen[seq], true) {
                return err(format!(
                    "kallsyms_seqs_of_names[{position}] = {seq} is out of range or repeated"
                ));
            }
            order.push(seq);
        }
        // The sort key of upstream's `compare_names`: the name without its type letter (cut
        // at `.llvm.` with --lto-clang), then the address, then the table index.
        let out_of_order = |lto_clang: bool| -> Option<usize> {
            let key = |seq: usize| {
                let mut name = full_names[seq].get(1..).unwrap_or_default();
                if lto_clang {
                    if let Some(cut) = name.windows(6).position(|w| w == b".llvm.") {
                        name = &name[..cut];
                    }
                }
                (name, addresses[seq], seq)
            };
            (1..count).find(|&position| key(order[position - 1]) > key(order[position]))
        };
        let misplaced = match self.lto_clang {
            Some(lto_clang) => out_of_order(lto_clang),
            None => out_of_order(false).and(out_of_order(true)),
        };
        if let Some(position) = misplaced {
            let shown = |seq: usize| String::from_utf8_lossy(&full_names[seq]).into_owned();
            return err(format!(
                "kallsyms_seqs_of_names is not in name order at position {position}: \
                 symbol {} ({:?}) after symbol {} ({:?})",
                order[position],
                shown(order[position]),
                order[position - 1],
                shown(order[position - 1]),
            ));
        }
        Ok(())
    }

    /// The token strings must lie back to back from the start of `kallsyms_token_table`,
    /// and `kallsyms_token_index` must point at each.
    fn check_token_index(&self) -> Result<(), DecodeError> {
        let table = self.array(ArrayKind::TokenTable)?;
        let index = self.array(ArrayKind::TokenIndex)?;
        let mut start = 0usize;
        for slot in 0..256 {
            let at = self
                .u16_at(index, slot * 2)
                .map_err(|_| DecodeError(format!("kallsyms_token_index has no entry {slot}")))?
                as usize;
            if at != start {
                return err(format!(
                    "kallsyms_token_index[{slot}] is {at}, token {slot} starts at {start} in \
                     kallsyms_token_table"
                ));
            }
            let len = table
                .get(start..)
                .and_then(|rest| rest.iter().position(|&b| b == 0))
                .ok_or_else(|| {
                    DecodeError(format!(
                        "kallsyms_token_table: token {slot} is not terminated"
                    ))
                })?;
            start += len + 1;
        }
        Ok(())
    }
}

/// `N` bytes of an array at `at`.
fn bytes_at<const N: usize>(bytes: &[u8], at: usize) -> Result<[u8; N], DecodeError> {
    bytes
        .get(at..at + N)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| DecodeError(format!("read past the end of an array at {at}")))
}

/// The length prefix and the byte range of the compressed name at `off`.
fn name_at(names: &[u8], off: usize) -> Option<(usize, std::ops::Range<usize>)> {
    let first = *names.get(off)? as usize;
    let (len, start) = if first & 0x80 != 0 {
        let second = *names.get(off + 1)? as usize;
        ((first & 0x7f) | second << 7, off + 2)
    } else {
        (first, off + 1)
    };
    (start + len <= names.len()).then_some((len, start..start + len))
}

fn mode_for(has_addresses: bool, absolute_percpu: bool) -> AddressMode {
    if has_addresses {
        AddressMode::Absolute
    } else if absolute_percpu {
        AddressMode::RelativeAbsolutePercpu
    } else {
        AddressMode::Relative
    }
}

/// The profile named `name`, or an error naming the known ones.
fn known_profile(name: &str) -> Result<&'static Profile, DecodeError> {
    Profile::by_name(name).ok_or_else(|| {
        DecodeError(format!(
            "the table is a {name} table, a profile this kslink-verify does not know ({})",
            Profile::names().join(", ")
        ))
    })
}

/// Checks that `kinds` are the arrays a table of `profile` built with `options` has: a
/// table of another version's format (6.12's has `kallsyms_relative_base`, 7.x's has none)
/// would otherwise decode to wrong addresses.
fn check_array_kinds(
    profile: &Profile,
    options: TableOptions,
    kinds: impl Iterator<Item = ArrayKind>,
) -> Result<(), DecodeError> {
    let mut expected = profile.array_kinds(options);
    let mut found: Vec<ArrayKind> = kinds.collect();
    let labels = |kinds: &[ArrayKind]| {
        kinds
            .iter()
            .map(|kind| kind.label())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let shown = (labels(&expected), labels(&found));
    let rank = |kind: &ArrayKind| ArrayKind::ALL.iter().position(|k| k == kind);
    expected.sort_by_key(rank);
    found.sort_by_key(rank);
    if expected != found {
        return err(format!(
            "the arrays are {}, but a {} table built with these options has {}: a table of \
             another format",
            shown.1, profile.name, shown.0
        ));
    }
    Ok(())
}

/// How `profile`'s tables built with `options` store `kallsyms_offsets`, the array being at
/// `offsets_address` once linked.
fn offsets_format(profile: &Profile, options: TableOptions, offsets_address: u64) -> OffsetsFormat {
    match profile.offsets_encoding {
        OffsetsEncoding::FromRelativeBase => OffsetsFormat::FromRelativeBase {
            absolute_percpu: options.absolute_percpu,
        },
        OffsetsEncoding::PlaceRelativeOrAddress if options.pc_relative => {
            OffsetsFormat::PlaceRelative { offsets_address }
        }
        OffsetsEncoding::PlaceRelativeOrAddress => OffsetsFormat::Address32,
    }
}

/// A view of a [`KallsymsTable`] artifact. Its arrays must be those of its profile and
/// options, each aligned as the profile aligns them; its place-relative entries hold their
/// symbols' distances from `_text` (the artifact's `text_address`).
pub fn view_artifact(table: &KallsymsTable) -> Result<TableView<'_>, DecodeError> {
    let profile = known_profile(&table.profile)?;
    if !matches!(table.layout.pointer_bytes, 4 | 8) {
        return err(format!(
            "the table has {}-byte pointers; tables have 4- or 8-byte ones",
            table.layout.pointer_bytes
        ));
    }
    check_array_kinds(
        profile,
        table.options,
        table.arrays.iter().map(|array| array.kind),
    )?;
    let align = profile.alignment(table.layout);
    if let Some(array) = table.arrays.iter().find(|array| array.offset % align != 0) {
        return err(format!(
            "{} is at offset {}, but {} aligns its arrays to {align} bytes: a table of another \
             format",
            array.kind.label(),
            array.offset,
            profile.name
        ));
    }
    let arrays = table
        .arrays
        .iter()
        .map(|array| {
            let start = array.offset as usize;
            table
                .data
                .get(start..start.saturating_add(array.size as usize))
                .map(|bytes| (array.kind, bytes))
                .ok_or_else(|| {
                    DecodeError(format!("{} lies outside the table", array.kind.label()))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let format = offsets_format(profile, table.options, 0);
    let mut view = view_arrays_as(table.layout, arrays, format, Some(table.options.lto_clang))?;
    if view.mode == AddressMode::PlaceRelative {
        let offsets = view.array(ArrayKind::Offsets)?;
        // Entries past the array are left to `address` to report, after the names that
        // `kallsyms_num_syms` miscounts.
        let entries = (view.num_syms()? as usize).min(offsets.len() / 4);
        let addresses = (0..entries)
            .map(|index| {
                let distance = view.u32_at(offsets, index * 4)? as i32;
                Ok(table.text_address.wrapping_add(distance as i64 as u64) & view.address_mask())
            })
            .collect::<Result<Vec<_>, DecodeError>>()?;
        view.addresses = Some(addresses);
    }
    Ok(view)
}

/// A view of a 6.x table given as the bytes of each array, with every pointer holding its
/// final value (as in an artifact or a linked file, unlike an object's relocated fields):
/// for example the rooms a patch wrote, read back from the patched file. Each slice may be
/// longer than its array's content (zero padding, reserved room).
///
/// `absolute_percpu` says how to read `kallsyms_offsets`; `lto_clang` how names are ordered
/// (`None` accepts either order). [`view_linked_arrays`] reads any profile's tables.
pub fn view_arrays<'a>(
    layout: DataLayout,
    arrays: impl IntoIterator<Item = (ArrayKind, &'a [u8])>,
    absolute_percpu: bool,
    lto_clang: Option<bool>,
) -> Result<TableView<'a>, DecodeError> {
    view_arrays_as(
        layout,
        arrays,
        OffsetsFormat::FromRelativeBase { absolute_percpu },
        lto_clang,
    )
}

/// A view of a linked table of `profile` built with `options`, given as the bytes of each
/// array as linked (pointers and place-relative entries holding their final values; each
/// slice may be longer than its array's content), `kallsyms_offsets` being at
/// `offsets_address` (used by 7.x's place-relative entries only). The arrays must be the
/// ones such a table has: a table of another version's format is an error, not a wrong
/// decoding.
pub fn view_linked_arrays<'a>(
    layout: DataLayout,
    arrays: impl IntoIterator<Item = (ArrayKind, &'a [u8])>,
    profile: &str,
    options: TableOptions,
    offsets_address: u64,
) -> Result<TableView<'a>, DecodeError> {
    let profile = known_profile(profile)?;
    let arrays: Vec<(ArrayKind, &'a [u8])> = arrays.into_iter().collect();
    check_array_kinds(profile, options, arrays.iter().map(|(kind, _)| *kind))?;
    view_arrays_as(
        layout,
        arrays,
        offsets_format(profile, options, offsets_address),
        Some(options.lto_clang),
    )
}

/// A view of a table given as the bytes of each array as linked (see [`view_arrays`]),
/// `kallsyms_offsets` read as `format` says. The arrays must suit the format: a
/// `kallsyms_relative_base` for [`OffsetsFormat::FromRelativeBase`] (unless the table has
/// `kallsyms_addresses`), none for 7.x's formats.
pub fn view_arrays_as<'a>(
    layout: DataLayout,
    arrays: impl IntoIterator<Item = (ArrayKind, &'a [u8])>,
    format: OffsetsFormat,
    lto_clang: Option<bool>,
) -> Result<TableView<'a>, DecodeError> {
    let arrays: HashMap<ArrayKind, &'a [u8]> = arrays.into_iter().collect();
    let has_addresses = arrays.contains_key(&ArrayKind::Addresses);
    let has_base = arrays.contains_key(&ArrayKind::RelativeBase);
    let seven = !matches!(format, OffsetsFormat::FromRelativeBase { .. });
    if seven && (has_addresses || has_base) {
        return err(format!(
            "the table has {}, an array of 6.x's formats, not of 7.x's",
            if has_base {
                "kallsyms_relative_base"
            } else {
                "kallsyms_addresses"
            }
        ));
    }
    if !seven && !has_addresses && !has_base && arrays.contains_key(&ArrayKind::Offsets) {
        return err(
            "the table has kallsyms_offsets but no kallsyms_relative_base: 7.x's format, \
             not a 6.x one",
        );
    }
    let pointer = |kind: ArrayKind| -> Result<u64, DecodeError> {
        let bytes = arrays
            .get(&kind)
            .ok_or_else(|| DecodeError(format!("no {}", kind.label())))?;
        layout
            .decode_pointer(bytes)
            .ok_or_else(|| DecodeError(format!("{} is cut off", kind.label())))
    };
    let relative_base = if has_addresses || seven {
        None
    } else {
        Some(pointer(ArrayKind::RelativeBase)?)
    };
    let addresses = if has_addresses {
        let count = u32_of(
            layout,
            arrays
                .get(&ArrayKind::NumSyms)
                .ok_or_else(|| DecodeError("no kallsyms_num_syms".into()))?,
        )? as usize;
        let bytes = arrays[&ArrayKind::Addresses];
        let width = layout.pointer_bytes as usize;
        Some(
            (0..count)
                .map(|i| {
                    layout
                        .decode_pointer(bytes.get(i * width..).unwrap_or_default())
                        .ok_or_else(|| addresses_cut_off(bytes.len() / width, count))
                })
                .collect::<Result<Vec<_>, _>>()?,
        )
    } else {
        None
    };
    let (mode, offsets_address) = match format {
        OffsetsFormat::FromRelativeBase { absolute_percpu } => {
            (mode_for(has_addresses, absolute_percpu), None)
        }
        OffsetsFormat::PlaceRelative { offsets_address } => {
            (AddressMode::PlaceRelative, Some(offsets_address))
        }
        OffsetsFormat::Address32 => (AddressMode::Address32, None),
    };
    Ok(TableView {
        layout,
        arrays,
        relative_base,
        addresses,
        offsets_address,
        mode,
        lto_clang,
    })
}

fn addresses_cut_off(held: usize, count: usize) -> DecodeError {
    DecodeError(format!(
        "kallsyms_addresses holds {held} entries, kallsyms_num_syms says {count}"
    ))
}

fn u32_of(layout: DataLayout, bytes: &[u8]) -> Result<u32, DecodeError> {
    layout
        .decode_u32(bytes)
        .ok_or_else(|| DecodeError("kallsyms_num_syms is cut off".into()))
}

/// Options for reading a table out of an ELF file.
#[derive(Clone, Copy, Debug, Default)]
pub struct ElfDecodeOptions {
    /// Whether offsets follow CONFIG_KALLSYMS_ABSOLUTE_PERCPU; `None` guesses: offsets
    /// with the top bit set occur only in that mode (short of a 2 GiB kernel).
    pub absolute_percpu: Option<bool>,
    /// In a relocatable object, the address `_text` is taken to have (default 0).
    pub text_address: u64,
    /// Whether a 7.x table's `kallsyms_offsets` are place-relative (`--pc-relative`);
    /// `None` decides from the file (see [`view_elf`]). `Some(true)` on a 6.x table is an
    /// error.
    pub pc_relative: Option<bool>,
}

/// A view of the table inside an ELF file: a relocatable object (relocations against
/// `_text` resolved with [`ElfDecodeOptions::text_address`]) or a linked executable (the
/// fields its relative dynamic records fill given their values, as the loader gives them).
///
/// The labels tell the format: `kallsyms_addresses` (6.1), `kallsyms_relative_base` (6.x),
/// or neither (7.x, whose entries are place-relative or addresses: an object's are
/// place-relative if they have `_text` relocations, a 64-bit linked file's are, and a
/// 32-bit one's are if only that reading gives `_stext` or `_text` the address the file's
/// symbol table gives it; [`ElfDecodeOptions::pc_relative`] says so instead).
pub fn view_elf<'a>(
    elf: &object::File<'a>,
    options: ElfDecodeOptions,
) -> Result<TableView<'a>, DecodeError> {
    let layout = DataLayout {
        pointer_bytes: if elf.is_64() { 8 } else { 4 },
        big_endian: !elf.is_little_endian(),
    };
    let relocatable = elf.kind() == ObjectKind::Relocatable;
    let mut sections: HashMap<object::SectionIndex, &'a [u8]> = HashMap::new();
    let mut placed: HashMap<ArrayKind, (object::SectionIndex, u64)> = HashMap::new();
    let labels = TableLabels::of_file(elf).map_err(DecodeError)?;
    for kind in ArrayKind::ALL {
        let Some(symbol) = labels.label(kind).map_err(DecodeError)? else {
            continue;
        };
        let name = kind.label();
        let Place::Section(section_index) = symbol.place else {
            return err(format!("{name} is not defined in a section"));
        };
        let section = elf
            .section_by_index(section_index)
            .map_err(|e| DecodeError(format!("{name}: {e}")))?;
        let data = section.data().map_err(|e| {
            DecodeError(format!(
                "{name}: section {}: {e}",
                section.name().unwrap_or("?")
            ))
        })?;
        if data.is_empty() {
            return err(format!(
                "{name} lies in section {}, which has no file contents",
                section.name().unwrap_or("?")
            ));
        }
        let offset = if relocatable {
            symbol.value
        } else {
            symbol.value.wrapping_sub(section.address())
        };
        if offset > data.len() as u64 {
            return err(format!("{name} lies outside its section"));
        }
        sections.insert(section_index, data);
        placed.insert(kind, (section_index, offset));
    }
    if placed.is_empty() {
        return err("no kallsyms_* labels: not a kallsyms table");
    }
    // Each array ends where the next label of its section begins (labels at one offset, as
    // empty arrays have, taken in the 6.12 layout order), the last at the section's end.
    let rank = |kind: ArrayKind| ArrayKind::ALL.iter().position(|k| *k == kind);
    let mut arrays = HashMap::new();
    for (&kind, &(section_index, offset)) in &placed {
        let data = sections[&section_index];
        let end = placed
            .iter()
            .filter(|(_, (index, _))| *index == section_index)
            .map(|(&other, &(_, other_offset))| (other_offset, rank(other)))
            .filter(|&next| next > (offset, rank(kind)))
            .min()
            .map_or(data.len(), |(next_offset, _)| next_offset as usize);
        arrays.insert(kind, &data[offset as usize..end]);
    }
    let has_addresses = arrays.contains_key(&ArrayKind::Addresses);
    // 7.x has neither pointer array: its offsets are place-relative or addresses.
    let seven = !has_addresses && !arrays.contains_key(&ArrayKind::RelativeBase);
    if !seven && options.pc_relative == Some(true) {
        return err(
            "the table has a kallsyms_relative_base or kallsyms_addresses, so it is in a 6.x \
             format, whose offsets are not place-relative",
        );
    }
    if seven && options.absolute_percpu == Some(true) {
        return err(
            "the table has no kallsyms_relative_base, so it is in 7.x's format, which has no \
             absolute per-cpu entries",
        );
    }

    // Relocations of the sections holding pointer arrays, by field offset: in an object,
    // a pointer field's value is `_text + addend` (the addend in the field itself on REL
    // targets), and a place-relative entry's symbol is at `_text + addend` (RISC-V pairs
    // the `_text` relocation with one that subtracts the place); in a linked file it is
    // the field's content, or the value of the relative dynamic record that fills it at load
    // time.
    let mut relocations: HashMap<(object::SectionIndex, u64), (bool, i64)> = HashMap::new();
    if relocatable {
        for kind in [
            ArrayKind::Addresses,
            ArrayKind::RelativeBase,
            ArrayKind::Offsets,
        ] {
            let Some(&(section_index, _)) = placed.get(&kind) else {
                continue;
            };
            if relocations.keys().any(|(index, _)| *index == section_index) {
                continue;
            }
            let section = elf.section_by_index(section_index).expect("found above");
            for (at, relocation) in section.relocations() {
                let RelocationTarget::Symbol(target) = relocation.target() else {
                    continue;
                };
                let target = elf
                    .symbol_by_index(target)
                    .map_err(|e| DecodeError(format!("{}: {e}", kind.label())))?;
                if target.name() != Ok("_text") {
                    continue;
                }
                relocations.insert(
                    (section_index, at),
                    (relocation.has_implicit_addend(), relocation.addend()),
                );
            }
        }
    }
    // In a linked file, the loader's value of a field a relative dynamic record fills.
    let loaded = if relocatable {
        HashMap::new()
    } else {
        relative_relocations(elf)
    };
    let count = u32_of(
        layout,
        arrays
            .get(&ArrayKind::NumSyms)
            .ok_or_else(|| DecodeError("no kallsyms_num_syms".into()))?,
    )? as usize;
    if seven {
        return view_elf_7x(
            elf,
            options,
            layout,
            relocatable,
            arrays,
            &placed,
            &relocations,
        );
    }
    let pointer_at = |kind: ArrayKind, index: usize| -> Result<u64, DecodeError> {
        let width = layout.pointer_bytes as usize;
        let missing = || DecodeError(format!("no {} array", kind.label()));
        let bytes = arrays.get(&kind).ok_or_else(missing)?;
        let stored = bytes
            .get(index * width..)
            .and_then(|field| layout.decode_pointer(field))
            .ok_or_else(|| match kind {
                ArrayKind::Addresses => addresses_cut_off(bytes.len() / width, count),
                _ => DecodeError(format!("{} is cut off", kind.label())),
            })?;
        let (section_index, offset) = *placed.get(&kind).ok_or_else(missing)?;
        let at = offset + (index * width) as u64;
        if !relocatable {
            let section = elf.section_by_index(section_index).expect("found above");
            return Ok(loaded
                .get(&section.address().wrapping_add(at))
                .map_or(stored, |&value| {
                    if width == 4 {
                        value & 0xffff_ffff
                    } else {
                        value
                    }
                }));
        }
        let Some(&(implicit, addend)) = relocations.get(&(section_index, at)) else {
            return Ok(stored);
        };
        let addend = if implicit { stored } else { addend as u64 };
        let value = options.text_address.wrapping_add(addend);
        Ok(if width == 4 {
            value & 0xffff_ffff
        } else {
            value
        })
    };

    let relative_base = if has_addresses {
        None
    } else {
        Some(pointer_at(ArrayKind::RelativeBase, 0)?)
    };
    let addresses = if has_addresses {
        Some(
            (0..count)
                .map(|i| pointer_at(ArrayKind::Addresses, i))
                .collect::<Result<Vec<_>, _>>()?,
        )
    } else {
        None
    };
    let absolute_percpu = match options.absolute_percpu {
        Some(value) => value,
        None => match arrays.get(&ArrayKind::Offsets) {
            // The entries the array holds, not `count` of them: a count from a corrupt
            // file can be 2^32 with no entries to look at.
            Some(offsets) => offsets
                .chunks_exact(4)
                .take(count)
                .any(|b| b[if layout.big_endian { 0 } else { 3 }] & 0x80 != 0),
            None => false,
        },
    };
    Ok(TableView {
        layout,
        arrays,
        relative_base,
        addresses,
        offsets_address: None,
        mode: mode_for(has_addresses, absolute_percpu),
        lto_clang: None,
    })
}

/// The rest of [`view_elf`] for a table in 7.x's format: place-relative entries (an
/// object's resolved through their `_text` relocations, a linked file's from their place)
/// or addresses. Without [`ElfDecodeOptions::pc_relative`], an object's entries are
/// place-relative if they have relocations, a 64-bit linked file's are (Kbuild passes
/// `--pc-relative` with CONFIG_64BIT), and a 32-bit one's are if that reading, and not the
/// other, gives `_stext` or `_text` the address the file's symbol table gives it.
fn view_elf_7x<'a>(
    elf: &object::File<'a>,
    options: ElfDecodeOptions,
    layout: DataLayout,
    relocatable: bool,
    arrays: HashMap<ArrayKind, &'a [u8]>,
    placed: &HashMap<ArrayKind, (object::SectionIndex, u64)>,
    relocations: &HashMap<(object::SectionIndex, u64), (bool, i64)>,
) -> Result<TableView<'a>, DecodeError> {
    let &(section_index, offset) = placed
        .get(&ArrayKind::Offsets)
        .ok_or_else(|| DecodeError("no kallsyms_offsets array".into()))?;
    let view = |mode, addresses, offsets_address| TableView {
        layout,
        arrays: arrays.clone(),
        relative_base: None,
        addresses,
        offsets_address,
        mode,
        lto_clang: None,
    };
    if relocatable {
        let plain = view(AddressMode::Address32, None, None);
        let count = plain.num_syms()? as usize;
        let entries = offset..offset + 4 * count as u64;
        let has_relocations = relocations
            .keys()
            .any(|(index, at)| *index == section_index && entries.contains(at));
        if !options.pc_relative.unwrap_or(has_relocations) {
            return Ok(plain);
        }
        let offsets = plain.array(ArrayKind::Offsets)?;
        // Entries past the array are left to `address` to report (see `view_artifact`).
        let addresses = (0..count.min(offsets.len() / 4))
            .map(|index| {
                let at = offset + 4 * index as u64;
                let &(implicit, addend) =
                    relocations.get(&(section_index, at)).ok_or_else(|| {
                        DecodeError(format!(
                            "kallsyms_offsets entry {index} has no relocation against _text, \
                             as a place-relative entry of an object has"
                        ))
                    })?;
                let distance = if implicit {
                    i64::from(plain.u32_at(offsets, index * 4)? as i32)
                } else {
                    addend
                };
                Ok(options.text_address.wrapping_add(distance as u64) & plain.address_mask())
            })
            .collect::<Result<Vec<_>, DecodeError>>()?;
        return Ok(view(AddressMode::PlaceRelative, Some(addresses), None));
    }
    let section = elf
        .section_by_index(section_index)
        .map_err(|e| DecodeError(format!("kallsyms_offsets: {e}")))?;
    let place_relative = view(
        AddressMode::PlaceRelative,
        None,
        Some(section.address().wrapping_add(offset)),
    );
    let address32 = view(AddressMode::Address32, None, None);
    let pc_relative = match options.pc_relative {
        Some(pc_relative) => pc_relative,
        None if layout.pointer_bytes == 8 => true,
        None => {
            let anchors: Vec<(&[u8], u64)> = elf
                .symbols()
                .filter_map(|symbol| match symbol.name() {
                    Ok(name @ ("_stext" | "_text")) => Some((name.as_bytes(), symbol.address())),
                    _ => None,
                })
                .collect();
            let reproduces_anchor = |view: &TableView| {
                view.symbols().is_ok_and(|symbols| {
                    symbols.iter().any(|symbol| {
                        anchors
                            .iter()
                            .any(|&(name, at)| symbol.name == name && symbol.address == at)
                    })
                })
            };
            match (
                reproduces_anchor(&place_relative),
                reproduces_anchor(&address32),
            ) {
                (true, false) => true,
                (false, true) => false,
                _ => {
                    return err(
                        "cannot tell whether this 32-bit table's kallsyms_offsets are \
                         place-relative (no _stext or _text decodes to its address one way \
                         only); say --pc-relative or --no-pc-relative",
                    )
                }
            }
        }
    };
    Ok(if pc_relative {
        place_relative
    } else {
        address32
    })
}

/// The relative dynamic relocations of a linked file (RELA records of allocated sections
/// that refer to no symbol, `R_*_RELATIVE`), as the address of the field each fills and the
/// value it gives the field at the link address: the field's value once loaded, which
/// `ld --no-apply-dynamic-relocs` (arm64's relocatable kernel) leaves zero in the file.
fn relative_relocations(elf: &object::File) -> HashMap<u64, u64> {
    fn of<'data, Elf: FileHeader<Endian = Endianness>>(
        file: &ElfFile<'data, Elf>,
    ) -> HashMap<u64, u64> {
        let endian = file.endian();
        let mut out = HashMap::new();
        for section in file.elf_section_table().iter() {
            let flags: u64 = section.sh_flags(endian).into();
            if flags & u64::from(object::elf::SHF_ALLOC) == 0 {
                continue;
            }
            let Ok(Some(records)) =
                relocation_records(file.elf_header(), section, endian, file.data())
            else {
                continue;
            };
            for record in records {
                if let (0, Some(addend)) = (record.symbol, record.addend) {
                    out.insert(record.offset, addend as u64);
                }
            }
        }
        out
    }
    match elf {
        object::File::Elf32(file) => of(file),
        object::File::Elf64(file) => of(file),
        _ => HashMap::new(),
    }
}

/// Writes symbols as `/proc/kallsyms` prints them: `%px %c %s`, the address zero-padded to
/// the pointer width.
pub fn write_proc_kallsyms<W: std::io::Write>(
    symbols: &[KernelSymbol],
    pointer_bytes: u8,
    out: &mut W,
) -> std::io::Result<()> {
    let width = pointer_bytes as usize * 2;
    for symbol in symbols {
        write!(
            out,
            "{:0width$x} {} ",
            symbol.address, symbol.type_letter as char
        )?;
        out.write_all(&symbol.name)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

impl TableView<'_> {
    /// Pointer size in bytes of the table's target.
    pub fn pointer_bytes(&self) -> u8 {
        self.layout.pointer_bytes
    }

    /// The bits an address has on the table's target.
    fn address_mask(&self) -> u64 {
        if self.layout.pointer_bytes == 4 {
            0xffff_ffff
        } else {
            u64::MAX
        }
    }

    /// Every symbol's address, in table order (names that expand to nothing included), as
    /// the kernel's `kallsyms_sym_address` computes them.
    pub fn addresses(&self) -> Result<Vec<u64>, DecodeError> {
        (0..self.num_syms()? as usize)
            .map(|index| self.address(index))
            .collect()
    }
}
