//! What a patch writes: every array of the final table at its located place, zero-filled to
//! its room, and the addend of every relocation record kept for a pointer field.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use kslink_schema::{
    ArrayKind, DataLayout, KallsymsTable, PatchedArray, TableLocation, TextReference,
};

use crate::PatchError;

/// The bytes a patch writes into one linked file, planned from its [`TableLocation`] and the
/// final [`KallsymsTable`] before anything is written.
#[derive(Clone, Debug)]
pub struct Patch {
    /// Byte strings and the file offsets they go to; none overlaps another.
    writes: Vec<(u64, Vec<u8>)>,
    /// The final table as written, where it differs from the one given: its place-relative
    /// fields hold their distance from where the location puts them, not their addend.
    placed: Option<KallsymsTable>,
    arrays: Vec<PatchedArray>,
    relocations: u32,
    num_syms: u32,
}

impl Patch {
    /// Plans writing `table` where `location` says the file holds the first table.
    ///
    /// The table must have the layout, the `_text` address and the arrays of the location,
    /// and every array must fit its room ([`PatchError::DoesNotFit`] otherwise, naming every
    /// array that does not and by how much). Arrays are placed by kind, so a table need not
    /// have its own offsets equal to the frame's: only the room of each array counts.
    ///
    /// Each relocation record for a pointer field gets the addend that makes it agree with
    /// the field's final value: the value less the value of the record's symbol. A field
    /// whose records the link did not apply ([`kslink_schema::LocatedRelocation::applied`])
    /// stays zero, as the link left it: the value is in the records alone. A field past
    /// the end of the final array (room left over) is zero, and so is its record's result. A record for a field the final table holds as an absolute value, and a
    /// `_text`-relative field without a record where the link kept them, are errors: the
    /// relocated image would be wrong.
    pub fn plan(location: &TableLocation, table: &KallsymsTable) -> Result<Patch, PatchError> {
        let mismatch = |message: String| PatchError::Mismatch {
            path: location.elf.clone(),
            message,
        };
        if table.layout != location.layout {
            return Err(mismatch(format!(
                "the final table is for {} targets, the file is {}: build it for this file's \
                 target (kslink-table --arch)",
                describe(table.layout),
                describe(location.layout)
            )));
        }
        if table.text_address != location.text_address {
            return Err(mismatch(format!(
                "the final table was built with _text at {:#x}, the file has _text at {:#x}: \
                 build the final table from this file's symbols (kslink-collect --linked)",
                table.text_address, location.text_address
            )));
        }
        for located in &location.arrays {
            if table.array(located.kind).is_none() {
                return Err(mismatch(format!(
                    "the final table has no {}, which the file's table has: build it with the \
                     profile and options of the first table",
                    located.kind.label()
                )));
            }
        }
        for array in &table.arrays {
            if location.array(array.kind).is_none() {
                return Err(mismatch(format!(
                    "the final table has {}, which the file's table does not: build it with \
                     the profile and options of the first table",
                    array.kind.label()
                )));
            }
        }
        let misfits: Vec<String> = location
            .arrays
            .iter()
            .filter_map(|located| {
                let size = table.array(located.kind).expect("checked above").size;
                (size > located.room).then(|| {
                    format!(
                        "{} needs {size} bytes, its room is {} ({} short)",
                        located.kind.label(),
                        located.room,
                        size - located.room
                    )
                })
            })
            .collect();
        if !misfits.is_empty() {
            return Err(PatchError::DoesNotFit(format!(
                "the final table ({} symbols) does not fit the frame it was linked in: {}; \
                 link again in a frame made for this table",
                table.num_syms,
                misfits.join("; ")
            )));
        }

        let placed = place(location, table)?;
        let given = table;
        let table = placed.as_ref().unwrap_or(given);
        let mut writes = Vec::with_capacity(location.arrays.len() + location.relocations.len());
        let mut arrays = Vec::with_capacity(location.arrays.len());
        let width = u64::from(table.layout.pointer_bytes);
        for located in &location.arrays {
            let content = table.array_bytes(located.kind).expect("checked above");
            let mut room = Vec::with_capacity(located.room as usize);
            room.extend_from_slice(content);
            room.resize(located.room as usize, 0);
            for record in location.relocations.iter().filter(|r| !r.applied) {
                let within = record.field_address.wrapping_sub(located.address);
                if within < located.room {
                    let end = (within + width).min(located.room);
                    room[within as usize..end as usize].fill(0);
                }
            }
            writes.push((located.file_offset, room));
            arrays.push(PatchedArray {
                kind: located.kind,
                written: content.len() as u64,
                room: located.room,
            });
        }

        // The table's `_text`-relative fields, as (array, offset in the array), with the
        // address each refers to.
        let text_fields: HashMap<(ArrayKind, u64), u64> = table
            .text_relocations
            .iter()
            .map(|relocation| {
                table
                    .arrays
                    .iter()
                    .find(|array| relocation.offset.wrapping_sub(array.offset) < array.size)
                    .map(|array| {
                        let target = table.text_address.wrapping_add(relocation.addend as u64);
                        ((array.kind, relocation.offset - array.offset), target)
                    })
                    .ok_or_else(|| {
                        mismatch(format!(
                            "the final table's pointer at offset {:#x} lies in none of its \
                             arrays: a malformed table artifact",
                            relocation.offset
                        ))
                    })
            })
            .collect::<Result<_, _>>()?;
        let mut recorded = HashSet::new();
        for record in &location.relocations {
            let located = location.array_at(record.field_address).ok_or_else(|| {
                mismatch(format!(
                    "the location lists a relocation record for {:#x}, outside the table: a \
                     malformed location artifact",
                    record.field_address
                ))
            })?;
            let within = record.field_address - located.address;
            let content = table.array_bytes(located.kind).expect("checked above");
            let target = if let Some(&target) = text_fields.get(&(located.kind, within)) {
                target
            } else if within >= content.len() as u64 {
                // Room past the final array is zero, and so is the record's result: a
                // place-relative record's target is then its own field.
                match record.reference {
                    TextReference::Pointer => 0,
                    TextReference::PlaceRelative => record.field_address,
                }
            } else {
                return Err(mismatch(format!(
                    "{}+{within:#x} holds an absolute value in the final table, but the link \
                     kept a relocation record for it, which would relocate it: link the \
                     first table with the final table's options",
                    located.kind.label()
                )));
            };
            recorded.insert((located.kind, within));
            if record.rela {
                let addend = target.wrapping_sub(record.symbol_value);
                writes.push((
                    record.record_offset + table.layout.rela_addend_offset(),
                    table.layout.encode_pointer(addend),
                ));
            }
        }
        if !location.relocations.is_empty() {
            if let Some((kind, within)) = text_fields
                .keys()
                .filter(|field| !recorded.contains(field))
                .min_by_key(|(_, within)| *within)
            {
                return Err(mismatch(format!(
                    "the link kept relocation records for the table's pointers, but none for \
                     {}+{within:#x}, which the final table relocates: link the first table \
                     with the final table's options",
                    kind.label()
                )));
            }
        }
        Ok(Patch {
            writes,
            arrays,
            relocations: location.relocations.len() as u32,
            num_syms: table.num_syms,
            placed,
        })
    }

