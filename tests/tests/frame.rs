//! Tables laid out in a frame (`kslink-table --frame PADSPEC`, the frame from `kslink-pad`),
//! and tables built from predicted symbols (a `SymbolSet` without addresses):
//!
//! - identity: a frame that kslink-pad made (no slack) from a table changes none of the
//!   outputs (artifact, object, `.S`, raw bytes) of the same symbols, on Debian's System.map
//!   and on generated maps, both profiles, several targets;
//! - a prediction with extra symbols: the final table fits its frame, each array at its
//!   reserved offset with zeros after its content, the `.S` assembles to the object, and the
//!   table decodes (artifact and object) to exactly the final symbols, checks included;
//! - padding never changes what the kernel reads: a reader that, like `kernel/kallsyms.c`,
//!   knows only the labels (markers, token index, the binary search over
//!   `kallsyms_seqs_of_names`) reads the same from a padded table as from an unpadded one,
//!   even with garbage in the padding;
//! - a frame too small: exit status 3, one line naming each short array and by how much, no
//!   output; a frame for another kind of table: exit status 1;
//! - predicted symbols: no error or warning with every address 0; with `--all-symbols` the
//!   final table's sizes, per-cpu symbols found by their section (Debian's vmlinux); without
//!   it every symbol stays.

mod common;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;
use kslink_schema::{artifact, ArrayKind, DataLayout, KallsymsTable, PadSpec, SymbolSet};
use kslink_tests::gen::Percpu;
use kslink_tests::{
    asm::assemble_source, bin_path, compare_objects, debian_vmlinux, random_map, AddrWidth, Arch,
    GenOptions, KernelVersion,
};
use kslink_verify::{view_artifact, view_elf, ElfDecodeOptions, KernelSymbol};

const V6_12: KernelVersion = KernelVersion::V6_12;
const V6_1: KernelVersion = KernelVersion::V6_1;
const V7_3: KernelVersion = KernelVersion::V7_3;

// ---------------------------------------------------------------------------------------
// Running the stages
// ---------------------------------------------------------------------------------------

/// The four outputs of one kslink-table run.
struct Outputs {
    table: PathBuf,
    object: PathBuf,
    asm: PathBuf,
    raw: PathBuf,
}

impl Outputs {
    fn new(dir: &Path, stem: &str) -> Outputs {
        let path = |ext: &str| dir.join(format!("{stem}.{ext}"));
        Outputs {
            table: path("tbl"),
            object: path("o"),
            asm: path("S"),
            raw: path("raw"),
        }
    }

    fn args(&self) -> Vec<PathBuf> {
        [
            ("-o", &self.table),
            ("--emit-object", &self.object),
            ("--emit-asm", &self.asm),
            ("--emit-raw", &self.raw),
        ]
        .into_iter()
        .flat_map(|(opt, path)| [PathBuf::from(opt), path.clone()])
        .collect()
    }

    fn table(&self) -> KallsymsTable {
        artifact::read(&self.table).unwrap()
    }

    /// Panics with the first output that differs from `other`'s.
    fn assert_same_as(&self, other: &Outputs, what: &str) {
        for (mine, theirs) in [
            (&self.table, &other.table),
            (&self.object, &other.object),
            (&self.asm, &other.asm),
            (&self.raw, &other.raw),
        ] {
            let (a, b) = (fs::read(mine).unwrap(), fs::read(theirs).unwrap());
            if a != b {
                let diff = first_difference(&b, &a).unwrap();
                panic!(
                    "{what}: {} differs from {}: {diff}",
                    mine.display(),
                    theirs.display()
                );
            }
        }
    }
}

/// One way of building tables: the generator's version and options, the target, and the
/// kind of map that suits them.
#[derive(Clone, Copy, Debug)]
struct Run {
    version: KernelVersion,
    /// kslink-table's `--arch`.
    arch: &'static str,
    flags: &'static [&'static str],
    width: AddrWidth,
    percpu: Percpu,
}

