//! `kslink-locate` and `kslink-patch` on real linked files, run as the executables:
//!
//! - the small 6.12 and 6.1 kernels of the test fixture and Debian's 6.12 vmlinux (354 MB)
//!   carry upstream's own final table: patched with the table kslink builds from their own
//!   symbols, in a frame of exactly its size, they come out byte-identical, and the report
//!   says nothing changed;
//! - a table with fewer symbols, patched into those kernels, decodes as that table, and
//!   nothing outside the rooms changed; `--in-place` gives the same bytes, and again when
//!   repeated;
//! - programs linked with `ld --emit-relocs` (and as a PIE, with dynamic relocations) for
//!   x86-64, i386, big-endian AArch64 and big-endian Arm, with a first table whose relative
//!   base (6.1 without base-relative: every address) differs from the final one: the
//!   relocation records agree with their fields afterwards, as `readelf -r` shows them; a
//!   table in a section of its own is found with `--section`;
//! - bad inputs: exit status, one line on stderr, the output untouched and no file left
//!   behind.
//!
//! Until the pad stage exists the frame is `kslink_tests::exact_frame`: the first table's own
//! sizes, what the pad stage makes with no slack.

mod common;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{kbuild_flags, kslink_build, profile_name};
use kslink_collect::{linked_symbols, open_input};
use kslink_schema::{
    artifact, ArrayKind, KallsymsTable, PatchReport, TableLocation, TextReference,
};
use kslink_system_map::Mksysmap;
use kslink_table::{write_object, Arch as TableArch};
use kslink_tests::tempdir;
use kslink_tests::{bin_path, debian_vmlinux, exact_frame, kernel_tree, KernelVersion};
use kslink_verify::{view_artifact, view_elf, ElfDecodeOptions, KernelSymbol};
use object::{Object, ObjectSection, ObjectSymbol};

// ---------------------------------------------------------------------------------------
// Running the stages
// ---------------------------------------------------------------------------------------