    /// The final table as the file holds it once patched: `table` (the one planned with)
    /// with its place-relative fields as distances from where they are written.
    pub fn table_as_written<'a>(&'a self, table: &'a KallsymsTable) -> &'a KallsymsTable {
        self.placed.as_ref().unwrap_or(table)
    }

    /// Each array as written: content and room.
    pub fn arrays(&self) -> &[PatchedArray] {
        &self.arrays
    }

    /// Relocation records brought in line with their fields.
    pub fn relocations(&self) -> u32 {
        self.relocations
    }

    /// Symbols in the final table.
    pub fn num_syms(&self) -> u32 {
        self.num_syms
    }

    /// Reserved bytes left zero.
    pub fn pad_waste(&self) -> u64 {
        self.arrays
            .iter()
            .map(|array| array.room - array.written)
            .sum()
    }

    /// Writes the planned bytes into `file`, whose content before the patch is `current`
    /// (the file itself, mapped, or the file it is a copy of). Only byte strings that
    /// differ from `current` are written, so a repeated patch writes nothing. Returns how
    /// many bytes changed.
    ///
    /// Byte strings at most `MERGE_GAP` (4 KiB) apart go to the file in one write, with
    /// `current`'s bytes between them: a relocation record's addend is a few bytes from the
    /// next one's, and a large kernel has hundreds of thousands of them.
    pub fn apply(&self, file: &File, current: &[u8]) -> io::Result<u64> {
        let mut in_order: Vec<&(u64, Vec<u8>)> = self.writes.iter().collect();
        in_order.sort_by_key(|(offset, _)| *offset);
        let mut changed = 0u64;
        let mut run: Option<(u64, Vec<u8>)> = None;
        for (offset, bytes) in in_order {
            let start = *offset as usize;
            let old = current.get(start..start + bytes.len()).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "{} bytes at offset {offset:#x} lie past the end of the file",
                        bytes.len()
                    ),
                )
            })?;
            let differing = old.iter().zip(bytes).filter(|(a, b)| a != b).count() as u64;
            if differing == 0 {
                continue;
            }
            changed += differing;
            if let Some((run_start, run_bytes)) = &mut run {
                let run_end = *run_start as usize + run_bytes.len();
                if start >= run_end && (start - run_end) as u64 <= MERGE_GAP {
                    run_bytes.extend_from_slice(&current[run_end..start]);
                    run_bytes.extend_from_slice(bytes);
                    continue;
                }
                file.write_all_at(run_bytes, *run_start)?;
            }
            run = Some((*offset, bytes.clone()));
        }
        if let Some((start, bytes)) = run {
            file.write_all_at(&bytes, start)?;
        }
        Ok(changed)
    }
}