impl Run {
    const fn new(
        version: KernelVersion,
        arch: &'static str,
        flags: &'static [&'static str],
        width: AddrWidth,
        percpu: Percpu,
    ) -> Run {
        Run {
            version,
            arch,
            flags,
            width,
            percpu,
        }
    }

    /// The assembler target of `arch`, if the tests can assemble for it.
    fn asm_arch(&self) -> Option<Arch> {
        Arch::ALL.into_iter().find(|arch| arch.name() == self.arch)
    }

    fn map(&self, seed: u64, symbols: usize) -> String {
        random_map(
            seed,
            GenOptions {
                width: self.width,
                symbols,
                percpu: self.percpu,
                ..GenOptions::default()
            },
        )
    }

    fn all_symbols(&self) -> bool {
        self.flags.contains(&"--all-symbols")
    }

    /// Runs kslink-table with every output into `outputs` (in `frame` if given) and panics
    /// unless it succeeds without a word.
    fn build(&self, frame: Option<&Path>, outputs: &Outputs, input: &Path) {
        self.build_with(&[], frame, outputs, input);
    }

    /// [`Run::build`] with `extra` flags.
    fn build_with(&self, extra: &[&str], frame: Option<&Path>, outputs: &Outputs, input: &Path) {
        let mut args = self.args(frame, outputs, input);
        let input = args.pop().unwrap();
        args.extend(extra.iter().map(PathBuf::from));
        args.push(input.clone());
        let out = run_kslink_table(args);
        assert!(
            out.status.success() && out.stderr.is_empty() && out.stdout.is_empty(),
            "{self:?} {}: {}",
            input.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn args(&self, frame: Option<&Path>, outputs: &Outputs, input: &Path) -> Vec<PathBuf> {
        let mut args: Vec<PathBuf> = vec![
            "--profile".into(),
            profile_name(self.version).into(),
            "--arch".into(),
            self.arch.into(),
        ];
        args.extend(self.flags.iter().map(PathBuf::from));
        if let Some(frame) = frame {
            args.extend(["--frame".into(), frame.to_path_buf()]);
        }
        args.extend(outputs.args());
        args.push(input.to_path_buf());
        args
    }
}

/// Generator options and targets the frame is tried on: both profiles, 64- and 32-bit, both
/// byte orders, with and without `--all-symbols` and `--absolute-percpu`, 6.1 with
/// `kallsyms_addresses` (a relocation per symbol) and with offsets.
const RUNS: &[Run] = &[
    Run::new(
        V6_12,
        "x86_64",
        &["--all-symbols", "--absolute-percpu"],
        AddrWidth::Bits64,
        Percpu::AtZero,
    ),
    Run::new(V6_12, "i386", &[], AddrWidth::Bits32, Percpu::Absent),
    Run::new(
        V6_12,
        "aarch64",
        &["--all-symbols"],
        AddrWidth::Bits64,
        Percpu::InData,
    ),
    Run::new(
        V6_1,
        "x86_64",
        &["--all-symbols"],
        AddrWidth::Bits64,
        Percpu::AtZero,
    ),
    Run::new(
        V6_1,
        "arm",
        &["--all-symbols", "--base-relative", "--absolute-percpu"],
        AddrWidth::Bits32,
        Percpu::AtZero,
    ),
    Run::new(
        V6_1,
        "riscv64",
        &["--base-relative"],
        AddrWidth::Bits64,
        Percpu::InData,
    ),
    Run::new(
        V6_1,
        "ppc",
        &["--all-symbols"],
        AddrWidth::Bits32,
        Percpu::Absent,
    ),
    Run::new(
        V6_12,
        "s390x",
        &["--all-symbols"],
        AddrWidth::Bits64,
        Percpu::Absent,
    ),
    // 7.3: arrays aligned to 4 bytes on 64-bit targets too, a place-relative relocation
    // per symbol (RISC-V's a pair), or 32-bit addresses.
    Run::new(
        V7_3,
        "x86_64",
        &["--all-symbols", "--pc-relative"],
        AddrWidth::Bits64,
        Percpu::InData,
    ),
    Run::new(
        V7_3,
        "riscv64",
        &["--pc-relative"],
        AddrWidth::Bits64,
        Percpu::Absent,
    ),
    Run::new(
        V7_3,
        "arm",
        &["--all-symbols", "--pc-relative"],
        AddrWidth::Bits32,
        Percpu::Absent,
    ),
    Run::new(
        V7_3,
        "i386",
        &["--all-symbols"],
        AddrWidth::Bits32,
        Percpu::InData,
    ),
    Run::new(
        V7_3,
        "aarch64_be",
        &["--all-symbols"],
        AddrWidth::Bits64,
        Percpu::Absent,
    ),
];

fn run_kslink_pad<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let bin = bin_path("kslink-pad");
    Command::new(&bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()))
}

/// `kslink-pad -o OUT [EXTRA...] TABLE`, which must succeed silently; the frame it wrote.
fn pad(table: &Path, extra: &[&str], out: &Path) -> PadSpec {
    let mut args: Vec<PathBuf> = vec!["-o".into(), out.to_path_buf()];
    args.extend(extra.iter().map(PathBuf::from));
    args.push(table.to_path_buf());
    let run = run_kslink_pad(&args);
    assert!(
        run.status.success() && run.stderr.is_empty() && run.stdout.is_empty(),
        "kslink-pad {args:?}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    artifact::read(out).unwrap()
}

/// The symbols of `map` as a prediction would give them: every address 0, per-cpu symbols
/// (those in the map's per-cpu range, bounds included) in section `.data..percpu`, the others
/// in `.text`, and `extra` symbols (type `t`, in `.text`) that the final map lacks.
fn predicted(map: &str, width: AddrWidth, extra: &[String]) -> SymbolSet {
    let mut set = symbol_set(map, width);
    let bound = |name: &[u8]| {
        set.symbols
            .iter()
            .find(|symbol| symbol.name == name)
            .map(|symbol| symbol.address)
    };
    let percpu = bound(b"__per_cpu_start").zip(bound(b"__per_cpu_end"));
    set.sections = vec![".text".into(), ".data..percpu".into()];
    for symbol in &mut set.symbols {
        let in_percpu = percpu.is_some_and(|(start, end)| (start..=end).contains(&symbol.address));
        symbol.section = Some(u32::from(in_percpu));
        symbol.address = 0;
    }
    set.symbols
        .extend(extra.iter().map(|name| kslink_schema::Symbol {
            address: 0,
            type_letter: b't',
            name: name.as_bytes().to_vec(),
            section: Some(0),
            source: None,
            text: None,
        }));
    set.addresses_known = false;
    set.origin = kslink_schema::SymbolOrigin::Predicted {
        script: "vmlinux.lds".into(),
        inputs: vec!["vmlinux.o".into()],
    };
    set
}

/// The content sizes of a table's arrays, in table order.
fn sizes(table: &KallsymsTable) -> Vec<(ArrayKind, u64)> {
    table.arrays.iter().map(|a| (a.kind, a.size)).collect()
}

// ---------------------------------------------------------------------------------------
// Reading a table as the kernel does
// ---------------------------------------------------------------------------------------

/// Reads a table's bytes the way `kernel/kallsyms.c` (7.3, 6.12 and 6.1) does: it knows where
/// each array's label is and nothing of the arrays' sizes, so whatever it reads is what the
/// kernel reads, and bytes it never touches cannot change its results.
struct KernelReader<'a> {
    data: &'a [u8],
    labels: HashMap<ArrayKind, usize>,
    layout: DataLayout,
    absolute_percpu: bool,
    /// 7.3 with `--pc-relative`: an artifact's entries hold their distance from `_text`,
    /// whose address this is (the linked entry `_text + D - .` read at its place `.`).
    place_relative_text: Option<u64>,
}