fn run_stage(name: &str, args: &[&Path]) -> Output {
    Command::new(bin_path(name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"))
}

#[track_caller]
fn expect_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs kslink-locate; `section` selects `--section`.
fn locate(pad: &Path, elf: &Path, location: &Path, section: Option<&str>) -> Output {
    let mut args: Vec<&Path> = vec![Path::new("--pad"), pad];
    if let Some(name) = section {
        args.extend([Path::new("--section"), Path::new(name)]);
    }
    args.extend([Path::new("-o"), location, elf]);
    run_stage("kslink-locate", &args)
}

/// Runs kslink-patch with a report; `output` None patches in place.
fn patch(
    location: &Path,
    table: &Path,
    report: &Path,
    output: Option<&Path>,
    elf: &Path,
) -> Output {
    let mut args: Vec<&Path> = vec![
        Path::new("--location"),
        location,
        Path::new("--table"),
        table,
        Path::new("--report"),
        report,
    ];
    match output {
        Some(out) => args.extend([Path::new("-o"), out]),
        None => args.push(Path::new("--in-place")),
    }
    args.push(elf);
    run_stage("kslink-patch", &args)
}

fn write_artifact<A: kslink_schema::Artifact>(path: &Path, value: &A) -> PathBuf {
    artifact::write(path, value).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path.to_path_buf()
}

fn read_artifact<A: kslink_schema::Artifact>(path: &Path) -> A {
    artifact::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The names of the files in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Whether two files have the same bytes, read in chunks (one may be 354 MB).
fn same_contents(a: &Path, b: &Path) -> bool {
    let open = |p: &Path| fs::File::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let (mut fa, mut fb) = (open(a), open(b));
    if fa.metadata().unwrap().len() != fb.metadata().unwrap().len() {
        return false;
    }
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = fa.read(&mut ba).unwrap();
        if n == 0 {
            return true;
        }
        fb.read_exact(&mut bb[..n]).unwrap();
        if ba[..n] != bb[..n] {
            return false;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Tables from linked files
// ---------------------------------------------------------------------------------------

/// The map a version's generator reads of a linked file: System.map (`nm -n | mksysmap` of
/// that version) for 7.3 and 6.12, plain `nm -n` for 6.1 (whose generator filters the same
/// names itself on x86_64).
fn generator_map(elf: &Path, version: KernelVersion) -> Vec<u8> {
    let file = open_input(elf).unwrap_or_else(|e| panic!("{e}"));
    let mut symbols = linked_symbols(&file).unwrap_or_else(|e| panic!("{e}"));
    if version != KernelVersion::V6_1 {
        symbols.retain_mksysmap_of(Mksysmap::of_profile(profile_name(version)).unwrap());
    }
    symbols.sort_nm_numeric();
    let mut map = Vec::new();
    symbols.write_nm(&mut map).unwrap();
    map
}

fn table_of_map(version: KernelVersion, flags: &[&str], map: &[u8], arch: &str) -> KallsymsTable {
    let built = kslink_build(version, flags, map).unwrap_or_else(|e| panic!("{e}"));
    built.to_artifact(TableArch::by_name(arch).unwrap().layout())
}

/// The map without every `step`-th line (never `_text`'s, which pointers are relative to).
fn fewer_lines(map: &[u8], step: usize) -> Vec<u8> {
    map.split_inclusive(|&b| b == b'\n')
        .enumerate()
        .filter(|(i, line)| i % step != step / 2 || line.ends_with(b" _text\n"))
        .flat_map(|(_, line)| line.to_vec())
        .collect()
}

/// Whether every array of `table` is at most as large as that array of `frame`. Fewer
/// symbols do not always mean a smaller token table (its tokens depend on the names), so
/// the test picks a subset that fits rather than assuming one does.
fn fits_in(table: &KallsymsTable, frame: &KallsymsTable) -> bool {
    table.arrays.iter().all(|array| {
        frame
            .arrays
            .iter()
            .any(|room| room.kind == array.kind && array.size <= room.size)
    })
}

/// The map with addresses off as a prediction made before the link could have them: every
/// symbol 0x1000 later and `_text` 0x2000 later, so that the relative base and every
/// pointer's distance from `_text` differ from the linked file's.
fn mispredicted(map: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(map.to_vec()).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let (address, rest) = line.split_once(' ').unwrap();
        let width = address.len();
        let delta = if rest.ends_with(" _text") {
            0x2000
        } else {
            0x1000
        };
        let moved = u64::from_str_radix(address, 16).unwrap() + delta;
        out.push_str(&format!("{moved:0width$x} {rest}\n"));
    }
    out.into_bytes()
}

fn decoded(table: &KallsymsTable) -> Vec<KernelSymbol> {
    view_artifact(table).unwrap().symbols().unwrap()
}

/// The symbols decoded from a linked file, as kslink-verify reads it by its labels.
fn decoded_elf(elf: &Path, absolute_percpu: bool) -> Vec<KernelSymbol> {
    let data = fs::read(elf).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let options = ElfDecodeOptions {
        absolute_percpu: Some(absolute_percpu),
        ..Default::default()
    };
    let view = view_elf(&file, options).unwrap();
    view.check().unwrap();
    view.symbols().unwrap()
}

/// The bytes `original` must become: every room holding the final array and zeros, but
/// for the fields the link left to the loader, which stay zero.
fn expected_patch(original: &[u8], location: &TableLocation, table: &KallsymsTable) -> Vec<u8> {
    let mut expected = original.to_vec();
    let width = u64::from(location.layout.pointer_bytes);
    for array in &location.arrays {
        let content = table.array_bytes(array.kind).unwrap();
        let start = array.file_offset as usize;
        let room = &mut expected[start..start + array.room as usize];
        room.fill(0);
        room[..content.len()].copy_from_slice(content);
        for record in location.relocations.iter().filter(|r| !r.applied) {
            if let Some(within) = record.field_address.checked_sub(array.address) {
                if within < array.room {
                    room[within as usize..(within + width) as usize].fill(0);
                }
            }
        }
    }
    expected
}

// ---------------------------------------------------------------------------------------
// (a) and (b): real kernels
// ---------------------------------------------------------------------------------------

/// Locates and patches `elf` with its own table (`-o`, then `--in-place` on a copy): the
/// bytes must not change, and the report must say so. Returns the location.
fn own_table_is_a_no_op(
    elf: &Path,
    version: KernelVersion,
    flags: &[&str],
    dir: &Path,
    also_in_place: bool,
) -> TableLocation {
    let table = table_of_map(version, flags, &generator_map(elf, version), "x86_64");
    let pad = write_artifact(&dir.join("own.pad"), &exact_frame(&table));
    let table_path = write_artifact(&dir.join("own.table"), &table);
    let location_path = dir.join("own.location");
    expect_success(&locate(&pad, elf, &location_path, None), "kslink-locate");
    let location: TableLocation = read_artifact(&location_path);
    assert_eq!(location.text_address, table.text_address);
    assert_eq!(location.arrays.len(), table.arrays.len());

    let out = dir.join("own.out");
    let report_path = dir.join("own.report");
    expect_success(
        &patch(&location_path, &table_path, &report_path, Some(&out), elf),
        "kslink-patch -o",
    );
    assert!(
        same_contents(elf, &out),
        "{}: patching a kernel with its own table changed it",
        elf.display()
    );
    let report: PatchReport = read_artifact(&report_path);
    assert_eq!(report.changed_bytes, 0, "{report:?}");
    assert_eq!(report.pad_waste, 0);
    assert_eq!(report.num_syms, table.num_syms);
    assert_eq!(report.verified_symbols, u64::from(table.num_syms));
    assert_eq!(
        report.relocations_updated as usize,
        location.relocations.len()
    );
    assert!(report
        .arrays
        .iter()
        .all(|array| array.written == array.room && array.room > 0));
    assert_eq!(report.output, out.display().to_string());
    fs::remove_file(&out).unwrap();

    if also_in_place {
        let copy = dir.join("own.copy");
        fs::copy(elf, &copy).unwrap();
        for _ in 0..2 {
            expect_success(
                &patch(&location_path, &table_path, &report_path, None, &copy),
                "kslink-patch --in-place",
            );
            assert!(same_contents(elf, &copy));
            assert_eq!(read_artifact::<PatchReport>(&report_path).changed_bytes, 0);
        }
    }
    location
}

/// Patches a table of fewer symbols into `elf`: the output decodes as that table, the
/// rooms hold it and zeros, and every other byte is the original's. `--in-place` on a copy
/// gives the same bytes, and a second run changes nothing.
fn fewer_symbols_patch_only_the_rooms(
    elf: &Path,
    version: KernelVersion,
    flags: &[&str],
    dir: &Path,
) {
    let map = generator_map(elf, version);
    let own = table_of_map(version, flags, &map, "x86_64");
    let fewer = (7..64)
        .map(|step| table_of_map(version, flags, &fewer_lines(&map, step), "x86_64"))
        .find(|fewer| fits_in(fewer, &own))
        .expect("no subset of the map makes a table that fits in the kernel's own");
    assert!(fewer.num_syms < own.num_syms);
    // 7.x has no relative base.
    assert_eq!(fewer.relative_base == 0, version == KernelVersion::V7_3);
    let pad = write_artifact(&dir.join("fewer.pad"), &exact_frame(&own));
    let table_path = write_artifact(&dir.join("fewer.table"), &fewer);
    let location_path = dir.join("fewer.location");
    expect_success(&locate(&pad, elf, &location_path, None), "kslink-locate");
    let location: TableLocation = read_artifact(&location_path);

    let out = dir.join("fewer.out");
    let report_path = dir.join("fewer.report");
    expect_success(
        &patch(&location_path, &table_path, &report_path, Some(&out), elf),
        "kslink-patch -o",
    );
    let original = fs::read(elf).unwrap();
    let patched = fs::read(&out).unwrap();
    let mut expected = expected_patch(&original, &location, &as_linked(&fewer, &location));
    // The records of place-relative entries (7.x) give other symbols' addresses now.
    for record in &location.relocations {
        if record.rela && record.reference == TextReference::PlaceRelative {
            let at = record.record_offset as usize + 16;
            expected[at..at + 8].copy_from_slice(&patched[at..at + 8]);
        }
    }
    assert!(
        patched == expected,
        "{}: bytes outside the rooms and the records' addends changed, or the rooms do not \
         hold the table",
        elf.display()
    );
    place_relative_records_agree(&patched, &location);
    assert_eq!(
        decoded_elf(&out, fewer.options.absolute_percpu),
        decoded(&fewer)
    );
    let report: PatchReport = read_artifact(&report_path);
    let room: u64 = location.arrays.iter().map(|a| a.room).sum();
    let size: u64 = fewer.arrays.iter().map(|a| a.size).sum();
    assert_eq!(report.pad_waste, room - size);
    assert!(report.changed_bytes > 0);
    assert_eq!(report.verified_symbols, u64::from(fewer.num_syms));

    let copy = dir.join("fewer.copy");
    fs::copy(elf, &copy).unwrap();
    expect_success(
        &patch(&location_path, &table_path, &report_path, None, &copy),
        "kslink-patch --in-place",
    );
    assert!(
        fs::read(&copy).unwrap() == patched,
        "--in-place differs from -o"
    );
    assert_eq!(
        read_artifact::<PatchReport>(&report_path).changed_bytes,
        report.changed_bytes
    );
    expect_success(
        &patch(&location_path, &table_path, &report_path, None, &copy),
        "kslink-patch --in-place, again",
    );
    assert!(
        fs::read(&copy).unwrap() == patched,
        "a second --in-place changed the file"
    );
    assert_eq!(read_artifact::<PatchReport>(&report_path).changed_bytes, 0);
}

/// `table` as a linked file holds it at `location`: each place-relative entry (7.x) the
/// distance from its own address to its symbol's (x86_64: little-endian).
fn as_linked(table: &KallsymsTable, location: &TableLocation) -> KallsymsTable {
    let mut placed = table.clone();
    for relocation in &table.text_relocations {
        if relocation.reference != TextReference::PlaceRelative {
            continue;
        }
        let array = table
            .arrays
            .iter()
            .find(|a| (a.offset..a.offset + a.size).contains(&relocation.offset))
            .unwrap();
        let place = location.array(array.kind).unwrap().address + relocation.offset - array.offset;
        let target = table.text_address.wrapping_add(relocation.addend as u64);
        let distance = i32::try_from(target.wrapping_sub(place) as i64).unwrap();
        let at = relocation.offset as usize;
        placed.data[at..at + 4].copy_from_slice(&distance.to_le_bytes());
    }
    placed
}

/// Every RELA record of a place-relative entry (x86_64's `R_X86_64_PC32` of `ld
/// --emit-relocs`) gives what the entry holds: symbol + addend - place.
fn place_relative_records_agree(file: &[u8], location: &TableLocation) {
    let word = |at: u64, width: usize| {
        let bytes = &file[at as usize..at as usize + width];
        bytes.iter().rev().fold(0u64, |v, &b| v << 8 | u64::from(b))
    };
    let mut checked = 0;
    for record in &location.relocations {
        if record.reference != TextReference::PlaceRelative {
            continue;
        }
        let array = location.array_at(record.field_address).unwrap();
        let field = word(array.file_offset + record.field_address - array.address, 4);
        let addend = word(record.record_offset + 16, 8);
        let result = record
            .symbol_value
            .wrapping_add(addend)
            .wrapping_sub(record.field_address)
            & 0xffff_ffff;
        assert_eq!(result, field, "the record for {:#x}", record.field_address);
        checked += 1;
    }
    eprintln!("{checked} place-relative records agree with their entries");
}

fn fixture(version: KernelVersion) {
    let tree = kernel_tree(version);
    let flags = kbuild_flags(&tree);
    let dir = tempdir();
    let location = own_table_is_a_no_op(&tree.linked(), version, &flags, dir.path(), true);
    if version == KernelVersion::V7_3 {
        // Relocatable: `ld --emit-relocs` kept one record per entry.
        let entries = location.array(ArrayKind::Offsets).unwrap().room / 4;
        assert_eq!(location.relocations.len() as u64, entries);
        place_relative_records_agree(&fs::read(tree.linked()).unwrap(), &location);
    }
    fewer_symbols_patch_only_the_rooms(&tree.linked(), version, &flags, dir.path());
}

#[test]
fn tinyconfig_7_3_relocatable_kernel() {
    fixture(KernelVersion::V7_3);
}

#[test]
fn tinyconfig_6_12_kernel() {
    fixture(KernelVersion::V6_12);
}

#[test]
fn tinyconfig_6_1_kernel() {
    fixture(KernelVersion::V6_1);
}

#[test]
fn debian_vmlinux_patched_with_its_own_table_is_unchanged() {
    let vmlinux = debian_vmlinux();
    let dir = tempdir();
    let flags = ["--all-symbols", "--absolute-percpu"];
    let location = own_table_is_a_no_op(&vmlinux, KernelVersion::V6_12, &flags, dir.path(), false);
    assert_eq!(location.section.name, ".rodata");
}

// ---------------------------------------------------------------------------------------
// (c): one link with ld --emit-relocs, for several targets
// ---------------------------------------------------------------------------------------

/// A target to link for: the table stage's arch, the linker and its emulation.
struct Target {
    arch: &'static str,
    linker: &'static str,
    emulation: &'static str,
}

const X86_64: Target = Target {
    arch: "x86_64",
    linker: "ld",
    emulation: "elf_x86_64",
};

const TARGETS: &[Target] = &[
    X86_64,
    Target {
        arch: "i386",
        linker: "ld",
        emulation: "elf_i386",
    },
    Target {
        arch: "aarch64_be",
        linker: "aarch64-linux-gnu-ld",
        emulation: "aarch64linuxb",
    },
    Target {
        arch: "armeb",
        linker: "arm-linux-gnueabihf-ld",
        emulation: "armelfb_linux_eabi",
    },
];

impl Target {
    fn available(&self) -> bool {
        Command::new(self.linker)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn table_arch(&self) -> &'static TableArch {
        TableArch::by_name(self.arch).unwrap()
    }

    /// Links `inputs` with `script` and `extra` options into `out`.
    fn link(&self, dir: &Path, script: &Path, extra: &[&str], inputs: &[&Path], out: &Path) {
        let result = Command::new(self.linker)
            .args(["-m", self.emulation])
            .args(extra)
            .arg("-T")
            .arg(script)
            .args(inputs)
            .arg("-o")
            .arg(out)
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            result.status.success(),
            "{} failed: {}",
            self.linker,
            String::from_utf8_lossy(&result.stderr)
        );
    }
}

/// A relocatable object of functions (some local) and data, written with `object`, so that
/// no assembler of the target is needed.
fn program_object(arch: &TableArch, path: &Path) {
    use object::write::{Object as WriteObject, StandardSection, Symbol, SymbolSection};
    use object::{BinaryFormat, FileFlags, SymbolFlags, SymbolKind, SymbolScope};
    let mut obj = WriteObject::new(BinaryFormat::Elf, arch.architecture, arch.endianness());
    obj.flags = FileFlags::Elf {
        os_abi: 0,
        abi_version: 0,
        e_flags: arch.e_flags,
    };
    let functions = 40u64;
    let text = obj.section_id(StandardSection::Text);
    obj.append_section_data(text, &vec![0u8; 16 * functions as usize], 16);
    let data = obj.section_id(StandardSection::Data);
    obj.append_section_data(data, &[0u8; 64], 8);
    let mut add = |name: String, value, section, kind, local| {
        obj.add_symbol(Symbol {
            name: name.into_bytes(),
            value,
            size: 8,
            kind,
            scope: if local {
                SymbolScope::Compilation
            } else {
                SymbolScope::Linkage
            },
            weak: false,
            section: SymbolSection::Section(section),
            flags: SymbolFlags::None,
        });
    };
    for i in 0..functions {
        add(
            format!("prog_function_{i}"),
            i * 16,
            text,
            SymbolKind::Text,
            i % 4 == 3,
        );
    }
    for i in 0..8 {
        add(
            format!("prog_variable_{i}"),
            i * 8,
            data,
            SymbolKind::Data,
            i % 2 == 1,
        );
    }
    let mut bytes = Vec::new();
    obj.emit(&mut bytes).unwrap();
    fs::write(path, bytes).unwrap();
}

/// Where the linker script puts the table object's `.rodata`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TablePlace {
    /// In `.rodata`, found by its labels.
    Rodata,
    /// In a section of its own, `.kallsyms`.
    OwnSection,
    /// In a `NOLOAD` section: `NOBITS`, no file contents.
    NoLoad,
}

fn linker_script(dir: &Path, place: TablePlace) -> PathBuf {
    let table = match place {
        TablePlace::Rodata => ".rodata : { *(.rodata) }",
        TablePlace::OwnSection => ".kallsyms : { *(.rodata) }",
        TablePlace::NoLoad => ".kallsyms (NOLOAD) : { *(.rodata) }",
    };
    let script = format!(
        "ENTRY(prog_function_0)\nSECTIONS\n{{\n  . = 0x10000;\n  _text = .;\n  \
         .text : {{ *(.text) }}\n  _etext = .;\n  {table}\n  .data : {{ *(.data) }}\n  \
         /DISCARD/ : {{ *(.note.GNU-stack) *(.comment) }}\n}}\n"
    );
    let path = dir.join(format!("link-{}.lds", place as u8));
    fs::write(&path, script).unwrap();
    path
}

/// What one link of a program with a first table left: the linked file, the first and the
/// final table (the final one from the linked file's symbols).
struct OneLink {
    linked: PathBuf,
    first: KallsymsTable,
    last: KallsymsTable,
}

/// Links the program once with a first table whose addresses are [`mispredicted`], so that
/// its relative base, or 6.1's addresses, differ from the final ones. The names are those
/// of a preliminary link, so that the first and final tables have the same sizes.
fn link_once(
    target: &Target,
    dir: &Path,
    version: KernelVersion,
    flags: &[&str],
    place: TablePlace,
    extra: &[&str],
) -> OneLink {
    let arch = target.table_arch();
    let program = dir.join(format!("prog-{}.o", target.arch));
    program_object(arch, &program);
    let script = linker_script(dir, place);
    let object_of = |table: &KallsymsTable, name: &str| {
        let path = dir.join(name);
        write_object(table, arch, fs::File::create(&path).unwrap()).unwrap();
        path
    };
    // A preliminary link with any table gives the final names.
    let seed = table_of_map(version, flags, b"00010000 T _text\n", target.arch);
    let seed_object = object_of(&seed, "seed.o");
    let preliminary = dir.join("preliminary");
    target.link(dir, &script, extra, &[&program, &seed_object], &preliminary);
    let first = table_of_map(
        version,
        flags,
        &mispredicted(&generator_map(&preliminary, version)),
        target.arch,
    );
    let first_object = object_of(&first, "first.o");
    let linked = dir.join("linked");
    let mut options = vec!["--emit-relocs"];
    options.extend(extra);
    target.link(dir, &script, &options, &[&program, &first_object], &linked);
    let last = table_of_map(
        version,
        flags,
        &generator_map(&linked, version),
        target.arch,
    );
    OneLink {
        linked,
        first,
        last,
    }
}

/// One relocation record as `readelf -rW` prints it.
#[derive(Debug)]
struct ReadelfRecord {
    offset: u64,
    symbol_value: u64,
    /// `None` for a REL record.
    addend: Option<i64>,
}

/// Every relocation record of `elf`, from `readelf -rW` (the target's own readelf is not
/// needed: GNU readelf reads every ELF target).
fn readelf_records(elf: &Path) -> Vec<ReadelfRecord> {
    let out = Command::new("readelf")
        .arg("-rW")
        .arg(elf)
        .stdin(Stdio::null())
        .output()
        .expect("run readelf (binutils)");
    assert!(out.status.success());
    let hex = |s: &str| u64::from_str_radix(s, 16).unwrap();
    let mut records = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() < 3
            || u64::from_str_radix(words[0], 16).is_err()
            || !words[2].starts_with("R_")
        {
            continue;
        }
        let record = match words[3..] {
            // RELA against a symbol: value, name, sign, addend.
            [value, _, sign, addend] => ReadelfRecord {
                offset: hex(words[0]),
                symbol_value: hex(value),
                addend: Some(if sign == "-" {
                    -(hex(addend) as i64)
                } else {
                    hex(addend) as i64
                }),
            },
            // RELA against no symbol (R_*_RELATIVE): the addend alone.
            [addend] => ReadelfRecord {
                offset: hex(words[0]),
                symbol_value: 0,
                addend: Some(hex(addend) as i64),
            },
            // REL: value and name, the addend is in the field.
            [value, _] => ReadelfRecord {
                offset: hex(words[0]),
                symbol_value: hex(value),
                addend: None,
            },
            _ => panic!("unexpected readelf line {line:?}"),
        };
        records.push(record);
    }
    records
}

/// The pointer-sized field at `address` of a linked file, read with `object`.
fn field_at(elf: &Path, address: u64) -> u64 {
    let data = fs::read(elf).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let section = file
        .sections()
        .find(|s| address >= s.address() && address < s.address() + s.size())
        .unwrap();
    let bytes = section.data().unwrap();
    let at = (address - section.address()) as usize;
    let width = if file.is_64() { 8 } else { 4 };
    let field = &bytes[at..at + width];
    let mut value = 0u64;
    for i in 0..width {
        let byte = if file.is_little_endian() {
            field[width - 1 - i]
        } else {
            field[i]
        };
        value = value << 8 | u64::from(byte);
    }
    value
}

/// The records `readelf` shows for the table's pointer fields, checked to agree with their
/// fields (RELA: symbol + addend is the field, modulo the pointer width; a field the link
/// left to the loader is zero, and every record gives the same value).
fn checked_records(elf: &Path, location: &TableLocation) -> Vec<ReadelfRecord> {
    let width = u32::from(location.layout.pointer_bytes) * 8;
    let mask = if width == 64 {
        u64::MAX
    } else {
        (1 << width) - 1
    };
    let records: Vec<ReadelfRecord> = readelf_records(elf)
        .into_iter()
        .filter(|r| {
            location
                .array_at(r.offset)
                .is_some_and(|a| matches!(a.kind, ArrayKind::RelativeBase | ArrayKind::Addresses))
        })
        .collect();
    for record in &records {
        let Some(addend) = record.addend else {
            continue;
        };
        let result = record.symbol_value.wrapping_add(addend as u64) & mask;
        let loaded = location
            .relocations
            .iter()
            .any(|r| r.field_address == record.offset && !r.applied);
        if loaded {
            assert_eq!(field_at(elf, record.offset), 0, "{}", elf.display());
            for other in records.iter().filter(|r| r.offset == record.offset) {
                let other_result = other
                    .symbol_value
                    .wrapping_add(other.addend.unwrap() as u64)
                    & mask;
                assert_eq!(other_result, result, "{}", elf.display());
            }
        } else {
            assert_eq!(
                result,
                field_at(elf, record.offset),
                "{}: the record for {:#x} disagrees with its field",
                elf.display(),
                record.offset
            );
        }
    }
    records
}

/// The value the loader gives the pointer field at `address` of `elf`: its relative dynamic
/// record's addend, or the field itself.
fn loaded_field(elf: &Path, address: u64) -> u64 {
    readelf_records(elf)
        .iter()
        .find(|r| r.offset == address && r.symbol_value == 0)
        .and_then(|r| r.addend)
        .map_or_else(|| field_at(elf, address), |addend| addend as u64)
}

/// Links once, locates, patches `-o`, and checks: the records, the decoded table, the
/// report. `records_per_field` is how many records the link keeps for each of the table's
/// `_text`-relative fields.
fn link_locate_patch(
    target: &Target,
    version: KernelVersion,
    flags: &[&str],
    place: TablePlace,
    extra: &[&str],
    records_per_field: usize,
) {
    let dir = tempdir();
    let d = dir.path();
    let link = link_once(target, d, version, flags, place, extra);
    let expected_records = link.first.text_relocations.len() * records_per_field;
    assert!(expected_records > 0);
    let frame = exact_frame(&link.first);
    assert_eq!(
        frame.arrays.iter().map(|a| a.size).collect::<Vec<_>>(),
        link.last.arrays.iter().map(|a| a.size).collect::<Vec<_>>(),
        "the first and the final table should have the same sizes"
    );
    let pad = write_artifact(&d.join("pad"), &frame);
    let table = write_artifact(&d.join("final.table"), &link.last);
    let location_path = d.join("location");
    let section = (place == TablePlace::OwnSection).then_some(".kallsyms");
    expect_success(
        &locate(&pad, &link.linked, &location_path, section),
        "kslink-locate",
    );
    let location: TableLocation = read_artifact(&location_path);
    assert_eq!(location.relocations.len(), expected_records, "{location:?}");
    let left_to_loader = extra.contains(&"--no-apply-dynamic-relocs");
    assert!(
        location
            .relocations
            .iter()
            .all(|r| r.applied != left_to_loader),
        "{location:?}"
    );

    // Before the patch the records agree with the first table's fields, not the final's.
    let before = checked_records(&link.linked, &location);
    assert_eq!(before.len(), expected_records);
    assert_ne!(
        decoded_elf(&link.linked, false),
        decoded(&link.last),
        "the first table should differ from the final one"
    );

    let out = d.join("patched");
    let report_path = d.join("report");
    expect_success(
        &patch(
            &location_path,
            &table,
            &report_path,
            Some(&out),
            &link.linked,
        ),
        "kslink-patch",
    );
    let after = checked_records(&out, &location);
    assert_eq!(after.len(), expected_records);
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(old.offset, new.offset);
        if old.addend.is_some() {
            assert_ne!(
                old.addend, new.addend,
                "the addend at {:#x} was not rewritten",
                old.offset
            );
        }
    }
    assert_eq!(decoded_elf(&out, false), decoded(&link.last));
    if let Some(base) = location.array(ArrayKind::RelativeBase) {
        assert_eq!(loaded_field(&out, base.address), link.last.relative_base);
        let applied = location.relocations.iter().all(|r| r.applied);
        assert_eq!(
            field_at(&out, base.address),
            if applied { link.last.relative_base } else { 0 }
        );
    }
    let report: PatchReport = read_artifact(&report_path);
    assert_eq!(report.relocations_updated as usize, expected_records);
    assert_eq!(report.pad_waste, 0);
    assert!(report.changed_bytes > 0);

    // Only the rooms and the records' addends changed.
    let original = fs::read(&link.linked).unwrap();
    let patched = fs::read(&out).unwrap();
    let mut expected = expected_patch(&original, &location, &link.last);
    for record in location.relocations.iter().filter(|r| r.rela) {
        let width = location.layout.pointer_bytes as usize;
        let at = record.record_offset as usize + 2 * width;
        expected[at..at + width].copy_from_slice(&patched[at..at + width]);
    }
    assert!(
        patched == expected,
        "bytes outside the rooms and addends changed"
    );
}