/// The largest distance between two byte strings of a patch that [`Patch::apply`] writes
/// together.
const MERGE_GAP: u64 = 4096;

/// `table` with each place-relative field holding the distance from its place in
/// `location` to the address it refers to (the value the linker gives such a field), or
/// `None` if it has no such field. The distance must fit in 32 signed bits, as the kernel
/// reads it.
fn place(
    location: &TableLocation,
    table: &KallsymsTable,
) -> Result<Option<KallsymsTable>, PatchError> {
    let mut relocations = table
        .text_relocations
        .iter()
        .filter(|relocation| relocation.reference == TextReference::PlaceRelative)
        .peekable();
    if relocations.peek().is_none() {
        return Ok(None);
    }
    let mut placed = table.clone();
    for relocation in relocations {
        let (array, located) = table
            .arrays
            .iter()
            .find(|array| relocation.offset.wrapping_sub(array.offset) < array.size)
            .and_then(|array| location.array(array.kind).map(|located| (array, located)))
            .ok_or_else(|| PatchError::Mismatch {
                path: location.elf.clone(),
                message: format!(
                    "the final table's place-relative field at offset {:#x} lies in none of \
                     the located arrays: a malformed table artifact",
                    relocation.offset
                ),
            })?;
        let field_address = located.address + (relocation.offset - array.offset);
        let target = table.text_address.wrapping_add(relocation.addend as u64);
        let distance = target.wrapping_sub(field_address) as i64;
        let Ok(distance) = i32::try_from(distance) else {
            return Err(PatchError::Mismatch {
                path: location.elf.clone(),
                message: format!(
                    "{}+{:#x} at {field_address:#x} refers to {target:#x}, {distance:#x} bytes \
                     away: more than a 32-bit place-relative entry holds (upstream's \
                     \"relative symbol value out of range\")",
                    array.kind.label(),
                    relocation.offset - array.offset,
                ),
            });
        };
        let at = relocation.offset as usize;
        placed.data[at..at + 4].copy_from_slice(&table.layout.encode_u32(distance as u32));
    }
    Ok(Some(placed))
}

