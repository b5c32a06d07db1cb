//! The bodies of kslink's fuzz targets: one function per parser that reads what a user gives
//! kslink, each taking the fuzzer's bytes.
//!
//! `fuzz/` (cargo-fuzz, libFuzzer) calls each function from a target of the same name, and
//! `tests/tests/fuzz_inputs.rs` replays every committed input (`fuzz/corpus/TARGET/`,
//! `fuzz/regressions/TARGET/`) through it without a fuzzer. [`TARGETS`] lists them.
//!
//! For every function, an `Err` from the parser is the correct outcome for bad input; a
//! failure is a panic (which includes an arithmetic overflow or an out-of-bounds index in a
//! build with those checks), a hang or a huge allocation on small input.
//!
//! ELF readers read their input in place and need it aligned as a memory map is, so each
//! function copies the ELF bytes to an 8-byte aligned buffer first; a few functions take
//! their first bytes as options (the profile, decoding options), as documented on each.

#![deny(missing_docs)]

use std::io;

use kslink_linker_model::archive::{Archive, MAGIC, THIN_MAGIC};
use kslink_linker_model::relocatable::{Object, ObjectName};
use kslink_linker_script::Script;
use kslink_schema::artifact::{self, ArtifactKind, HEADER_LEN, SCHEMA_VERSION};
use kslink_schema::{
    KallsymsTable, PadSpec, PatchReport, SymbolOrigin, SymbolSet, TableLocation, TableOptions,
};
use kslink_system_map::mksysmap::MKSYSMAPS;
use kslink_table::PROFILES;
use kslink_verify::ElfDecodeOptions;
use sha2::{Digest, Sha256};

/// A target's function: it feeds the fuzzer's bytes to a parser.
pub type Target = fn(&[u8]);

/// Every target: its name (the cargo-fuzz target and the directory of its inputs under
/// `fuzz/corpus/` and `fuzz/regressions/`) and its function.
pub const TARGETS: &[(&str, Target)] = &[
    ("linked_symbols", linked_symbols),
    ("input_file", input_file),
    ("linker_script", linker_script),
    ("symbol_map", symbol_map),
    ("artifact", artifact),
    ("table_decoder", table_decoder),
    ("locate", locate),
];

/// A copy of some bytes that starts at an 8-byte aligned address, as a memory map does.
struct Aligned {
    buffer: Vec<u8>,
    start: usize,
}

impl Aligned {
    fn new(bytes: &[u8]) -> Aligned {
        let mut buffer = vec![0u8; bytes.len() + 7];
        let start = buffer.as_ptr().align_offset(8);
        buffer[start..start + bytes.len()].copy_from_slice(bytes);
        buffer.truncate(start + bytes.len());
        Aligned { buffer, start }
    }

    fn bytes(&self) -> &[u8] {
        &self.buffer[self.start..]
    }
}

/// `payload` as the complete artifact file of kind `kind`: header, length and digest right,
/// so that the fuzzer's bytes reach the payload decoder instead of failing the digest.
pub fn artifact_file(kind: u16, payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0u8; HEADER_LEN];
    bytes[..8].copy_from_slice(&artifact::MAGIC);
    bytes[8..10].copy_from_slice(&kind.to_le_bytes());
    bytes[10..12].copy_from_slice(&SCHEMA_VERSION.to_le_bytes());
    bytes[16..24].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes[24..56].copy_from_slice(&Sha256::digest(payload));
    bytes.extend_from_slice(payload);
    bytes
}

/// The linked-ELF symbol reader of `kslink-collect` (what `collect_linked` does to a
/// `vmlinux`): `data` is an ELF file. [`kslink_system_map::read_linked`], then `nm -n` order,
/// the `nm` text, the `SymbolSet`, and every version's mksysmap filter.
pub fn linked_symbols(data: &[u8]) {
    let data = Aligned::new(data);
    let Ok(mut symbols) = kslink_system_map::read_linked(data.bytes()) else {
        return;
    };
    symbols.sort_nm_numeric();
    symbols.write_nm(io::sink()).expect("a sink takes anything");
    let _ = symbols.to_symbol_set(SymbolOrigin::Linked {
        path: "fuzz".into(),
    });
    for mksysmap in MKSYSMAPS {
        symbols.retain_mksysmap_of(mksysmap);
    }
}