#[test]
fn emit_relocs_records_agree_with_their_fields_on_every_target() {
    for target in TARGETS {
        if !target.available() {
            kslink_tests::skip_for_missing_tool(
                target.arch,
                target.linker,
                "binutils for the target",
            );
            continue;
        }
        link_locate_patch(
            target,
            KernelVersion::V6_12,
            &["--all-symbols"],
            TablePlace::Rodata,
            &[],
            1,
        );
    }
}

#[test]
fn linux_6_1_addresses_each_keep_their_record() {
    // Without --base-relative every symbol's address is a `_text`-relative pointer, each
    // with its record.
    link_locate_patch(
        &X86_64,
        KernelVersion::V6_1,
        &["--all-symbols"],
        TablePlace::Rodata,
        &[],
        1,
    );
}

#[test]
fn position_independent_link_keeps_its_dynamic_record_consistent() {
    // `ld -pie` adds an R_X86_64_RELATIVE record for kallsyms_relative_base, whose addend
    // is the value the loader writes: beside the --emit-relocs record, two.
    link_locate_patch(
        &X86_64,
        KernelVersion::V6_12,
        &["--all-symbols"],
        TablePlace::Rodata,
        &["-pie", "--no-warn-rwx-segments", "-z", "notext"],
        2,
    );
}

