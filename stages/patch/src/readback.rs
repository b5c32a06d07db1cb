//! The check after a patch: the file, read back, holds the final table where the kernel will
//! read it, and that table describes the file's own symbols.
//!
//! Upstream's `scripts/link-vmlinux.sh` checks that the System.map of the final vmlinux
//! equals the map its last table was made from ("Inconsistent kallsyms data"): a check of
//! the inputs, not of the table. This one decodes the table from the patched bytes as the
//! kernel reads it and compares every symbol with the file's symbol table.

use std::borrow::Cow;
use std::collections::HashMap;

use kslink_schema::{ArrayKind, KallsymsTable, LocatedArray, TableLocation, TextReference};
use kslink_system_map::read_linked;
use kslink_verify::{view_linked_arrays, KernelSymbol};

/// Checks the patched file `data` against `location` and the final `table`:
///
/// 1. every room holds the final table's array followed by zeros (and zeros in the fields
///    the link leaves to the loader, [`kslink_schema::LocatedRelocation::applied`]);
/// 2. every label the file defines for an array is at the array's located address (the
///    kernel reads the arrays through them);
/// 3. the arrays, taken from their rooms in the file as the loader leaves them (the fields it
///    fills given their records' results), are consistent (markers, token index,
///    name order: [`kslink_verify::TableView::check`]) and decode to `kallsyms_num_syms`
///    symbols, each of which is one of the file's: same name, address and type letter as
///    `nm` lists it ([`read_linked`]; the unfiltered listing, since 6.1's generator reads
///    that), but for the letter `A` that `--absolute-percpu` gives the symbols between
///    `__per_cpu_start` and `__per_cpu_end`;
/// 4. every RELA record kept for a `_text`-relative field agrees with the field: the
///    record's symbol plus its addend is a pointer field's value (for a field left to the
///    loader, the final table's value), less the field's address a place-relative one's.
///
/// Only the headers, the symbol table, the rooms and the records are read. Returns the
/// number of symbols checked.
pub(crate) fn verify(
    data: &[u8],
    location: &TableLocation,
    table: &KallsymsTable,
) -> Result<u64, String> {
    if data.len() as u64 != location.elf_len {
        return Err(format!(
            "it has {} bytes, {} before the patch: it was changed while being patched",
            data.len(),
            location.elf_len
        ));
    }
    let room = |array: &LocatedArray| {
        let start = array.file_offset as usize;
        &data[start..start + array.room as usize]
    };
    let layout = location.layout;
    let width = u64::from(layout.pointer_bytes);
    let read = |offset: u64| {
        usize::try_from(offset)
            .ok()
            .and_then(|at| data.get(at..))
            .and_then(|bytes| layout.decode_pointer(bytes))
    };
    let read_u32 = |offset: u64| {
        usize::try_from(offset)
            .ok()
            .and_then(|at| data.get(at..))
            .and_then(|bytes| layout.decode_u32(bytes))
            .map(u64::from)
    };
    // The fields the loader fills, by address, with what their records give.
    let mut loaded: HashMap<u64, u64> = HashMap::new();
    for record in location.relocations.iter().filter(|r| r.rela && !r.applied) {
        let addend = read(record.record_offset + layout.rela_addend_offset()).ok_or_else(|| {
            format!(
                "the relocation record for {:#x} is cut off",
                record.field_address
            )
        })?;
        let value = layout.truncate_pointer(record.symbol_value.wrapping_add(addend));
        loaded.insert(record.field_address, value);
    }
    for array in &location.arrays {
        let content = table
            .array_bytes(array.kind)
            .expect("the plan matched the arrays");
        let mut expected = content.to_vec();
        expected.resize(array.room as usize, 0);
        for &field in loaded.keys() {
            let within = field.wrapping_sub(array.address);
            if within < array.room {
                let end = (within + width).min(array.room);
                let field_content = &mut expected[within as usize..end as usize];
                // The record must give what the final table holds there.
                let value = layout.decode_pointer(field_content).unwrap_or(0);
                if loaded[&field] != value {
                    return Err(format!(
                        "the relocation records for {:#x} give {:#x}, the final table holds \
                         {value:#x}",
                        field, loaded[&field]
                    ));
                }
                field_content.fill(0);
            }
        }
        if room(array) != expected.as_slice() {
            return Err(format!(
                "{} does not hold the final table's array followed by zeros",
                array.kind.label()
            ));
        }
    }
    // The arrays as the kernel reads them: after the loader filled its fields.
    let as_loaded = |array: &LocatedArray| -> Cow<'_, [u8]> {
        let mut bytes = Cow::Borrowed(room(array));
        for (&field, &value) in &loaded {
            let within = field.wrapping_sub(array.address);
            if within < array.room && array.room - within >= width {
                let at = within as usize;
                bytes.to_mut()[at..at + width as usize]
                    .copy_from_slice(&layout.encode_pointer(value));
            }
        }
        bytes
    };

    let linked = read_linked(data).map_err(|e| format!("cannot read the symbols back: {e}"))?;
    // The file's symbols by address, to look each decoded one up by its address: sorting
    // integers and searching them touches far less memory than hashing the names.
    let mut by_address: Vec<(u64, u32)> = linked
        .symbols
        .iter()
        .enumerate()
        .map(|(index, symbol)| (symbol.address, index as u32))
        .collect();
    by_address.sort_unstable();
    let defined_at = |address: u64| {
        let first = by_address.partition_point(|&(at, _)| at < address);
        by_address[first..]
            .iter()
            .take_while(move |&&(at, _)| at == address)
            .map(|&(_, index)| &linked.symbols[index as usize])
    };
    // The few names looked up by name alone.
    let mut named: HashMap<&[u8], Vec<(u64, u8)>> = HashMap::new();
    for symbol in &linked.symbols {
        let wanted = symbol.name.starts_with(b"__per_cpu_")
            || (symbol.name.starts_with(b"kallsyms_")
                && std::str::from_utf8(symbol.name)
                    .is_ok_and(|name| ArrayKind::from_label(name).is_some()));
        if wanted {
            named
                .entry(symbol.name)
                .or_default()
                .push((symbol.address, symbol.type_letter));
        }
    }

    for array in &location.arrays {
        let label = array.kind.label();
        let misplaced = named.get(label.as_bytes()).and_then(|defined| {
            defined
                .iter()
                .find(|(address, letter)| letter.is_ascii_uppercase() && *address != array.address)
        });
        if let Some((address, _)) = misplaced {
            return Err(format!(
                "{label} is at {address:#x}, but the table was written at {:#x}",
                array.address
            ));
        }
    }

    let options = table.options;
    let rooms: Vec<(ArrayKind, Cow<[u8]>)> = location
        .arrays
        .iter()
        .map(|array| (array.kind, as_loaded(array)))
        .collect();
    // Decoded as the profile's kernel/kallsyms.c reads it: a table in another version's
    // format is an error here, not a wrong list.
    let offsets_address = location
        .array(ArrayKind::Offsets)
        .map_or(0, |array| array.address);
    let written = view_linked_arrays(
        location.layout,
        rooms.iter().map(|(kind, bytes)| (*kind, bytes.as_ref())),
        &table.profile,
        options,
        offsets_address,
    )
    .and_then(|view| {
        view.check()?;
        view.symbols()
    })
    .map_err(|e| format!("the patched table does not decode: {e}"))?;
    if written.len() as u64 != u64::from(table.num_syms) {
        return Err(format!(
            "the patched table lists {} symbols, kallsyms_num_syms says {}",
            written.len(),
            table.num_syms
        ));
    }

    let address_of = |name: &[u8]| {
        named
            .get(name)
            .and_then(|defined| defined.first())
            .map(|(address, _)| *address)
    };
    // The range upstream's generator makes absolute (bounds included); none without the
    // option, or without the bounds.
    let percpu = match (address_of(b"__per_cpu_start"), address_of(b"__per_cpu_end")) {
        (Some(start), Some(end)) if options.absolute_percpu => Some(start..=end),
        _ => None,
    };
    for (index, symbol) in written.iter().enumerate() {
        let absolute_percpu = symbol.type_letter == b'A'
            && percpu
                .as_ref()
                .is_some_and(|range| range.contains(&symbol.address));
        let agrees = defined_at(symbol.address).any(|defined| {
            defined.name == symbol.name.as_slice()
                && (absolute_percpu || defined.type_letter == symbol.type_letter)
        });
        if !agrees {
            let file_has: Vec<String> = linked
                .symbols
                .iter()
                .filter(|defined| defined.name == symbol.name.as_slice())
                .map(|defined| format!("{} at {:#x}", defined.type_letter as char, defined.address))
                .collect();
            return Err(format!(
                "symbol {index} of the table, {}, is not in the file's symbol table (which has \
                 {}): the final table was not built from this file's symbols",
                shown(symbol),
                if file_has.is_empty() {
                    "no symbol of that name".to_string()
                } else {
                    file_has.join(", ")
                }
            ));
        }
    }

    for record in location
        .relocations
        .iter()
        .filter(|record| record.rela && record.applied)
    {
        let array = location
            .array_at(record.field_address)
            .expect("the plan placed every record");
        let field_offset = array.file_offset + (record.field_address - array.address);
        let field = match record.reference {
            TextReference::Pointer => read(field_offset),
            TextReference::PlaceRelative => read_u32(field_offset),
        };
        let addend = read(record.record_offset + layout.rela_addend_offset());
        let (Some(field), Some(addend)) = (field, addend) else {
            return Err(format!(
                "the relocation record for {:#x} is cut off",
                record.field_address
            ));
        };
        let target = record.symbol_value.wrapping_add(addend);
        let result = match record.reference {
            TextReference::Pointer => layout.truncate_pointer(target),
            TextReference::PlaceRelative => target.wrapping_sub(record.field_address) & 0xffff_ffff,
        };
        if result != field {
            return Err(format!(
                "the relocation record at file offset {:#x} gives {result:#x}, the field at \
                 {:#x} holds {field:#x}",
                record.record_offset, record.field_address
            ));
        }
    }
    Ok(written.len() as u64)
}

/// `T name at 0x…`, for messages.
fn shown(symbol: &KernelSymbol) -> String {
    format!(
        "{} {} at {:#x}",
        symbol.type_letter as char,
        String::from_utf8_lossy(&symbol.name),
        symbol.address
    )
}