impl<'a> KernelReader<'a> {
    fn new(table: &KallsymsTable, data: &'a [u8]) -> KernelReader<'a> {
        KernelReader {
            data,
            labels: table
                .arrays
                .iter()
                .map(|a| (a.kind, a.offset as usize))
                .collect(),
            layout: table.layout,
            absolute_percpu: table.options.absolute_percpu,
            place_relative_text: table.options.pc_relative.then_some(table.text_address),
        }
    }

    fn bytes<const N: usize>(&self, kind: ArrayKind, at: usize) -> [u8; N] {
        let start = self.labels[&kind] + at;
        self.data[start..start + N].try_into().unwrap()
    }

    fn u16(&self, kind: ArrayKind, index: usize) -> u16 {
        let b = self.bytes(kind, index * 2);
        if self.layout.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }

    fn u32(&self, kind: ArrayKind, index: usize) -> u32 {
        let b = self.bytes(kind, index * 4);
        if self.layout.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    fn pointer(&self, kind: ArrayKind, index: usize) -> u64 {
        if self.layout.pointer_bytes == 4 {
            return u64::from(self.u32(kind, index));
        }
        let b = self.bytes(kind, index * 8);
        if self.layout.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        }
    }

    fn num_syms(&self) -> usize {
        self.u32(ArrayKind::NumSyms, 0) as usize
    }

    fn name_byte(&self, off: usize) -> usize {
        self.bytes::<1>(ArrayKind::Names, off)[0] as usize
    }

    /// `kallsyms_expand_symbol`: the type letter and name at `off` in `kallsyms_names`.
    fn expand_symbol(&self, mut off: usize) -> Vec<u8> {
        let mut len = self.name_byte(off);
        off += 1;
        if len & 0x80 != 0 {
            len = (len & 0x7f) | (self.name_byte(off) << 7);
            off += 1;
        }
        let mut symbol = Vec::new();
        for i in 0..len {
            let token = self.name_byte(off + i);
            let mut at = self.u16(ArrayKind::TokenIndex, token) as usize;
            loop {
                let byte = self.bytes::<1>(ArrayKind::TokenTable, at)[0];
                if byte == 0 {
                    break;
                }
                symbol.push(byte);
                at += 1;
            }
        }
        symbol
    }

    /// `get_symbol_offset`: the marker of the symbol's group of 256, then the names before
    /// it in the group skipped by their length prefixes.
    fn symbol_offset(&self, pos: usize) -> usize {
        let mut off = self.u32(ArrayKind::Markers, pos >> 8) as usize;
        for _ in 0..(pos & 0xff) {
            let mut len = self.name_byte(off);
            if len & 0x80 != 0 {
                len = ((len & 0x7f) | (self.name_byte(off + 1) << 7)) + 1;
            }
            off += len + 1;
        }
        off
    }

    /// `kallsyms_sym_address`.
    fn address(&self, index: usize) -> u64 {
        if !self.labels.contains_key(&ArrayKind::Offsets) {
            return self.pointer(ArrayKind::Addresses, index);
        }
        if !self.labels.contains_key(&ArrayKind::RelativeBase) {
            let entry = self.u32(ArrayKind::Offsets, index);
            return match self.place_relative_text {
                Some(text) => text.wrapping_add(entry as i32 as i64 as u64) & self.address_mask(),
                None => u64::from(entry),
            };
        }
        let base = self.pointer(ArrayKind::RelativeBase, 0);
        let offset = self.u32(ArrayKind::Offsets, index);
        let address = if !self.absolute_percpu {
            base.wrapping_add(u64::from(offset))
        } else if offset as i32 >= 0 {
            u64::from(offset)
        } else {
            base.wrapping_sub(1)
                .wrapping_sub(offset as i32 as i64 as u64)
        };
        address & self.address_mask()
    }

    /// The bits of an address on the table's target.
    fn address_mask(&self) -> u64 {
        if self.layout.pointer_bytes == 4 {
            0xffff_ffff
        } else {
            u64::MAX
        }
    }

    /// `get_symbol_seq`.
    fn seq(&self, index: usize) -> usize {
        let b = self.bytes::<3>(ArrayKind::SeqsOfNames, index * 3);
        (b[0] as usize) << 16 | (b[1] as usize) << 8 | b[2] as usize
    }

    /// Every symbol, in table order: address and type letter + name.
    fn symbols(&self) -> Vec<(u64, Vec<u8>)> {
        (0..self.num_syms())
            .map(|i| (self.address(i), self.expand_symbol(self.symbol_offset(i))))
            .collect()
    }

    /// `kallsyms_lookup_names`' binary search over `kallsyms_seqs_of_names`: the table
    /// index of a symbol called `name`, if the search finds one.
    fn lookup(&self, name: &[u8]) -> Option<usize> {
        let (mut low, mut high) = (0i64, self.num_syms() as i64 - 1);
        while low <= high {
            let mid = low + (high - low) / 2;
            let seq = self.seq(mid as usize);
            let symbol = self.expand_symbol(self.symbol_offset(seq));
            match name.cmp(&symbol[1..]) {
                std::cmp::Ordering::Greater => low = mid + 1,
                std::cmp::Ordering::Less => high = mid - 1,
                std::cmp::Ordering::Equal => return Some(seq),
            }
        }
        None
    }
}

/// `table`'s data with every byte that lies in no array's content (the padding) set to
/// `0xa5`.
fn garbage_in_padding(table: &KallsymsTable) -> Vec<u8> {
    let mut data = vec![0xa5; table.data.len()];
    for array in &table.arrays {
        let content = array.offset as usize..(array.offset + array.size) as usize;
        data[content.clone()].copy_from_slice(&table.data[content]);
    }
    data
}

/// Checks that the kernel reads from `framed` (zero padding, and garbage in it) exactly what
/// it reads from `unframed`, and finds every `step`-th symbol by name.
fn assert_kernel_reads_the_same(framed: &KallsymsTable, unframed: &KallsymsTable, step: usize) {
    let expected = KernelReader::new(unframed, &unframed.data).symbols();
    assert_eq!(expected.len(), unframed.num_syms as usize);
    let garbage = garbage_in_padding(framed);
    for (data, what) in [(&framed.data, "zero"), (&garbage, "garbage")] {
        let reader = KernelReader::new(framed, data);
        assert_eq!(reader.num_syms(), expected.len(), "{what} padding");
        assert!(
            reader.symbols() == expected,
            "{what} padding: the kernel reads other symbols"
        );
        for (index, (_, symbol)) in expected.iter().enumerate().step_by(step) {
            let found = reader.lookup(&symbol[1..]).unwrap_or_else(|| {
                panic!(
                    "{what} padding: {:?} not found by name",
                    String::from_utf8_lossy(symbol)
                )
            });
            // Of equal names (static functions of several files, of any type) the search
            // finds one.
            assert_eq!(
                expected[found].1[1..],
                symbol[1..],
                "{what} padding, symbol {index}"
            );
        }
    }
}

/// What `/proc/kallsyms` lists for a table artifact, its checks passed.
fn decoded(table: &KallsymsTable) -> Vec<KernelSymbol> {
    let view = view_artifact(table).unwrap();
    view.check().unwrap();
    view.symbols().unwrap()
}

/// What `/proc/kallsyms` lists for the table in an object, its checks passed.
fn decoded_object(object: &Path, table: &KallsymsTable) -> Vec<KernelSymbol> {
    let bytes = fs::read(object).unwrap();
    let elf = object::File::parse(&*bytes).unwrap();
    let view = view_elf(
        &elf,
        ElfDecodeOptions {
            absolute_percpu: Some(table.options.absolute_percpu),
            text_address: table.text_address,
            pc_relative: Some(table.options.pc_relative),
        },
    )
    .unwrap();
    view.check().unwrap();
    view.symbols().unwrap()
}

/// Checks a table laid out in `frame` against the same symbols' unframed table: every array
/// at its reserved offset with its content unchanged and zeros to the end of its room,
/// relocations moved with their arrays, outputs consistent with each other, and the same
/// symbols decoded, as the kernel reads them too. Returns the padding bytes.
fn check_framed(
    frame: &PadSpec,
    framed: &Outputs,
    unframed: &Outputs,
    run: &Run,
    what: &str,
) -> u64 {
    let (table, plain) = (framed.table(), unframed.table());
    assert_eq!(
        table.data.len() as u64,
        frame.size,
        "{what}: data is the frame"
    );
    assert_eq!(table.arrays.len(), frame.arrays.len(), "{what}");
    let mut waste = 0;
    for ((array, room), content) in table.arrays.iter().zip(&frame.arrays).zip(&plain.arrays) {
        let label = array.kind.label();
        assert_eq!(
            (array.kind, array.offset, array.size),
            (room.kind, room.offset, content.size),
            "{what}: {label} at its reserved offset, with its content's size"
        );
        let at = array.offset as usize;
        let end = (room.offset + room.size) as usize;
        assert_eq!(
            &table.data[at..at + array.size as usize],
            plain.array_bytes(array.kind).unwrap(),
            "{what}: {label} content"
        );
        assert!(
            table.data[at + array.size as usize..end]
                .iter()
                .all(|&b| b == 0),
            "{what}: {label}: the room after the content is not zero"
        );
        waste += room.size - array.size;
    }
    // Only alignment lies between the rooms, and it is zero too.
    for pair in frame.arrays.windows(2) {
        let gap = (pair[0].offset + pair[0].size) as usize..pair[1].offset as usize;
        assert!(table.data[gap].iter().all(|&b| b == 0), "{what}: alignment");
    }
    assert_eq!(
        table.text_relocations.len(),
        plain.text_relocations.len(),
        "{what}"
    );
    for (moved, relocation) in table.text_relocations.iter().zip(&plain.text_relocations) {
        let (array, content) = table
            .arrays
            .iter()
            .zip(&plain.arrays)
            .find(|(_, c)| (c.offset..c.offset + c.size).contains(&relocation.offset))
            .unwrap();
        assert_eq!(
            moved.offset - array.offset,
            relocation.offset - content.offset,
            "{what}: relocation"
        );
        assert_eq!(moved.addend, relocation.addend, "{what}: relocation");
    }
    assert_eq!(
        (table.num_syms, table.relative_base, &table.tokens),
        (plain.num_syms, plain.relative_base, &plain.tokens),
        "{what}"
    );
    assert_eq!(fs::read(&framed.raw).unwrap(), table.data, "{what}: raw");

    // The object: `.rodata` is the frame, the labels at the frame's offsets.
    let bytes = fs::read(&framed.object).unwrap();
    let mut written = Vec::new();
    let arch = kslink_table::Arch::by_name(run.arch).unwrap();
    kslink_table::write_object(&table, arch, &mut written).unwrap();
    assert!(bytes == written, "{what}: object is not the artifact's");
    {
        use object::{Object, ObjectSection, ObjectSymbol};
        let elf = object::File::parse(&*bytes).unwrap();
        let rodata = elf.section_by_name(".rodata").unwrap();
        assert_eq!(rodata.size(), frame.size, "{what}: .rodata size");
        for room in &frame.arrays {
            let label = elf
                .symbols()
                .find(|s| s.name() == Ok(room.kind.label()))
                .unwrap();
            assert_eq!(
                label.address(),
                room.offset,
                "{what}: {}",
                room.kind.label()
            );
        }
    }
    // The .S assembles to the same object, where an assembler is at hand.
    if let Some(asm_arch) = run.asm_arch().filter(|&a| kslink_tests::arch_available(a)) {
        let assembled = framed.asm.with_extension("assembled.o");
        assemble_source(&fs::read(&framed.asm).unwrap(), asm_arch, &assembled);
        compare_objects(&assembled, &framed.object)
            .unwrap_or_else(|e| panic!("{what}: the .S assembles to another object: {e}"));
    }

    let expected = decoded(&plain);
    assert!(decoded(&table) == expected, "{what}: artifact decodes");
    assert!(
        decoded_object(&framed.object, &table) == expected,
        "{what}: object decodes"
    );
    assert_kernel_reads_the_same(&table, &plain, 1);
    waste
}

// ---------------------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------------------

#[test]
fn own_frame_changes_no_output_on_debian_map() {
    let dir = tempdir();
    let map = write_file(dir.path(), "System.map", debian_map());
    let run = Run::new(
        V6_12,
        "x86_64",
        &["--all-symbols", "--absolute-percpu"],
        AddrWidth::Bits64,
        Percpu::AtZero,
    );
    let plain = Outputs::new(dir.path(), "plain");
    run.build(None, &plain, &map);
    let frame_path = dir.path().join("frame.pad");
    let frame = pad(&plain.table, &[], &frame_path);
    let table = plain.table();
    assert_eq!(frame.rooms(), sizes(&table));
    assert_eq!(frame.size, table.data.len() as u64);
    assert_eq!((frame.num_syms, frame.slack_per_mille), (163_205, 0));

    let framed = Outputs::new(dir.path(), "framed");
    run.build(Some(&frame_path), &framed, &map);
    framed.assert_same_as(&plain, "Debian System.map in its own frame");
    // The .S on standard output too.
    let stdout = run_kslink_table(
        [
            "--all-symbols",
            "--absolute-percpu",
            "--frame",
            frame_path.to_str().unwrap(),
        ]
        .iter()
        .map(PathBuf::from)
        .chain([map.clone()]),
    );
    assert!(stdout.status.success());
    assert!(stdout.stdout == fs::read(&plain.asm).unwrap());
}

#[test]
fn own_frame_changes_no_output_on_generated_maps() {
    let dir = tempdir();
    for (i, run) in RUNS.iter().enumerate() {
        for (j, symbols) in [0, 1, 300, 3000].into_iter().enumerate() {
            let what = format!("{run:?}, {symbols} symbols");
            let map = write_file(
                dir.path(),
                &format!("{i}-{j}.map"),
                run.map(100 + i as u64, symbols).as_bytes(),
            );
            let plain = Outputs::new(dir.path(), &format!("{i}-{j}-plain"));
            run.build(None, &plain, &map);
            let frame_path = dir.path().join(format!("{i}-{j}.pad"));
            let frame = pad(&plain.table, &[], &frame_path);
            assert_eq!(frame.rooms(), sizes(&plain.table()), "{what}");
            let framed = Outputs::new(dir.path(), &format!("{i}-{j}-framed"));
            run.build(Some(&frame_path), &framed, &map);
            framed.assert_same_as(&plain, &what);
        }
    }
}

// ---------------------------------------------------------------------------------------
// A frame with room to spare
// ---------------------------------------------------------------------------------------

/// The driver's path when the prediction has symbols that the link drops: the first table
/// from the prediction, its frame, the final table in that frame.
#[test]
fn prediction_with_extra_symbols_fits_with_zero_padding_and_decodes_exactly() {
    let dir = tempdir();
    let extra: Vec<String> = (0..150)
        .map(|i| format!("predicted_only_{i}_discarded_by_the_linker_script"))
        .collect();
    let mut total_waste = 0;
    for (i, run) in RUNS.iter().enumerate() {
        let what = format!("{run:?}");
        let map_text = run.map(200 + i as u64, 1500);
        let map = write_file(dir.path(), &format!("{i}.map"), map_text.as_bytes());
        let prediction = dir.path().join(format!("{i}.predicted"));
        artifact::write(&prediction, &predicted(&map_text, run.width, &extra)).unwrap();
        let first = Outputs::new(dir.path(), &format!("{i}-first"));
        run.build(None, &first, &prediction);
        let frame_path = dir.path().join(format!("{i}.pad"));
        let frame = pad(&first.table, &[], &frame_path);

        let plain = Outputs::new(dir.path(), &format!("{i}-plain"));
        run.build(None, &plain, &map);
        let framed = Outputs::new(dir.path(), &format!("{i}-final"));
        run.build(Some(&frame_path), &framed, &map);
        let waste = check_framed(&frame, &framed, &plain, run, &what);
        assert!(waste > 0, "{what}: 150 extra symbols take room");
        total_waste += waste;
    }
    assert!(total_waste > 0);
}

/// Slack leaves room in every array whose size depends on the symbols, none in the others;
/// the padded table still reads the same, in the kernel's way, on a real kernel's symbols.
#[test]
fn padding_never_changes_what_the_kernel_reads_on_debian_map() {
    let dir = tempdir();
    let map = write_file(dir.path(), "System.map", debian_map());
    let run = Run::new(
        V6_12,
        "x86_64",
        &["--all-symbols", "--absolute-percpu"],
        AddrWidth::Bits64,
        Percpu::AtZero,
    );
    let plain = Outputs::new(dir.path(), "plain");
    run.build(None, &plain, &map);
    let frame_path = dir.path().join("slack.pad");
    let frame = pad(&plain.table, &["--slack-per-mille", "37"], &frame_path);
    let framed = Outputs::new(dir.path(), "framed");
    run.build(Some(&frame_path), &framed, &map);

    let (table, unframed) = (framed.table(), plain.table());
    for (array, room) in table.arrays.iter().zip(&frame.arrays) {
        assert_eq!(
            room.size > array.size,
            array.kind.size_depends_on_symbols(),
            "{}",
            array.kind.label()
        );
    }
    assert!(decoded(&table) == decoded(&unframed));
    assert!(decoded_object(&framed.object, &table) == decoded(&unframed));
    assert_kernel_reads_the_same(&table, &unframed, 61);
}

// ---------------------------------------------------------------------------------------
// Frames that do not serve
// ---------------------------------------------------------------------------------------

#[test]
fn too_small_a_frame_exits_3_naming_each_short_array() {
    let dir = tempdir();
    let run = RUNS[0];
    let map_text = run.map(300, 2000);
    let map = write_file(dir.path(), "final.map", map_text.as_bytes());
    let plain = Outputs::new(dir.path(), "plain");
    run.build(None, &plain, &map);
    let table = plain.table();

    // A prediction that missed a tenth of the symbols.
    let lines: Vec<&str> = map_text.lines().collect();
    let kept: String = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 10 != 5)
        .map(|(_, line)| format!("{line}\n"))
        .collect();
    let short_map = write_file(dir.path(), "short.map", kept.as_bytes());
    let short = Outputs::new(dir.path(), "short");
    run.build(None, &short, &short_map);
    let frame_path = dir.path().join("short.pad");
    let frame = pad(&short.table, &[], &frame_path);
    let needles: Vec<String> = table
        .arrays
        .iter()
        .zip(&frame.arrays)
        .filter(|(content, room)| content.size > room.size)
        .map(|(content, room)| {
            format!(
                "{} needs {} bytes but the frame reserves {} ({} short)",
                content.kind.label(),
                content.size,
                room.size,
                content.size - room.size
            )
        })
        .collect();
    for kind in [ArrayKind::Names, ArrayKind::Offsets, ArrayKind::SeqsOfNames] {
        assert!(
            needles.iter().any(|n| n.starts_with(kind.label())),
            "{needles:?}"
        );
    }
    let mut needles: Vec<&str> = needles.iter().map(String::as_str).collect();
    let map_shown = map.display().to_string();
    needles.extend([&map_shown, "relink with a frame sized from this table"]);
    let frame_arg = frame_path.to_str().unwrap();
    let pre = ["--all-symbols", "--absolute-percpu", "--frame", frame_arg];
    expect_failure(&pre, &map, 3, &needles);