#[test]
fn relocatable_arm64_link_keeps_the_loaders_field_zero() {
    // arm64 links a relocatable kernel with -shared and --no-apply-dynamic-relocs: the
    // R_AARCH64_RELATIVE record of kallsyms_relative_base holds the value, the field stays
    // zero (upstream's vmlinux has it so), and the --emit-relocs record agrees.
    let aarch64 = Target {
        arch: "aarch64",
        linker: "aarch64-linux-gnu-ld",
        emulation: "aarch64linux",
    };
    if !aarch64.available() {
        kslink_tests::skip_for_missing_tool(
            "aarch64",
            "aarch64-linux-gnu-ld",
            "binutils-aarch64-linux-gnu",
        );
        return;
    }
    link_locate_patch(
        &aarch64,
        KernelVersion::V6_12,
        &["--all-symbols"],
        TablePlace::Rodata,
        &[
            "-shared",
            "-Bsymbolic",
            "-z",
            "notext",
            "--no-apply-dynamic-relocs",
        ],
        2,
    );
}

#[test]
fn table_in_a_section_of_its_own_is_found_by_section() {
    link_locate_patch(
        &X86_64,
        KernelVersion::V6_12,
        &["--all-symbols"],
        TablePlace::OwnSection,
        &[],
        1,
    );
}