/// The reader of a link's input files of `kslink-collect --predict`: `data` is a relocatable
/// ELF object or an archive, told apart by magic as the stage does. An object goes through
/// [`Object::parse`] and its relocation types; an archive through [`Archive::parse`], its
/// members, its index (each entry's member looked up) and [`Object::parse`] of every member
/// with data.
pub fn input_file(data: &[u8]) {
    if data.starts_with(&object::elf::ELFMAG) {
        read_object(data, b"fuzz.o");
    } else if data.starts_with(MAGIC) || data.starts_with(THIN_MAGIC) {
        let Ok(archive) = Archive::parse(data) else {
            return;
        };
        if let Ok(Some(index)) = archive.index() {
            for (_, offset) in index {
                let _ = archive.member(offset);
            }
        }
        let Ok(members) = archive.members() else {
            return;
        };
        for member in members {
            if let Some(data) = member.data {
                read_object(data, member.name);
            }
        }
    }
}

fn read_object(data: &[u8], name: &[u8]) {
    let data = Aligned::new(data);
    let name = ObjectName {
        display: String::from_utf8_lossy(name).into_owned(),
        file_name: name.to_vec(),
        archive: None,
        top_level: true,
    };
    let Ok(object) = Object::parse(data.bytes(), name) else {
        return;
    };
    for target in 0..object.sections.len() as u32 {
        object.relocation_types(target).for_each(drop);
    }
    for (_, symbol) in object.globals() {
        let _ = (symbol.binding(), symbol.kind(), symbol.visibility());
    }
    for section in &object.sections {
        let _ = (section.is_placed(), section.is_writable());
    }
}

/// The linker-script lexer and parser of `kslink-collect --predict`: `data` is a script
/// such as `vmlinux.lds`. [`Script::parse`], then every expression's constant value and the
/// symbols and sections it refers to.
pub fn linker_script(data: &[u8]) {
    let Ok(script) = Script::parse(data, "fuzz.lds") else {
        return;
    };
    let _ = script.referenced_symbols();
    script.for_each_expr(|expr| {
        let _ = expr.constant();
        expr.for_each_symbol(&mut drop);
        expr.for_each_section_address(&mut drop);
    });
}

/// The `nm`-style map parser of `kslink-table` (a System.map, or `nm` output for 6.1):
/// `data[0]` picks the profile (and so the map syntax) and the table options, the rest is
/// the map. [`kslink_table::read_map`], then the table built from what it read.
pub fn symbol_map(data: &[u8]) {
    let Some((&options, map)) = data.split_first() else {
        return;
    };
    let profile = &PROFILES[usize::from(options & 0x3) % PROFILES.len()];
    let Ok(symbols) = kslink_table::read_map(map, "fuzz.map", profile) else {
        return;
    };
    let options = TableOptions {
        all_symbols: options & 0x04 != 0,
        absolute_percpu: options & 0x08 != 0,
        base_relative: options & 0x10 != 0,
        lto_clang: options & 0x20 != 0,
        pc_relative: options & 0x40 != 0,
    };
    let _ = kslink_table::build(symbols, profile, options);
}

/// The artifact decoder of `kslink-schema` that every stage reads its inputs with: `data[0]`
/// is a kind (1 to 5), the rest a payload, which is decoded as that kind's artifact with a
/// correct header and digest ([`artifact_file`]); `data` itself is also decoded as a whole
/// file of every kind, for the header checks. A decoded `SymbolSet` also goes through
/// [`kslink_table::symbols_from_set`] of every profile, as `kslink-table` reads it.
pub fn artifact(data: &[u8]) {
    decode_every_kind(data);
    let Some((&kind, payload)) = data.split_first() else {
        return;
    };
    decode_every_kind(&artifact_file(u16::from(kind), payload));
}