    // One byte short in one array: only that array is named.
    let mut rooms = sizes(&table);
    rooms[1].1 -= 1;
    let tight = PadSpec::lay_out("linux-6.12", table.layout, &rooms, table.num_syms, 0);
    let tight_path = dir.path().join("tight.pad");
    artifact::write(&tight_path, &tight).unwrap();
    let names = table.array(ArrayKind::Names).unwrap().size;
    let message = format!(
        "kallsyms_names needs {names} bytes but the frame reserves {} (1 short); relink",
        names - 1
    );
    let pre = [
        "--all-symbols",
        "--absolute-percpu",
        "--frame",
        tight_path.to_str().unwrap(),
    ];
    expect_failure(&pre, &map, 3, &[&format!("{map_shown}: {message}")]);
    let out = run_kslink_table(pre.iter().map(PathBuf::from).chain([map.clone()]));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .matches("needs")
            .count(),
        1
    );
}

#[test]
fn a_frame_for_another_table_exits_1() {
    let dir = tempdir();
    // No per-cpu area: 6.12 --all-symbols without --absolute-percpu fits.
    let map = write_file(dir.path(), "map", RUNS[7].map(400, 300).as_bytes());
    let table_of = |name: &str, args: &[&str]| {
        let path = dir.path().join(name);
        let mut all: Vec<PathBuf> = args.iter().map(PathBuf::from).collect();
        all.extend(["-o".into(), path.clone(), map.clone()]);
        let out = run_kslink_table(&all);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        path
    };
    let frame_of = |name: &str, args: &[&str]| {
        let table = table_of(&format!("{name}.tbl"), args);
        let path = dir.path().join(name);
        pad(&table, &[], &path);
        path
    };
    let v6_12 = frame_of("6.12.pad", &["--all-symbols"]);
    let v6_1 = frame_of("6.1.pad", &["--profile", "linux-6.1", "--all-symbols"]);
    let i386 = frame_of("i386.pad", &["--arch", "i386", "--all-symbols"]);
    let table = table_of("6.12.tbl", &["--all-symbols"]);

    let mut moved: PadSpec = artifact::read(&v6_12).unwrap();
    moved.arrays[3].offset += 8;
    moved.size += 8;
    let inconsistent = dir.path().join("inconsistent.pad");
    artifact::write(&inconsistent, &moved).unwrap();
    let mut corrupt_bytes = fs::read(&v6_12).unwrap();
    *corrupt_bytes.last_mut().unwrap() ^= 1;
    let corrupt = write_file(dir.path(), "corrupt.pad", &corrupt_bytes);
    let missing = dir.path().join("missing.pad");

    let shown = |p: &Path| p.display().to_string();
    let cases: Vec<(Vec<&str>, &Path, Vec<String>)> = vec![
        (
            vec!["--all-symbols"],
            &v6_1,
            vec!["linux-6.1 table; this table is linux-6.12".into()],
        ),
        (
            vec!["--profile", "linux-6.1", "--all-symbols", "--base-relative"],
            &v6_1,
            vec![
                "kallsyms_addresses".into(),
                "kallsyms_offsets".into(),
                "other generator options".into(),
            ],
        ),
        (
            vec!["--all-symbols", "--arch", "x86_64"],
            &i386,
            vec!["4-byte pointers, little-endian; this table has 8-byte".into()],
        ),
        (
            vec!["--all-symbols"],
            &inconsistent,
            vec![
                "not a consistent frame".into(),
                "kallsyms_token_table".into(),
            ],
        ),
        (
            vec!["--all-symbols"],
            &table,
            vec!["holds a KallsymsTable artifact, expected a PadSpec".into()],
        ),
        (
            vec!["--all-symbols"],
            &corrupt,
            vec!["corrupt artifact".into()],
        ),
        (vec!["--all-symbols"], &missing, vec!["No such file".into()]),
    ];
    for (flags, frame, needles) in &cases {
        let mut pre = flags.clone();
        let frame_arg = frame.to_str().unwrap();
        pre.extend(["--frame", frame_arg]);
        let mut needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        let frame_shown = shown(frame);
        needles.push(&frame_shown);
        expect_failure(&pre, &map, 1, &needles);
    }
}

