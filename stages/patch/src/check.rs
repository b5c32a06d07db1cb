//! Whether a location was taken from the file about to be patched: the same length, byte
//! order and word size, the same containing section, and relocation records still where
//! the location says.

use kslink_schema::{DataLayout, TableLocation};
use object::elf;
use object::read::elf::{FileHeader, SectionHeader};
use object::{Endianness, SectionIndex};

use crate::plan::describe;

/// Checks that `location` describes the ELF file `data`; the error says what differs.
pub(crate) fn location_matches(data: &[u8], location: &TableLocation) -> Result<(), String> {
    let again = "locate the table in this file (kslink-locate)";
    if data.len() as u64 != location.elf_len {
        return Err(format!(
            "the location was taken from a file of {} bytes ({}), this one has {}: {again}",
            location.elf_len,
            location.elf,
            data.len()
        ));
    }
    let header = match data.get(..5) {
        Some([0x7f, b'E', b'L', b'F', elf::ELFCLASS32]) => {
            section_header::<elf::FileHeader32<Endianness>>(data, location)
        }
        Some([0x7f, b'E', b'L', b'F', elf::ELFCLASS64]) => {
            section_header::<elf::FileHeader64<Endianness>>(data, location)
        }
        _ => return Err("not an ELF file of a known class".to_string()),
    }?;
    if header.layout != location.layout {
        return Err(format!(
            "a {} file, but the location is of a {} one ({}): {again}",
            describe(header.layout),
            describe(location.layout),
            location.elf
        ));
    }
    let expected = &location.section;
    if header.name.as_bytes() != expected.name.as_bytes()
        || header.address != expected.address
        || header.file_offset != expected.file_offset
        || header.size != expected.size
    {
        return Err(format!(
            "section {} is {} ({:#x} bytes at {:#x}, file offset {:#x}), but the location was \
             taken where it is {} ({:#x} bytes at {:#x}, file offset {:#x}) in {}: {again}",
            expected.index,
            header.name,
            header.size,
            header.address,
            header.file_offset,
            expected.name,
            expected.size,
            expected.address,
            expected.file_offset,
            location.elf
        ));
    }
    let section_end = expected.file_offset + expected.size;
    for array in &location.arrays {
        if array.file_offset < expected.file_offset
            || array.file_offset.saturating_add(array.room) > section_end
        {
            return Err(format!(
                "the location puts {} outside section {}: a malformed location artifact",
                array.kind.label(),
                expected.name
            ));
        }
    }
    // A record's `r_offset` is the address of the field it relocates.
    for record in &location.relocations {
        let r_offset = usize::try_from(record.record_offset)
            .ok()
            .and_then(|at| data.get(at..))
            .and_then(|bytes| location.layout.decode_pointer(bytes));
        if r_offset != Some(record.field_address) {
            return Err(format!(
                "no relocation record for {:#x} at file offset {:#x}, where the location \
                 found one: {again}",
                record.field_address, record.record_offset
            ));
        }
    }
    Ok(())
}

/// The file's layout and the section header the location names, as found in the file.
struct FoundSection {
    layout: DataLayout,
    name: String,
    address: u64,
    file_offset: u64,
    size: u64,
}

fn section_header<Elf: FileHeader<Endian = Endianness>>(
    data: &[u8],
    location: &TableLocation,
) -> Result<FoundSection, String> {
    let malformed = |err: object::read::Error| format!("malformed or truncated ELF file: {err}");
    let header = Elf::parse(data).map_err(malformed)?;
    let endian = header.endian().map_err(malformed)?;
    let sections = header.sections(endian, data).map_err(malformed)?;
    let index = location.section.index as usize;
    let section = sections.section(SectionIndex(index)).map_err(|_| {
        format!(
            "the file has {} sections, the location names section {index} ({}): locate the \
             table in this file (kslink-locate)",
            sections.len(),
            location.section.name
        )
    })?;
    let name = sections.section_name(endian, section).map_err(malformed)?;
    Ok(FoundSection {
        layout: DataLayout {
            pointer_bytes: if header.is_type_64() { 8 } else { 4 },
            big_endian: endian == Endianness::Big,
        },
        name: String::from_utf8_lossy(name).into_owned(),
        address: section.sh_addr(endian).into(),
        file_offset: section.sh_offset(endian).into(),
        size: section.sh_size(endian).into(),
    })
}