// ---------------------------------------------------------------------------------------
// (d): bad input
// ---------------------------------------------------------------------------------------

/// Checks a failed stage run: exit status `code`, one line on stderr that starts with the
/// stage's prefix and contains `needle`, nothing on stdout. Returns the line.
#[track_caller]
fn expect_failure(out: &Output, stage: &str, code: i32, needle: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{stage}: {stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stage}: {stderr}");
    assert!(stderr.starts_with(&format!("{stage}: error: ")), "{stderr}");
    assert!(
        stderr.contains(needle),
        "{stage}: expected {needle:?} in: {stderr}"
    );
    stderr
}

#[test]
fn locate_rejects_bad_input_with_one_line() {
    let dir = tempdir();
    let d = dir.path();
    let link = link_once(
        &X86_64,
        d,
        KernelVersion::V6_12,
        &["--all-symbols"],
        TablePlace::Rodata,
        &[],
    );
    let pad = write_artifact(&d.join("pad"), &exact_frame(&link.first));
    let table = write_artifact(&d.join("table"), &link.first);

    let outputs = d.join("outputs");
    fs::create_dir(&outputs).unwrap();
    let location = outputs.join("location");
    fs::write(&location, b"old").unwrap();
    let check = |pad: &Path, elf: &Path, section: Option<&str>, needle: &str| {
        let out = locate(pad, elf, &location, section);
        let line = expect_failure(&out, "kslink-locate", 1, needle);
        assert_eq!(fs::read(&location).unwrap(), b"old", "{line}");
        assert_eq!(files_in(&outputs), ["location"], "{line}");
    };

    // Wrong artifact kind for the frame.
    check(
        &table,
        &link.linked,
        None,
        "holds a KallsymsTable artifact, expected a PadSpec",
    );
    // Not an ELF file; a truncated one.
    check(&pad, &pad, None, "not an ELF file");
    let linked = fs::read(&link.linked).unwrap();
    let truncated = d.join("truncated");
    fs::write(&truncated, &linked[..linked.len() / 2]).unwrap();
    check(&pad, &truncated, None, "truncated");
    // A file linked without a table.
    let script = linker_script(d, TablePlace::Rodata);
    let program = d.join(format!("prog-{}.o", X86_64.arch));
    let bare = d.join("bare");
    X86_64.link(d, &script, &[], &[&program], &bare);
    check(&pad, &bare, None, "no symbol kallsyms_num_syms");
    // The table in a NOBITS section.
    let first_object = d.join("first.o");
    let nobits = d.join("nobits");
    X86_64.link(
        d,
        &linker_script(d, TablePlace::NoLoad),
        &[],
        &[&program, &first_object],
        &nobits,
    );
    check(&pad, &nobits, None, "NOBITS");
    check(&pad, &nobits, Some(".kallsyms"), "NOBITS");
    // A frame that is not the one the file was linked in: the labels are elsewhere.
    let mut other = link.first.clone();
    other.arrays[1].size += 64;
    let other_pad = write_artifact(&d.join("other.pad"), &exact_frame(&other));
    check(&other_pad, &link.linked, None, "the frame puts it");
    // A frame of another byte order.
    let mut big = exact_frame(&link.first);
    big.layout.big_endian = true;
    let big_pad = write_artifact(&d.join("big.pad"), &big);
    check(&big_pad, &link.linked, None, "64-bit little-endian file");
    // A section that is not there; a table that is not at the start of the named section.
    check(&pad, &link.linked, Some(".nosuch"), "no section .nosuch");
    check(&pad, &link.linked, Some(".text"), "the frame puts it at");
    // A pointer field that holds neither its record's result nor zero (what a link that
    // leaves it to the loader writes).
    let at = {
        let file = object::File::parse(&*linked).unwrap();
        let base = file
            .symbols()
            .find(|s| s.name() == Ok("kallsyms_relative_base"))
            .unwrap();
        let section = file
            .section_by_index(base.section_index().unwrap())
            .unwrap();
        let (offset, _) = section.file_range().unwrap();
        (offset + base.address() - section.address()) as usize
    };
    let mut altered = linked.clone();
    altered[at..at + 8].copy_from_slice(&0x1234u64.to_le_bytes());
    let altered_path = d.join("altered");
    fs::write(&altered_path, altered).unwrap();
    check(&pad, &altered_path, None, "which holds 0x1234");
    // Missing input.
    check(&pad, &d.join("missing"), None, "No such file");

    // Usage errors exit 2.
    let out = run_stage("kslink-locate", &[Path::new("--pad"), &pad, &link.linked]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn patch_rejects_bad_input_and_leaves_the_output_untouched() {
    let dir = tempdir();
    let d = dir.path();
    let tree = kernel_tree(KernelVersion::V6_12);
    let vmlinux = tree.vmlinux();
    let flags = kbuild_flags(&tree);
    let map = generator_map(&vmlinux, KernelVersion::V6_12);
    let own = table_of_map(KernelVersion::V6_12, &flags, &map, "x86_64");
    let pad = write_artifact(&d.join("pad"), &exact_frame(&own));
    let own_path = write_artifact(&d.join("own.table"), &own);
    let location_path = d.join("location");
    expect_success(
        &locate(&pad, &vmlinux, &location_path, None),
        "kslink-locate",
    );
    let location: TableLocation = read_artifact(&location_path);

    let outputs = d.join("outputs");
    fs::create_dir(&outputs).unwrap();
    let out = outputs.join("vmlinux");
    let report = outputs.join("report");
    fs::write(&out, b"old").unwrap();
    let check = |location: &Path, table: &Path, elf: &Path, code: i32, needle: &str| -> String {
        let run = patch(location, table, &report, Some(&out), elf);
        let line = expect_failure(&run, "kslink-patch", code, needle);
        assert_eq!(fs::read(&out).unwrap(), b"old", "{line}");
        assert_eq!(files_in(&outputs), ["vmlinux"], "{line}");
        line
    };

    // Wrong artifact kinds.
    check(
        &own_path,
        &own_path,
        &vmlinux,
        1,
        "holds a KallsymsTable artifact, expected a TableLocation",
    );
    check(
        &location_path,
        &location_path,
        &vmlinux,
        1,
        "expected a KallsymsTable",
    );
    // A location taken from another file: of another length, or with another section.
    let other_tree = kernel_tree(KernelVersion::V6_1);
    check(
        &location_path,
        &own_path,
        &other_tree.vmlinux(),
        1,
        "the location was taken from a file of",
    );
    let mut moved = location.clone();
    moved.section.address += 0x1000;
    let moved_path = write_artifact(&d.join("moved.location"), &moved);
    check(
        &moved_path,
        &own_path,
        &vmlinux,
        1,
        "but the location was taken where it is",
    );
    // A truncated ELF file.
    let truncated = d.join("truncated");
    let bytes = fs::read(&vmlinux).unwrap();
    fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    check(
        &location_path,
        &own_path,
        &truncated,
        1,
        "the location was taken from a file of",
    );
    // A table built for another _text.
    let mut shifted_text = own.clone();
    shifted_text.text_address += 0x1000;
    let shifted_path = write_artifact(&d.join("shifted.table"), &shifted_text);
    check(&location_path, &shifted_path, &vmlinux, 1, "_text");
    // A table larger than its room: exit 3, every array that does not fit named.
    let mut more = map.clone();
    for i in 0..300 {
        more.extend_from_slice(format!("ffffffff81000000 t an_extra_symbol_{i}\n").as_bytes());
    }
    let larger = table_of_map(KernelVersion::V6_12, &flags, &more, "x86_64");
    let larger_path = write_artifact(&d.join("larger.table"), &larger);
    let line = check(&location_path, &larger_path, &vmlinux, 3, "does not fit");
    for label in [
        "kallsyms_names",
        "kallsyms_offsets",
        "kallsyms_seqs_of_names",
    ] {
        assert!(line.contains(&format!("{label} needs")), "{line}");
    }
    assert!(line.contains("short"), "{line}");
    // A table of the right sizes whose symbols are not the file's (start_kernel a byte
    // off): it is written to the copy, the check fails, and the copy is never renamed.
    let text = String::from_utf8(map.clone()).unwrap();
    let wrong: String = text
        .lines()
        .map(|line| match line.strip_suffix(" T start_kernel") {
            Some(address) => {
                let moved = u64::from_str_radix(address, 16).unwrap() + 1;
                format!("{moved:016x} T start_kernel\n")
            }
            None => format!("{line}\n"),
        })
        .collect();
    assert_ne!(wrong, text, "the fixture has start_kernel");
    let wrong_table = table_of_map(KernelVersion::V6_12, &flags, wrong.as_bytes(), "x86_64");
    let wrong_path = write_artifact(&d.join("wrong.table"), &wrong_table);
    let line = check(&location_path, &wrong_path, &vmlinux, 1, "fails its check");
    assert!(line.contains("start_kernel"), "{line}");
    // Missing files.
    check(&d.join("missing"), &own_path, &vmlinux, 1, "No such file");
    check(
        &location_path,
        &own_path,
        &d.join("missing"),
        1,
        "No such file",
    );

    // Usage errors exit 2: neither -o nor --in-place, or both.
    let base: Vec<&Path> = vec![
        Path::new("--location"),
        &location_path,
        Path::new("--table"),
        &own_path,
    ];
    let neither = run_stage(
        "kslink-patch",
        &[base.as_slice(), &[vmlinux.as_path()]].concat(),
    );
    assert_eq!(neither.status.code(), Some(2));
    let both = run_stage(
        "kslink-patch",
        &[
            base.as_slice(),
            &[Path::new("-o"), &out, Path::new("--in-place"), &vmlinux],
        ]
        .concat(),
    );
    assert_eq!(both.status.code(), Some(2));
    assert_eq!(fs::read(&out).unwrap(), b"old");
}