// ---------------------------------------------------------------------------------------
// Predicted symbols
// ---------------------------------------------------------------------------------------

/// An exact prediction (the final symbols without addresses) gives the final table's sizes
/// and tokens; its frame holds the final table with no padding at all, so the outputs are
/// those of no frame.
#[test]
fn exact_prediction_gives_the_final_sizes_and_no_padding() {
    let dir = tempdir();
    for (i, run) in RUNS.iter().filter(|run| run.all_symbols()).enumerate() {
        let what = format!("{run:?}");
        let map_text = run.map(500 + i as u64, 2500);
        let map = write_file(dir.path(), &format!("{i}.map"), map_text.as_bytes());
        let prediction = dir.path().join(format!("{i}.predicted"));
        artifact::write(&prediction, &predicted(&map_text, run.width, &[])).unwrap();
        let first = Outputs::new(dir.path(), &format!("{i}-first"));
        run.build(None, &first, &prediction);
        let plain = Outputs::new(dir.path(), &format!("{i}-plain"));
        run.build(None, &plain, &map);
        let (first_table, final_table) = (first.table(), plain.table());
        assert_eq!(sizes(&first_table), sizes(&final_table), "{what}");
        assert_eq!(first_table.tokens, final_table.tokens, "{what}");
        assert_eq!(first_table.num_syms, final_table.num_syms, "{what}");

        let frame_path = dir.path().join(format!("{i}.pad"));
        pad(&first.table, &[], &frame_path);
        let framed = Outputs::new(dir.path(), &format!("{i}-final"));
        run.build(Some(&frame_path), &framed, &map);
        framed.assert_same_as(&plain, &what);
    }
}