fn decode_every_kind(file: &[u8]) {
    let _ = artifact::sniff(file);
    if let Ok(set) = artifact::decode::<SymbolSet>(file) {
        for profile in PROFILES {
            let _ = kslink_table::symbols_from_set(&set, profile, "fuzz");
        }
    }
    let _ = artifact::decode::<KallsymsTable>(file);
    let _ = artifact::decode::<PadSpec>(file);
    let _ = artifact::decode::<TableLocation>(file);
    let _ = artifact::decode::<PatchReport>(file);
}

/// The table decoder of `kslink-verify`: `data[0]` holds the options, the rest is the input.
/// With bit 7 set, the rest is a `KallsymsTable` payload ([`artifact_file`]) read with
/// [`kslink_verify::view_artifact`]; otherwise an ELF file read with
/// [`kslink_verify::view_elf`], bits 0-1 giving `--absolute-percpu` (none, yes, no), bits
/// 2-3 `--pc-relative` and bit 4 a `--text-address`. Then the table is checked and decoded
/// and its symbols written as `/proc/kallsyms`.
pub fn table_decoder(data: &[u8]) {
    let Some((&options, input)) = data.split_first() else {
        return;
    };
    if options & 0x80 != 0 {
        let file = artifact_file(ArtifactKind::KallsymsTable as u16, input);
        let Ok(table) = artifact::decode::<KallsymsTable>(&file) else {
            return;
        };
        if let Ok(view) = kslink_verify::view_artifact(&table) {
            decode_view(&view);
        }
        return;
    }
    let tristate = |bits: u8| match bits & 0x3 {
        1 => Some(true),
        2 => Some(false),
        _ => None,
    };
    let input = Aligned::new(input);
    let Ok(elf) = object::File::parse(input.bytes()) else {
        return;
    };
    let options = ElfDecodeOptions {
        absolute_percpu: tristate(options),
        pc_relative: tristate(options >> 2),
        text_address: if options & 0x10 != 0 {
            0xffff_ffff_8100_0000
        } else {
            0
        },
    };
    if let Ok(view) = kslink_verify::view_elf(&elf, options) {
        decode_view(&view);
    }
}

fn decode_view(view: &kslink_verify::TableView<'_>) {
    let _ = view.num_syms();
    let _ = view.check();
    if let Ok(symbols) = view.symbols() {
        kslink_verify::write_proc_kallsyms(&symbols, view.pointer_bytes(), &mut io::sink())
            .expect("a sink takes anything");
    }
}

/// The reader of `kslink-locate`: a frame and a linked ELF file. `data[0]` bit 0 picks the
/// placement (the labels, or the section `.kallsyms`), `data[1..3]` is the length `n` of
/// the frame (a `PadSpec` payload, [`artifact_file`]) that follows; the rest is the ELF
/// file. [`kslink_locate::locate`] of that frame in that file.
pub fn locate(data: &[u8]) {
    let Some((&[flags, len_lo, len_hi], rest)) = data.split_first_chunk::<3>() else {
        return;
    };
    let len = usize::from(u16::from_le_bytes([len_lo, len_hi]));
    if rest.len() < len {
        return;
    }
    let (frame, elf) = rest.split_at(len);
    let frame = artifact_file(ArtifactKind::PadSpec as u16, frame);
    let Ok(frame) = artifact::decode::<PadSpec>(&frame) else {
        return;
    };
    let placement = if flags & 1 != 0 {
        kslink_locate::Placement::Section(".kallsyms")
    } else {
        kslink_locate::Placement::Labels
    };
    let elf = Aligned::new(elf);
    let _ = kslink_locate::locate(elf.bytes(), "fuzz", &frame, placement);
}