/// "64-bit little-endian", for messages.
pub(crate) fn describe(layout: DataLayout) -> String {
    format!(
        "{}-bit {}-endian",
        layout.pointer_bytes as u32 * 8,
        if layout.big_endian { "big" } else { "little" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kslink_schema::{LocatedArray, LocatedSection, TableArray, TableOptions, TextRelocation};

    /// A 7.x table of one place-relative entry for a symbol `distance` bytes after `_text`,
    /// located with `kallsyms_offsets` at `offsets_address`.
    fn one_entry(distance: i64, offsets_address: u64) -> (TableLocation, KallsymsTable) {
        let layout = DataLayout {
            pointer_bytes: 8,
            big_endian: false,
        };
        let text_address = 0xffff_ffff_8100_0000;
        let table = KallsymsTable {
            profile: "linux-7.3".to_string(),
            options: TableOptions {
                pc_relative: true,
                ..TableOptions::default()
            },
            layout,
            num_syms: 1,
            text_address,
            relative_base: 0,
            data: (distance as i32).to_le_bytes().to_vec(),
            arrays: vec![TableArray {
                kind: ArrayKind::Offsets,
                offset: 0,
                size: 4,
            }],
            text_relocations: vec![TextRelocation {
                offset: 0,
                addend: distance,
                reference: TextReference::PlaceRelative,
            }],
            tokens: Vec::new(),
        };
        let location = TableLocation {
            elf: "vmlinux".to_string(),
            elf_len: 0x2000,
            layout,
            section: LocatedSection {
                name: ".rodata".to_string(),
                index: 1,
                address: offsets_address,
                file_offset: 0x1000,
                size: 4,
            },
            text_address,
            arrays: vec![LocatedArray {
                kind: ArrayKind::Offsets,
                address: offsets_address,
                file_offset: 0x1000,
                room: 4,
            }],
            relocations: Vec::new(),
        };
        (location, table)
    }

    #[test]
    fn apply_writes_what_differs_in_merged_runs_and_keeps_the_bytes_between() {
        let current: Vec<u8> = (0..=255u8).cycle().take(3 * MERGE_GAP as usize).collect();
        let gap = MERGE_GAP as usize;
        let patch = Patch {
            // Out of order, one the same as the file, one too far to merge.
            writes: vec![
                (40, vec![0xaa, 0xbb]),
                (8, vec![0xcc]),
                (20, current[20..24].to_vec()),
                (42 + gap as u64 + 1, vec![0xdd]),
            ],
            placed: None,
            arrays: Vec::new(),
            relocations: 0,
            num_syms: 0,
        };
        let dir = std::env::temp_dir().join(format!("kslink-patch-apply-{}", std::process::id()));
        std::fs::write(&dir, &current).unwrap();
        let file = File::options().read(true).write(true).open(&dir).unwrap();
        assert_eq!(patch.apply(&file, &current).unwrap(), 4);
        let written = std::fs::read(&dir).unwrap();
        std::fs::remove_file(&dir).unwrap();
        let mut expected = current.clone();
        expected[40..42].copy_from_slice(&[0xaa, 0xbb]);
        expected[8] = 0xcc;
        expected[42 + gap + 1] = 0xdd;
        assert_eq!(written, expected);
    }

    #[test]
    fn place_relative_entry_holds_the_distance_from_itself() {
        let (location, table) = one_entry(0x10, 0xffff_ffff_8120_0000);
        let patch = Patch::plan(&location, &table).unwrap();
        // _text + 0x10 seen from _text + 0x20_0000.
        let expected = (0x10i32 - 0x20_0000).to_le_bytes();
        assert_eq!(patch.writes, vec![(0x1000, expected.to_vec())]);
        assert_eq!(patch.table_as_written(&table).data, expected);
    }

    #[test]
    fn place_relative_entry_beyond_32_signed_bits_is_an_error() {
        let symbol: u64 = 0xffff_ffff_8100_0010;
        // Entries at the extremes an i32 holds, and one byte beyond each.
        for (entry, fits) in [
            (symbol - i32::MAX as u64, true),
            (symbol - i32::MAX as u64 - 1, false),
            (symbol.wrapping_add(1 << 31), true),
            (symbol.wrapping_add((1 << 31) + 1), false),
        ] {
            let (location, table) = one_entry(0x10, entry);
            match Patch::plan(&location, &table) {
                Ok(_) => assert!(fits, "{entry:#x}: planned"),
                Err(PatchError::Mismatch { message, .. }) => {
                    assert!(!fits, "{entry:#x}: {message}");
                    assert!(message.contains("32-bit place-relative entry"), "{message}");
                }
                Err(other) => panic!("{entry:#x}: {other}"),
            }
        }
    }
}