/// Without addresses, `--absolute-percpu` takes the per-cpu symbols from their section. On
/// Debian's kernel (x86-64 SMP, the per-cpu area linked at 0, 390 symbols in it) the
/// prediction then has exactly the final table's type letters, sizes and tokens; taken by
/// their zero address, every symbol would be per-cpu instead.
#[test]
fn predicted_percpu_symbols_come_from_their_section_on_debian_vmlinux() {
    let vmlinux = debian_vmlinux();
    let dir = tempdir();
    let linked = kslink_collect::collect_linked(&vmlinux).unwrap();
    let linked_path = dir.path().join("linked.symbols");
    artifact::write(&linked_path, &linked).unwrap();
    let mut prediction = linked.clone();
    prediction.addresses_known = false;
    // x86's linker script assigns `__per_cpu_load` and `__init_begin` just before the
    // per-cpu output section, and ld lists them in it (at the section's load address, outside
    // the per-cpu range). A prediction knows them as assignments, in no section.
    let percpu = linked
        .sections
        .iter()
        .position(|name| name == ".data..percpu")
        .unwrap() as u32;
    let mut assigned = Vec::new();
    for symbol in &mut prediction.symbols {
        if symbol.section == Some(percpu) && symbol.address > 0x39000 {
            symbol.section = None;
            assigned.push(String::from_utf8_lossy(&symbol.name).into_owned());
        }
        symbol.address = 0;
    }
    assigned.sort();
    assert_eq!(assigned, ["__init_begin", "__per_cpu_load"]);
    let prediction_path = dir.path().join("predicted.symbols");
    artifact::write(&prediction_path, &prediction).unwrap();
    let run = RUNS[0];
    let [first, last] = ["first", "final"].map(|stem| Outputs::new(dir.path(), stem));
    run.build(None, &first, &prediction_path);
    run.build(None, &last, &linked_path);
    let (first, last) = (first.table(), last.table());
    assert_eq!(last.num_syms, 163_205);
    assert_eq!(sizes(&first), sizes(&last));
    assert_eq!(first.tokens, last.tokens);
    let letters = |table: &KallsymsTable| {
        let mut letters: Vec<u8> = decoded(table).iter().map(|s| s.type_letter).collect();
        letters.sort_unstable();
        letters
    };
    let final_letters = letters(&last);
    assert_eq!(final_letters.iter().filter(|&&l| l == b'A').count(), 390);
    assert_eq!(letters(&first), final_letters);
}

/// Without `--all-symbols`, upstream keeps the symbols in the text ranges; without addresses
/// that is unknown, and every symbol stays: a table with at least the final one's symbols.
/// (Taken at face value, addresses of 0 would all equal `_etext`'s, and only `_etext` would
/// stay.) The final table then fits the frame, with room to spare in the arrays that grow
/// with the symbol count.
#[test]
fn prediction_without_all_symbols_keeps_every_symbol() {
    let dir = tempdir();
    for (i, run) in RUNS.iter().filter(|run| !run.all_symbols()).enumerate() {
        let what = format!("{run:?}");
        let map_text = run.map(600 + i as u64, 2000);
        let map = write_file(dir.path(), &format!("{i}.map"), map_text.as_bytes());
        let prediction = dir.path().join(format!("{i}.predicted"));
        artifact::write(&prediction, &predicted(&map_text, run.width, &[])).unwrap();
        let first = Outputs::new(dir.path(), &format!("{i}-first"));
        run.build(None, &first, &prediction);

        let all = Outputs::new(dir.path(), &format!("{i}-all"));
        run.build_with(&["--all-symbols"], None, &all, &map);
        let plain = Outputs::new(dir.path(), &format!("{i}-plain"));
        run.build(None, &plain, &map);
        let (first_table, all_table, final_table) = (first.table(), all.table(), plain.table());
        assert_eq!(first_table.num_syms, all_table.num_syms, "{what}");
        assert_eq!(sizes(&first_table), sizes(&all_table), "{what}");
        assert!(
            final_table.num_syms < first_table.num_syms,
            "{what}: {} of {} symbols are text",
            final_table.num_syms,
            first_table.num_syms
        );

        let frame_path = dir.path().join(format!("{i}.pad"));
        let frame = pad(&first.table, &[], &frame_path);
        let framed = Outputs::new(dir.path(), &format!("{i}-final"));
        run.build(Some(&frame_path), &framed, &map);
        check_framed(&frame, &framed, &plain, run, &what);
    }
}
