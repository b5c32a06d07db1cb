//! Round trips of `kslink-verify`'s decoder: a map goes through kslink-table (as a
//! `KallsymsTable` artifact and as kslink's own object) and through upstream's
//! `scripts/kallsyms` + the GNU assembler, and the decoder must read back exactly what
//! [`oracle`] says `/proc/kallsyms` shows. The oracle is written from the rules in
//! `kallsyms-format.md`, independently of kslink-table.
//!
//! Also: `check()` accepts every table built here and names the array of a tampered one, and
//! the `kslink-verify` executable prints the oracle's lines and fails cleanly on bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use kslink_schema::{artifact, ArrayKind, KallsymsTable, TableOptions};
use kslink_table::{build, read_map, write_object, BuiltTable, Profile};
use kslink_tests::gen::{corner_cases_described, random_map, AddrWidth, GenOptions, Percpu};
use kslink_tests::tempdir;
use kslink_tests::{arch_available, assemble, bin_path, run_upstream, Arch, KernelVersion};
use kslink_verify::{view_artifact, view_elf, view_linked_arrays, ElfDecodeOptions, KernelSymbol};

// ---------------------------------------------------------------------------------------
// The oracle: what `/proc/kallsyms` lists for a map, straight from the rules.
// ---------------------------------------------------------------------------------------

/// One `/proc/kallsyms` line: address, type letter, name.
type Line = (u64, u8, Vec<u8>);

/// The options of upstream's generator that change what the kernel sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Flags {
    all_symbols: bool,
    absolute_percpu: bool,
    /// 6.1 only.
    base_relative: bool,
    /// 6.1 only; changes only the order of `kallsyms_seqs_of_names`, not the listing.
    lto_clang: bool,
    /// 7.3 only: place-relative offsets; without it the kernel sees 32-bit addresses.
    pc_relative: bool,
}

impl Flags {
    const NONE: Flags = Flags {
        all_symbols: false,
        absolute_percpu: false,
        base_relative: false,
        lto_clang: false,
        pc_relative: false,
    };
}

const KEPT_ABSOLUTE: [&[u8]; 4] = [
    b"__kernel_syscall_via_break",
    b"__kernel_syscall_via_epc",
    b"__kernel_sigtramp",
    b"__gp",
];
const IGNORED_6_1_EXACT: [&[u8]; 11] = [
    b"kallsyms_addresses",
    b"kallsyms_offsets",
    b"kallsyms_relative_base",
    b"kallsyms_num_syms",
    b"kallsyms_names",
    b"kallsyms_markers",
    b"kallsyms_token_table",
    b"kallsyms_token_index",
    b"kallsyms_seqs_of_names",
    b"_SDA_BASE_",
    b"_SDA2_BASE_",
];
const IGNORED_6_1_PREFIXES: [&[u8]; 10] = [
    b"__efistub_",
    b"__kvm_nvhe_$",
    b"__kvm_nvhe_.L",
    b"__AArch64ADRPThunk_",
    b"__ARMV5PILongThunk_",
    b"__ARMV7PILongThunk_",
    b"__ThumbV7PILongThunk_",
    b"__LA25Thunk_",
    b"__microLA25Thunk_",
    b"__kcfi_typeid_",
];
const IGNORED_6_1_SUFFIXES: [&[u8]; 3] = [b"_from_arm", b"_from_thumb", b"_veneer"];
const IGNORED_6_1_INSIDE: [&[u8]; 2] = [b".long_branch.", b".plt_branch."];

/// Whether the generator of `v` drops the symbol while reading.
fn ignored(v: KernelVersion, ty: u8, name: &[u8]) -> bool {
    let v6_1 = v == KernelVersion::V6_1;
    let ignored_types: &[u8] = if v6_1 { b"uUnN" } else { b"un" };
    if ignored_types.contains(&ty) {
        return true;
    }
    if v6_1
        && (IGNORED_6_1_EXACT.contains(&name)
            || IGNORED_6_1_PREFIXES.iter().any(|p| name.starts_with(p))
            || IGNORED_6_1_SUFFIXES.iter().any(|s| name.ends_with(s))
            || IGNORED_6_1_INSIDE
                .iter()
                .any(|m| name.windows(m.len()).any(|w| w == *m)))
    {
        return true;
    }
    ty.eq_ignore_ascii_case(&b'A') && !KEPT_ABSOLUTE.contains(&name)
}

/// One map line as the generator of `v` reads it; `Ok(None)` for a line 6.1 skips.
type Parsed<'a> = Option<(u64, u8, &'a [u8])>;

fn parse_line(v: KernelVersion, line: &[u8]) -> Result<Parsed<'_>, String> {
    let hex = |s: &[u8]| u64::from_str_radix(std::str::from_utf8(s).ok()?, 16).ok();
    if v == KernelVersion::V6_1 {
        // fscanf("%llx %c %2048s"): whitespace-separated words; a line that does not start
        // with a number is skipped. (Names with blanks are not modelled: no such inputs.)
        let mut words = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty());
        return Ok(
            match (words.next().and_then(hex), words.next(), words.next()) {
                (Some(addr), Some(&[ty]), Some(name)) => Some((addr, ty, name)),
                _ => None,
            },
        );
    }
    // 6.12: `ADDR TYPE NAME`, the name being the rest of the line.
    let error = || format!("line format error: {:?}", String::from_utf8_lossy(line));
    let space = line.iter().position(|&b| b == b' ').ok_or_else(error)?;
    let addr = hex(&line[..space]).ok_or_else(error)?;
    match &line[space + 1..] {
        [ty, b' ', name @ ..] if ty.is_ascii() => Ok(Some((addr, *ty, name))),
        _ => Err(error()),
    }
}

/// Whether a name looks assigned by a linker script (a tie key of the address sort).
fn looks_provided(name: &[u8]) -> bool {
    name.len() >= 8
        && name.starts_with(b"__")
        && (name[2..].starts_with(b"start_")
            || name[2..].starts_with(b"stop_")
            || name[2..].starts_with(b"end_")
            || name.ends_with(b"_start")
            || name.ends_with(b"_end"))
}

/// What `/proc/kallsyms` lists for a kernel whose table upstream's generator of `v` made from
/// `map` with `flags`, in table order, and the address of `_text`; `Err` when the generator
/// refuses the map.
fn oracle(map: &[u8], v: KernelVersion, flags: Flags) -> Result<(Vec<Line>, u64), String> {
    struct Sym {
        addr: u64,
        ty: u8,
        name: Vec<u8>,
        absolute: bool,
    }
    let mut text = 0;
    // _stext.._etext, _sinittext.._einittext, __per_cpu_start..__per_cpu_end (inclusive).
    let mut ranges = [(0u64, 0u64), (0, 0)];
    let mut percpu = (u64::MAX, 0u64);
    let mut syms = Vec::new();
    for line in map.split_inclusive(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let Some((addr, ty, name)) = parse_line(v, line)? else {
            continue;
        };
        if name.len() >= 512 {
            continue;
        }
        if name == b"_text" {
            text = addr;
        }
        if ignored(v, ty, name) {
            continue;
        }
        match name {
            b"_stext" => ranges[0].0 = addr,
            b"_etext" => ranges[0].1 = addr,
            b"_sinittext" => ranges[1].0 = addr,
            b"_einittext" => ranges[1].1 = addr,
            b"__per_cpu_start" => percpu.0 = addr,
            b"__per_cpu_end" => percpu.1 = addr,
            _ => {}
        }
        let name = name.to_vec();
        syms.push(Sym {
            addr,
            ty,
            name,
            absolute: false,
        });
    }
    if !flags.all_symbols {
        let in_text = |a: u64| ranges.iter().any(|&(start, end)| start <= a && a <= end);
        syms.retain(|s| {
            let bound = s.name.starts_with(b"__start_") || s.name.starts_with(b"__stop_");
            (v != KernelVersion::V6_1 && bound)
                || (in_text(s.addr)
                    && !(s.addr == ranges[0].1 && s.name != b"_etext")
                    && !(s.addr == ranges[1].1 && s.name != b"_einittext"))
        });
    }
    if v == KernelVersion::V6_1 && syms.is_empty() {
        return Err("No valid symbol.".into());
    }
    if flags.absolute_percpu {
        for s in syms
            .iter_mut()
            .filter(|s| percpu.0 <= s.addr && s.addr <= percpu.1)
        {
            s.ty = b'A';
            s.absolute = true;
        }
    }
    // Stable: input order breaks the remaining ties.
    syms.sort_by_key(|s| {
        let underscores = s.name.iter().take_while(|&&b| b == b'_').count();
        let weak = matches!(s.ty, b'w' | b'W');
        (s.addr, weak, looks_provided(&s.name), underscores)
    });
    if v == KernelVersion::V7_3 && flags.pc_relative {
        // `.long _text - . + (%d)`: the distance from _text, as a signed 64-bit
        // difference, must fit in 32 signed bits.
        if let Some(s) = syms
            .iter()
            .find(|s| i32::try_from(s.addr.wrapping_sub(text) as i64).is_err())
        {
            return Err(format!("{:#x} out of range of _text", s.addr));
        }
    }
    // Without --pc-relative, 7.3 stores `(unsigned int)addr`.
    let address32 = v == KernelVersion::V7_3 && !flags.pc_relative;
    if v == KernelVersion::V6_12 || flags.base_relative {
        let base = syms.iter().find(|s| !s.absolute).map_or(0, |s| s.addr) as i128;
        for s in &syms {
            let addr = s.addr as i128;
            let fits = if !flags.absolute_percpu {
                (0..=u32::MAX as i128).contains(&(addr - base))
            } else if s.absolute {
                (0..=i32::MAX as i128).contains(&addr)
            } else {
                (i32::MIN as i128..0).contains(&(base - addr - 1))
            };
            if !fits {
                return Err(format!("{:#x} out of range in relative mode", s.addr));
            }
        }
    }
    let lines = syms
        .into_iter()
        .filter(|s| !s.name.is_empty())
        .map(|s| {
            let addr = if address32 {
                s.addr & 0xffff_ffff
            } else {
                s.addr
            };
            (addr, s.ty, s.name)
        })
        .collect();
    Ok((lines, text))
}

// ---------------------------------------------------------------------------------------
// Building and decoding.
// ---------------------------------------------------------------------------------------

fn flags_list(v: KernelVersion) -> Vec<Flags> {
    let mut list = Vec::new();
    if v == KernelVersion::V7_3 {
        for all_symbols in [false, true] {
            for pc_relative in [false, true] {
                list.push(Flags {
                    all_symbols,
                    pc_relative,
                    ..Flags::NONE
                });
            }
        }
        return list;
    }
    for all_symbols in [false, true] {
        for absolute_percpu in [false, true] {
            let base = match v {
                KernelVersion::V6_12 | KernelVersion::V7_3 => &[false][..],
                KernelVersion::V6_1 => &[false, true][..],
            };
            for &base_relative in base {
                list.push(Flags {
                    all_symbols,
                    absolute_percpu,
                    base_relative,
                    ..Flags::NONE
                });
            }
        }
    }
    list
}

fn flag_args(flags: Flags) -> Vec<&'static str> {
    let mut args = Vec::new();
    if flags.all_symbols {
        args.push("--all-symbols");
    }
    if flags.absolute_percpu {
        args.push("--absolute-percpu");
    }
    if flags.base_relative {
        args.push("--base-relative");
    }
    if flags.lto_clang {
        args.push("--lto-clang");
    }
    if flags.pc_relative {
        args.push("--pc-relative");
    }
    args
}

fn profile(v: KernelVersion) -> &'static Profile {
    let name = match v {
        KernelVersion::V6_12 => "linux-6.12",
        KernelVersion::V6_1 => "linux-6.1",
        KernelVersion::V7_3 => "linux-7.3",
    };
    Profile::by_name(name).expect("known profile")
}

fn table_arch(name: &str) -> &'static kslink_table::Arch {
    kslink_table::Arch::by_name(name).expect("known arch")
}

/// kslink-table's build of `map`, or its error message.
fn kslink_build(map: &[u8], v: KernelVersion, flags: Flags) -> Result<BuiltTable, String> {
    let profile = profile(v);
    let list = read_map(map, "map", profile).map_err(|e| e.to_string())?;
    let options = TableOptions {
        all_symbols: flags.all_symbols,
        absolute_percpu: flags.absolute_percpu,
        base_relative: flags.base_relative,
        lto_clang: flags.lto_clang,
        pc_relative: flags.pc_relative,
    };
    build(list, profile, options).map_err(|e| e.to_string())
}

/// Whether every address of `map` is printed with at most 8 digits (a 32-bit map).
fn is_32_bit(map: &[u8]) -> bool {
    map.split(|&b| b == b'\n')
        .all(|line| line.iter().position(|&b| b == b' ').unwrap_or(0) <= 8)
}

fn lines_of(symbols: Vec<KernelSymbol>) -> Vec<Line> {
    symbols
        .into_iter()
        .map(|s| (s.address, s.type_letter, s.name))
        .collect()
}

fn show(line: &Line) -> String {
    format!(
        "{:x} {} {}",
        line.0,
        line.1 as char,
        String::from_utf8_lossy(&line.2)
    )
}

/// Panics with the first difference between the oracle's view and the decoder's.
fn assert_same(what: &str, expected: &[Line], decoded: &[Line]) {
    if expected == decoded {
        return;
    }
    let at = expected
        .iter()
        .zip(decoded)
        .position(|(e, d)| e != d)
        .unwrap_or(expected.len().min(decoded.len()));
    panic!(
        "{what}: decoded {} symbols, the oracle says {}; first difference at {at}: \
         decoded {:?}, expected {:?}",
        decoded.len(),
        expected.len(),
        decoded.get(at).map(show),
        expected.get(at).map(show),
    );
}

/// Decodes the table in the ELF file `bytes`, checks it, and compares it with `expected`.
/// `check` is false only for tables upstream is known to get wrong.
fn decode_elf(what: &str, bytes: &[u8], options: ElfDecodeOptions, expected: &[Line], check: bool) {
    let elf = object::File::parse(bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
    let view = view_elf(&elf, options).unwrap_or_else(|e| panic!("{what}: {e}"));
    if check {
        view.check()
            .unwrap_or_else(|e| panic!("{what}: check: {e}"));
    }
    let symbols = view.symbols().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_same(what, expected, &lines_of(symbols));
}

/// Round trips (a) and (b): kslink's artifact, written and read back, and kslink's object,
/// for a little-endian and a big-endian layout of the map's width. Returns whether the map
/// was accepted (by the oracle and, necessarily then, by kslink).
fn round_trip_kslink(what: &str, map: &[u8], v: KernelVersion, flags: Flags, dir: &Path) -> bool {
    let expected = oracle(map, v, flags);
    let built = kslink_build(map, v, flags);
    let (expected, text, built) = match (expected, built) {
        (Err(_), Err(_)) => return false,
        (Ok(_), Err(e)) => panic!("{what}: kslink refuses a map the oracle accepts: {e}"),
        (Err(why), Ok(_)) => panic!("{what}: kslink accepts a map the oracle refuses: {why}"),
        (Ok((expected, text)), Ok(built)) => (expected, text, built),
    };
    // Place-relative objects are written for the targets whose assembler was checked:
    // aarch64_be stands in for ppc64 as the 64-bit big-endian one.
    let arches: &[&str] = match (is_32_bit(map), flags.pc_relative) {
        (true, _) => &["i386", "armeb"],
        (false, false) => &["x86_64", "ppc64"],
        (false, true) => &["x86_64", "aarch64_be"],
    };
    for arch in arches.iter().map(|name| table_arch(name)) {
        let what = format!("{what} [{}]", arch.name);
        let table = built.to_artifact(arch.layout());
        let path = dir.join("table.kst");
        artifact::write(&path, &table).unwrap();
        let back: KallsymsTable = artifact::read(&path).unwrap();
        assert_eq!(back, table, "{what}: artifact round trip");
        let view = view_artifact(&back).unwrap_or_else(|e| panic!("{what}: artifact: {e}"));
        view.check()
            .unwrap_or_else(|e| panic!("{what}: artifact: check: {e}"));
        let symbols = view
            .symbols()
            .unwrap_or_else(|e| panic!("{what}: artifact: {e}"));
        assert_same(&format!("{what} artifact"), &expected, &lines_of(symbols));

        let mut object = Vec::new();
        write_object(&table, arch, &mut object).unwrap();
        let options = ElfDecodeOptions {
            text_address: text,
            absolute_percpu: Some(flags.absolute_percpu),
            pc_relative: Some(flags.pc_relative),
        };
        decode_elf(&format!("{what} object"), &object, options, &expected, true);
    }
    true
}

/// Round trip (c): upstream's `.S` for `map`, assembled for `arch`, decoded. Returns whether
/// upstream accepted the map (the oracle must agree).
fn round_trip_upstream(
    what: &str,
    map: &[u8],
    v: KernelVersion,
    flags: Flags,
    arch: Arch,
    dir: &Path,
) -> bool {
    let map_path = dir.join("in.map");
    std::fs::write(&map_path, map).unwrap();
    let out = run_upstream(v, &flag_args(flags), &map_path);
    let (expected, text) = match (oracle(map, v, flags), out.success()) {
        (Err(_), false) => return false,
        (Ok(_), false) => panic!(
            "{what}: upstream refuses a map the oracle accepts: {}",
            out.stderr
        ),
        (Err(why), true) => panic!("{what}: upstream accepts a map the oracle refuses: {why}"),
        (Ok(ok), true) => ok,
    };
    let s_path = dir.join("upstream.S");
    std::fs::write(&s_path, &out.stdout).unwrap();
    let o_path = dir.join("upstream.o");
    assemble(&s_path, arch, &o_path);
    let options = ElfDecodeOptions {
        text_address: text,
        absolute_percpu: Some(flags.absolute_percpu),
        pc_relative: Some(flags.pc_relative),
    };
    // 6.1's compare_names expands names into 512-byte buffers: a 511-byte name overruns
    // them by its NUL, and upstream's kallsyms_seqs_of_names comes out corrupt (an index
    // twice, another missing), which check() rightly reports.
    let check = !(v == KernelVersion::V6_1 && what.contains("name_511"));
    decode_elf(
        &format!("{what} [gcc {arch}]"),
        &std::fs::read(&o_path).unwrap(),
        options,
        &expected,
        check,
    );
    true
}

/// The corner cases that upstream and kslink both read for `v`. For 6.1, the blank-address
/// (undefined) lines of raw `nm` output are taken out first: upstream skips them, kslink's
/// reader refuses them. Left out: 6.1's `quirk_*` cases (blanks in names, over-long
/// words), which its `fscanf` reads in ways the oracle does not model, and the maps kslink
/// refuses to read (6.12: raw `nm` output; 6.1: `name_over_2048`).
fn corner_cases_for(v: KernelVersion) -> Vec<(String, Vec<u8>)> {
    corner_cases_described()
        .into_iter()
        .filter(|c| !(v == KernelVersion::V6_1 && c.name.starts_with("quirk_")))
        .map(|c| {
            let map = match v {
                KernelVersion::V6_1 => without_undefined(&c.map),
                KernelVersion::V6_12 | KernelVersion::V7_3 => c.map,
            };
            (c.name, map)
        })
        .filter(|(name, map)| {
            let read = read_map(map.as_bytes(), name, profile(v));
            if let Err(e) = &read {
                eprintln!("{v}: leaving out {name}: kslink reads no map: {e}");
            }
            read.is_ok()
        })
        .map(|(name, map)| (name.to_owned(), map.into_bytes()))
        .collect()
}

/// `map` without the lines that start with a blank (undefined symbols in `nm` output).
fn without_undefined(map: &str) -> String {
    map.split_inclusive('\n')
        .filter(|line| !line.starts_with(' '))
        .collect()
}

/// The random maps: 64- and 32-bit, every per-cpu placement, 6.1's with raw `nm` extras.
fn random_maps(v: KernelVersion) -> Vec<(String, Vec<u8>)> {
    let mut maps = Vec::new();
    for seed in 0..24u64 {
        let width = if seed % 4 == 3 {
            AddrWidth::Bits32
        } else {
            AddrWidth::Bits64
        };
        let opts = GenOptions {
            width,
            symbols: [50, 300, 900, 2000][(seed % 4) as usize],
            percpu: [Percpu::AtZero, Percpu::InData, Percpu::Absent][(seed % 3) as usize],
            nm_extras: v == KernelVersion::V6_1 && seed % 2 == 0,
            long_names: seed % 5 != 0,
            shuffle_ties: seed % 7 != 0,
        };
        // Without the blank-address (undefined) lines, which kslink's reader refuses.
        let map = without_undefined(&random_map(1000 + seed, opts));
        maps.push((format!("random seed {seed}"), map.into_bytes()));
    }
    maps
}

// ---------------------------------------------------------------------------------------
// Tests.
// ---------------------------------------------------------------------------------------

/// The oracle on a small map, against views worked out by hand.
#[test]
fn oracle_matches_hand_worked_views() {
    let map = b"\
0000000000000000 D __per_cpu_start
0000000000000010 D pcpu_var
0000000000000100 D __per_cpu_end
0000000000001234 A ignored_abs
ffffffff81000000 T _text
ffffffff81000000 T _stext
ffffffff81000000 W weak_at_text
ffffffff81000000 T __start_head
ffffffff81000000 t __x
ffffffff81000010 u unique_ignored
ffffffff81000020 A __gp
ffffffff81001000 T _etext
ffffffff81001000 t at_etext
ffffffff81002000 R __start___ex_table
ffffffff81002000 R rodata_thing
ffffffff81003000 T _sinittext
ffffffff81003010 t init_fn
ffffffff81003020 T _einittext
ffffffff81003020 d at_einittext
ffffffff81004000 B __bss_stop
";
    let v = KernelVersion::V6_12;
    let text_only = Flags::NONE;
    let lines = |list: &[(u64, char, &str)]| -> Vec<Line> {
        list.iter()
            .map(|&(a, t, n)| (a, t as u8, n.as_bytes().to_vec()))
            .collect()
    };
    let t = 0xffff_ffff_8100_0000u64;
    let (got, text) = oracle(map, v, text_only).unwrap();
    assert_eq!(text, t);
    assert_eq!(
        got,
        lines(&[
            (t, 'T', "_text"),
            (t, 'T', "_stext"),
            (t, 't', "__x"),
            (t, 'T', "__start_head"),
            (t, 'W', "weak_at_text"),
            (t + 0x20, 'A', "__gp"),
            (t + 0x1000, 'T', "_etext"),
            (t + 0x2000, 'R', "__start___ex_table"),
            (t + 0x3000, 'T', "_sinittext"),
            (t + 0x3010, 't', "init_fn"),
            (t + 0x3020, 'T', "_einittext"),
        ])
    );
    // 6.1 keeps no __start_* outside text.
    let (got, _) = oracle(map, KernelVersion::V6_1, text_only).unwrap();
    assert_eq!(got.len(), 10);
    let all_abs = Flags {
        all_symbols: true,
        absolute_percpu: true,
        ..Flags::NONE
    };
    let (got, _) = oracle(map, v, all_abs).unwrap();
    assert_eq!(
        got[..3],
        lines(&[
            (0, 'A', "__per_cpu_start"),
            (0x10, 'A', "pcpu_var"),
            (0x100, 'A', "__per_cpu_end"),
        ])
    );
    // All but the ignored `A` and `u` lines.
    assert_eq!(got.len(), 18);
    // Without --absolute-percpu the per-cpu symbols are 2^64 - 2^31 below the text.
    let all = Flags {
        absolute_percpu: false,
        ..all_abs
    };
    assert!(oracle(map, v, all).is_err());
    // A name that expands to nothing is not listed.
    let (got, _) = oracle(b"ffffffff81000000 T \nffffffff81000000 T x\n", v, all).unwrap();
    assert_eq!(got, lines(&[(t, 'T', "x")]));
}

/// (a) and (b) for every corner case, both profiles, every flag combination.
#[test]
fn corner_cases_round_trip_through_kslink() {
    let dir = tempdir();
    for v in KernelVersion::ALL {
        let mut decoded = 0;
        for (name, map) in corner_cases_for(v) {
            for flags in flags_list(v) {
                let what = format!("{v} {name} {:?}", flag_args(flags));
                decoded += round_trip_kslink(&what, &map, v, flags, dir.path()) as usize;
            }
        }
        assert!(decoded > 150, "{v}: only {decoded} corner-case tables");
    }
}

/// (c) for every corner case and every flag combination of `v`: upstream's `.S`, assembled
/// by `gcc -c` (64-bit maps, x86_64) or `as --32` (32-bit maps, i386).
fn corner_cases_round_trip_through_upstream(v: KernelVersion) {
    assert!(arch_available(Arch::X86_64), "gcc is needed");
    let dir = tempdir();
    let mut decoded = 0;
    for (name, map) in corner_cases_for(v) {
        let arch = if is_32_bit(&map) {
            Arch::I386
        } else {
            Arch::X86_64
        };
        if !arch_available(arch) {
            continue;
        }
        for flags in flags_list(v) {
            let what = format!("{v} {name} {:?}", flag_args(flags));
            decoded += round_trip_upstream(&what, &map, v, flags, arch, dir.path()) as usize;
        }
    }
    assert!(decoded > 150, "{v}: only {decoded} corner-case tables");
}

#[test]
fn corner_cases_round_trip_through_upstream_6_12() {
    corner_cases_round_trip_through_upstream(KernelVersion::V6_12);
}

#[test]
fn corner_cases_round_trip_through_upstream_6_1() {
    corner_cases_round_trip_through_upstream(KernelVersion::V6_1);
}

#[test]
fn corner_cases_round_trip_through_upstream_7_3() {
    corner_cases_round_trip_through_upstream(KernelVersion::V7_3);
}

/// (c) on the other assemblers that are installed (aarch64, riscv64: RELA; arm: REL with
/// the addends in the fields), for a few corner cases and random maps of their width.
#[test]
fn round_trip_through_upstream_other_arches() {
    let dir = tempdir();
    let picked = [
        "skeleton",
        "skeleton_32",
        "text_above_base",
        "percpu_zero",
        "percpu_zero_32",
        "long_compressed",
        "long_compressed_32",
        "many_ties_32",
        "markers_257",
        "random_small_32",
    ];
    let mut tried = 0;
    for arch in [Arch::Aarch64, Arch::Riscv64, Arch::Arm] {
        if !arch_available(arch) {
            kslink_tests::skip_for_missing_tool(
                &arch.to_string(),
                "its assembler",
                arch.debian_package(),
            );
            continue;
        }
        let bits32 = arch.bits() == 32;
        let width = if bits32 {
            AddrWidth::Bits32
        } else {
            AddrWidth::Bits64
        };
        let mut maps: Vec<(String, Vec<u8>)> = corner_cases_described()
            .into_iter()
            .filter(|c| picked.contains(&c.name) && is_32_bit(c.map.as_bytes()) == bits32)
            .map(|c| (c.name.to_owned(), c.map.into_bytes()))
            .collect();
        let opts = GenOptions {
            width,
            symbols: 600,
            ..GenOptions::default()
        };
        maps.push(("random".into(), random_map(77, opts).into_bytes()));
        for v in KernelVersion::ALL {
            for (name, map) in &maps {
                for flags in flags_list(v) {
                    // Text-only and everything, each with absolute per-cpu symbols (6.x);
                    // every combination of 7.3's.
                    if v != KernelVersion::V7_3
                        && (flags.absolute_percpu != flags.all_symbols || flags.base_relative)
                    {
                        continue;
                    }
                    let what = format!("{v} {name} {:?}", flag_args(flags));
                    tried += round_trip_upstream(&what, map, v, flags, arch, dir.path()) as usize;
                }
            }
        }
    }
    let any = [Arch::Aarch64, Arch::Riscv64, Arch::Arm]
        .into_iter()
        .any(arch_available);
    assert!(tried > 0 || !any, "no table from other assemblers");
    eprintln!("{tried} tables from other assemblers decoded");
}

/// (a), (b) and (c) for two dozen random maps (64- and 32-bit, per-cpu area at 0, in data
/// or absent, 6.1's with the raw `nm` extras): (a) and (b) with every flag combination, (c)
/// with one combination per map, in turn.
#[test]
fn random_maps_round_trip() {
    let dir = tempdir();
    for v in KernelVersion::ALL {
        let flag_sets = flags_list(v);
        let mut decoded = 0;
        for (i, (name, map)) in random_maps(v).into_iter().enumerate() {
            for &flags in &flag_sets {
                let what = format!("{v} {name} {:?}", flag_args(flags));
                decoded += round_trip_kslink(&what, &map, v, flags, dir.path()) as usize;
            }
            let arch = if is_32_bit(&map) {
                Arch::I386
            } else {
                Arch::X86_64
            };
            if arch_available(arch) {
                // Prefer a combination upstream accepts for this map.
                let flags = (0..flag_sets.len())
                    .map(|k| flag_sets[(i + k) % flag_sets.len()])
                    .find(|&f| oracle(&map, v, f).is_ok())
                    .expect("some flags fit");
                let what = format!("{v} {name} {:?}", flag_args(flags));
                assert!(round_trip_upstream(&what, &map, v, flags, arch, dir.path()));
            }
        }
        let all = 24 * flag_sets.len();
        assert!(
            decoded > all / 2,
            "{v}: only {decoded} of {all} random tables"
        );
    }
}

/// 6.1's `--lto-clang` orders `kallsyms_seqs_of_names` by the names cut at `.llvm.`: the
/// listing is unchanged, and check() accepts that order (an artifact says which order it
/// has; an ELF file does not, so there either is accepted).
#[test]
fn lto_clang_tables_round_trip() {
    let dir = tempdir();
    let v = KernelVersion::V6_1;
    let mut maps: Vec<(String, Vec<u8>)> = corner_cases_for(v)
        .into_iter()
        .filter(|(name, _)| {
            ["llvm_suffixes", "duplicate_names", "skeleton_32"].contains(&name.as_str())
        })
        .collect();
    maps.extend(random_maps(v).into_iter().take(4));
    for (name, map) in &maps {
        for base_relative in [false, true] {
            let flags = Flags {
                all_symbols: true,
                absolute_percpu: true,
                base_relative,
                lto_clang: true,
                pc_relative: false,
            };
            let what = format!("{v} {name} {:?}", flag_args(flags));
            round_trip_kslink(&what, map, v, flags, dir.path());
            let arch = if is_32_bit(map) {
                Arch::I386
            } else {
                Arch::X86_64
            };
            if arch_available(arch) {
                round_trip_upstream(&what, map, v, flags, arch, dir.path());
            }
        }
    }
    // The cut changes the order here, so the artifact's word matters.
    let (_, map) = maps
        .iter()
        .find(|(name, _)| name == "llvm_suffixes")
        .unwrap();
    let flags = Flags {
        all_symbols: true,
        lto_clang: true,
        ..Flags::NONE
    };
    let layout = table_arch("x86_64").layout();
    let lto = kslink_build(map, v, flags).unwrap().to_artifact(layout);
    let plain = kslink_build(
        map,
        v,
        Flags {
            lto_clang: false,
            ..flags
        },
    )
    .unwrap()
    .to_artifact(layout);
    assert_ne!(
        lto.array_bytes(ArrayKind::SeqsOfNames),
        plain.array_bytes(ArrayKind::SeqsOfNames)
    );
    for (mut table, claims) in [(lto.clone(), false), (plain.clone(), true)] {
        table.options.lto_clang = claims;
        let err = view_artifact(&table).unwrap().check().unwrap_err();
        assert!(err.0.contains("kallsyms_seqs_of_names"), "{err}");
    }
}

/// Debian's System.map (163k symbols, 6.12, `--all-symbols --absolute-percpu`): (a), (b)
/// and (c), the ELF ones also with absolute-percpu detected from the offsets.
#[test]
fn debian_system_map_round_trip() {
    let dir = tempdir();
    let map = kslink_tests::debian_system_map();
    let v = KernelVersion::V6_12;
    let flags = Flags {
        all_symbols: true,
        absolute_percpu: true,
        ..Flags::NONE
    };
    let (expected, text) = oracle(&map, v, flags).unwrap();
    assert_eq!(expected.len(), 163_205);
    assert!(round_trip_kslink("debian", &map, v, flags, dir.path()));

    let built = kslink_build(&map, v, flags).unwrap();
    let arch = table_arch("x86_64");
    let mut object = Vec::new();
    write_object(&built.to_artifact(arch.layout()), arch, &mut object).unwrap();
    let detect = ElfDecodeOptions {
        text_address: text,
        absolute_percpu: None,
        pc_relative: None,
    };
    decode_elf("debian object, detected", &object, detect, &expected, true);

    assert!(round_trip_upstream(
        "debian",
        &map,
        v,
        flags,
        Arch::X86_64,
        dir.path()
    ));
    let upstream_object = std::fs::read(dir.path().join("upstream.o")).unwrap();
    decode_elf(
        "debian upstream object, detected",
        &upstream_object,
        detect,
        &expected,
        true,
    );
}

/// Debian's System.map in 7.3's format, as a 64-bit kernel's is (`--all-symbols
/// --pc-relative`): (a), (b) and (c), the objects also with the encoding detected from
/// their relocations, and the table as linked (entries holding their distances from
/// themselves) through `view_linked_arrays`, the patch stage's entry point.
#[test]
fn debian_system_map_round_trip_7_3() {
    let dir = tempdir();
    let map = kslink_tests::debian_system_map();
    let v = KernelVersion::V7_3;
    let flags = Flags {
        all_symbols: true,
        pc_relative: true,
        ..Flags::NONE
    };
    let (expected, text) = oracle(&map, v, flags).unwrap();
    assert_eq!(expected.len(), 163_205);
    assert!(round_trip_kslink("debian 7.3", &map, v, flags, dir.path()));
    let detect = ElfDecodeOptions {
        text_address: text,
        ..ElfDecodeOptions::default()
    };
    assert!(round_trip_upstream(
        "debian 7.3",
        &map,
        v,
        flags,
        Arch::X86_64,
        dir.path()
    ));
    let upstream_object = std::fs::read(dir.path().join("upstream.o")).unwrap();
    decode_elf(
        "debian 7.3 upstream object, detected",
        &upstream_object,
        detect,
        &expected,
        true,
    );

    let table = kslink_build(&map, v, flags)
        .unwrap()
        .to_artifact(table_arch("x86_64").layout());
    let offsets_address =
        0xffff_ffff_8200_0000u64 + array_offset(&table, ArrayKind::Offsets) as u64;
    let linked = linked_offsets(&table, offsets_address);
    let arrays = table.arrays.iter().map(|array| {
        let bytes = match array.kind {
            ArrayKind::Offsets => linked.as_slice(),
            kind => table.array_bytes(kind).unwrap(),
        };
        (array.kind, bytes)
    });
    let view = view_linked_arrays(
        table.layout,
        arrays,
        &table.profile,
        table.options,
        offsets_address,
    )
    .unwrap();
    view.check().unwrap();
    assert_same(
        "debian 7.3 as linked",
        &expected,
        &lines_of(view.symbols().unwrap()),
    );
}

/// `kallsyms_offsets` of a place-relative `table` as linked with the array at
/// `offsets_address`: each entry's symbol's address less the entry's own.
fn linked_offsets(table: &KallsymsTable, offsets_address: u64) -> Vec<u8> {
    let start = array_offset(table, ArrayKind::Offsets);
    (0..table.num_syms as usize)
        .flat_map(|index| {
            let distance = read_u32(table, start + 4 * index) as i32 as i64 as u64;
            let entry = offsets_address + 4 * index as u64;
            let value = table
                .text_address
                .wrapping_add(distance)
                .wrapping_sub(entry) as u32;
            if table.layout.big_endian {
                value.to_be_bytes()
            } else {
                value.to_le_bytes()
            }
        })
        .collect()
}

/// A table in 6.12's format does not decode as a 7.3 table, nor one in 7.3's as a 6.12 (or
/// 6.1) one: as an artifact claiming the other profile, as arrays given to
/// `view_linked_arrays` with the other profile, and as an object read with the other
/// format's options. Each is an error that says so, never a listing of wrong addresses.
#[test]
fn tables_of_one_format_do_not_decode_as_another() {
    let map = random_map(
        9,
        GenOptions {
            symbols: 700,
            percpu: Percpu::Absent,
            ..GenOptions::default()
        },
    )
    .into_bytes();
    let arch = table_arch("x86_64");
    let build_as = |v, flags| {
        kslink_build(&map, v, flags)
            .unwrap()
            .to_artifact(arch.layout())
    };
    let all = Flags {
        all_symbols: true,
        ..Flags::NONE
    };
    let six = build_as(KernelVersion::V6_12, all);
    let six_one = build_as(
        KernelVersion::V6_1,
        Flags {
            base_relative: true,
            ..all
        },
    );
    let sevens = [
        build_as(
            KernelVersion::V7_3,
            Flags {
                pc_relative: true,
                ..all
            },
        ),
        build_as(KernelVersion::V7_3, all),
    ];
    let pc_relative = TableOptions {
        all_symbols: true,
        pc_relative: true,
        ..TableOptions::default()
    };
    let another_format = |what: &str, result: Result<kslink_verify::TableView, _>| {
        let err = result.err().unwrap_or_else(|| panic!("{what}: decodes"));
        let err: kslink_verify::DecodeError = err;
        assert!(
            err.0.contains("another format") || err.0.contains("6.x") || err.0.contains("7.x"),
            "{what}: {err}"
        );
    };
    for older in [&six, &six_one] {
        for options in [pc_relative, all_options()] {
            let mut claimed = older.clone();
            claimed.profile = "linux-7.3".into();
            claimed.options = options;
            another_format(
                &format!("{} artifact as linux-7.3 {options:?}", older.profile),
                view_artifact(&claimed),
            );
            another_format(
                &format!("{} arrays as linux-7.3 {options:?}", older.profile),
                view_linked_arrays(
                    older.layout,
                    arrays_of(older),
                    "linux-7.3",
                    options,
                    0xffff_ffff_8200_0000,
                ),
            );
        }
        let mut object = Vec::new();
        write_object(older, arch, &mut object).unwrap();
        let elf = object::File::parse(&*object).unwrap();
        let as_seven = ElfDecodeOptions {
            pc_relative: Some(true),
            ..ElfDecodeOptions::default()
        };
        another_format(
            &format!("{} object read as place-relative", older.profile),
            view_elf(&elf, as_seven),
        );
    }
    for seven in &sevens {
        for (profile, options) in [
            ("linux-6.12", all_options()),
            (
                "linux-6.1",
                TableOptions {
                    base_relative: true,
                    ..all_options()
                },
            ),
            ("linux-6.1", all_options()),
        ] {
            let mut claimed = seven.clone();
            claimed.profile = profile.into();
            claimed.options = options;
            let what = format!("7.3 {:?} as {profile} {options:?}", seven.options);
            another_format(&format!("{what} artifact"), view_artifact(&claimed));
            another_format(
                &format!("{what} arrays"),
                view_linked_arrays(seven.layout, arrays_of(seven), profile, options, 0),
            );
            another_format(
                &format!("{what} arrays, 6.x reader"),
                kslink_verify::view_arrays(seven.layout, arrays_of(seven), false, None),
            );
        }
        let mut object = Vec::new();
        write_object(seven, arch, &mut object).unwrap();
        let elf = object::File::parse(&*object).unwrap();
        let as_six = ElfDecodeOptions {
            absolute_percpu: Some(true),
            ..ElfDecodeOptions::default()
        };
        another_format(
            &format!("7.3 {:?} object read with absolute per-cpu", seven.options),
            view_elf(&elf, as_six),
        );
        // Its own profile and options decode it.
        view_artifact(seven).unwrap().check().unwrap();
    }
}

/// `--all-symbols` alone.
fn all_options() -> TableOptions {
    TableOptions {
        all_symbols: true,
        ..TableOptions::default()
    }
}

/// Each array of `table` with its bytes.
fn arrays_of(table: &KallsymsTable) -> Vec<(ArrayKind, &[u8])> {
    table
        .arrays
        .iter()
        .map(|array| (array.kind, table.array_bytes(array.kind).unwrap()))
        .collect()
}

/// Objects for targets whose assembler's place-relative relocations were not checked are
/// refused with one line that says why and what to do.
#[test]
fn place_relative_objects_for_unchecked_targets_are_refused() {
    let map = random_map(3, GenOptions::default()).into_bytes();
    let flags = Flags {
        all_symbols: true,
        pc_relative: true,
        ..Flags::NONE
    };
    let built = kslink_build(&map, KernelVersion::V7_3, flags).unwrap();
    for name in ["ppc64", "ppc64le", "ppc", "s390x", "loongarch64"] {
        let arch = table_arch(name);
        let err = write_object(&built.to_artifact(arch.layout()), arch, &mut Vec::new())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(name) && err.contains("--emit-asm") && !err.contains('\n'),
            "{name}: {err}"
        );
    }
    // Without --pc-relative there is nothing to relocate.
    let plain = kslink_build(
        &map,
        KernelVersion::V7_3,
        Flags {
            pc_relative: false,
            ..flags
        },
    )
    .unwrap();
    let ppc = table_arch("ppc64");
    write_object(&plain.to_artifact(ppc.layout()), ppc, &mut Vec::new()).unwrap();
}

// ---------------------------------------------------------------------------------------
// Tampered tables.
// ---------------------------------------------------------------------------------------

fn array_offset(table: &KallsymsTable, kind: ArrayKind) -> usize {
    table.array(kind).expect("array present").offset as usize
}

fn write_u32(table: &mut KallsymsTable, at: usize, value: u32) {
    let bytes = if table.layout.big_endian {
        value.to_be_bytes()
    } else {
        value.to_le_bytes()
    };
    table.data[at..at + 4].copy_from_slice(&bytes);
}

fn read_u32(table: &KallsymsTable, at: usize) -> u32 {
    let bytes: [u8; 4] = table.data[at..at + 4].try_into().unwrap();
    if table.layout.big_endian {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    }
}

/// The tampered copies of `table`: what was done, the array the error must name, the table.
fn tampered(table: &KallsymsTable) -> Vec<(&'static str, &'static str, KallsymsTable)> {
    let mut out = Vec::new();

    let mut t = table.clone();
    let markers = array_offset(&t, ArrayKind::Markers);
    let second = read_u32(&t, markers + 4);
    write_u32(&mut t, markers + 4, second + 1);
    out.push(("a marker off by one", "kallsyms_markers", t));

    // Slot 0x80 (the type letters are literals below it; 0x80 and up are pair tokens here)
    // made to point at the next slot's string.
    let mut t = table.clone();
    let index = array_offset(&t, ArrayKind::TokenIndex);
    let (a, b) = (index + 2 * 0x80, index + 2 * 0x81);
    let next = t.data[b..b + 2].to_vec();
    t.data[a..a + 2].copy_from_slice(&next);
    out.push(("a token index entry", "kallsyms_token_index", t));

    // The first and last names in name order differ.
    let mut t = table.clone();
    let seqs = array_offset(&t, ArrayKind::SeqsOfNames);
    let last = seqs + 3 * (t.num_syms as usize - 1);
    let first: [u8; 3] = t.data[seqs..seqs + 3].try_into().unwrap();
    t.data.copy_within(last..last + 3, seqs);
    t.data[last..last + 3].copy_from_slice(&first);
    out.push(("two swapped seqs", "kallsyms_seqs_of_names", t));

    let mut t = table.clone();
    let num = array_offset(&t, ArrayKind::NumSyms);
    write_u32(&mut t, num, table.num_syms + 1);
    out.push(("num_syms one too large", "kallsyms_names", t));

    let mut t = table.clone();
    write_u32(&mut t, num, table.num_syms - 1);
    out.push(("num_syms one too small", "kallsyms_names", t));
    out
}

/// `check()` names the array of a corrupted marker, a misplaced token index entry, two
/// swapped `kallsyms_seqs_of_names` entries and a `num_syms` past (or short of) the names,
/// in artifacts and in objects, for both profiles' layouts, little- and big-endian.
#[test]
fn check_rejects_tampered_tables() {
    let map = random_map(
        5,
        GenOptions {
            symbols: 1500,
            ..GenOptions::default()
        },
    )
    .into_bytes();
    let cases = [
        (KernelVersion::V6_12, true, false, false),
        (KernelVersion::V6_12, false, false, false),
        (KernelVersion::V6_1, true, true, false),
        (KernelVersion::V6_1, true, false, false),
        (KernelVersion::V7_3, false, false, true),
        (KernelVersion::V7_3, false, false, false),
    ];
    for (v, absolute_percpu, base_relative, pc_relative) in cases {
        let flags = Flags {
            all_symbols: true,
            absolute_percpu,
            base_relative,
            pc_relative,
            ..Flags::NONE
        };
        let flags = if oracle(&map, v, flags).is_ok() {
            flags
        } else {
            Flags {
                all_symbols: false,
                ..flags
            }
        };
        let built = kslink_build(&map, v, flags).unwrap();
        // Place-relative objects only for the targets whose assembler was checked.
        let arches = if pc_relative {
            ["x86_64", "aarch64_be", "i386", "armeb"]
        } else {
            ["x86_64", "s390x", "i386", "ppc"]
        };
        for arch in arches.map(table_arch) {
            let table = built.to_artifact(arch.layout());
            assert!(table.num_syms > 512, "three markers");
            view_artifact(&table).unwrap().check().unwrap();
            for (done, array, bad) in tampered(&table) {
                let what = format!("{v} {:?} {}: {done}", flag_args(flags), arch.name);
                let err = match view_artifact(&bad) {
                    Ok(view) => view.check().expect_err(&what),
                    Err(e) => e,
                };
                let names_it = |e: &str| {
                    e.contains(array)
                        || (array == "kallsyms_names" && e.contains("kallsyms_num_syms"))
                };
                assert!(names_it(&err.0), "{what}: artifact: {err}");
                let mut object = Vec::new();
                write_object(&bad, arch, &mut object).unwrap();
                let elf = object::File::parse(&*object).unwrap();
                let options = ElfDecodeOptions {
                    text_address: table.text_address,
                    absolute_percpu: Some(absolute_percpu),
                    pc_relative: Some(pc_relative),
                };
                let err = match view_elf(&elf, options) {
                    Ok(view) => view.check().expect_err(&what),
                    Err(e) => e,
                };
                assert!(names_it(&err.0), "{what}: object: {err}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The executable.
// ---------------------------------------------------------------------------------------

fn run_verify(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(bin_path("kslink-verify"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run kslink-verify")
}

/// Writes kslink's object and artifact for `map`; returns them and the oracle's lines.
fn cli_inputs(
    dir: &Path,
    tag: &str,
    map: &[u8],
    flags: Flags,
    arch: &str,
) -> (PathBuf, PathBuf, Vec<Line>, u64) {
    let v = KernelVersion::V6_12;
    let (expected, text) = oracle(map, v, flags).unwrap();
    let arch = table_arch(arch);
    let table = kslink_build(map, v, flags)
        .unwrap()
        .to_artifact(arch.layout());
    let object_path = dir.join(format!("{tag}.o"));
    let mut object = Vec::new();
    write_object(&table, arch, &mut object).unwrap();
    std::fs::write(&object_path, &object).unwrap();
    let table_path = dir.join(format!("{tag}.kst"));
    artifact::write(&table_path, &table).unwrap();
    (object_path, table_path, expected, text)
}

fn proc_lines(lines: &[Line], digits: usize) -> String {
    lines
        .iter()
        .map(|(a, t, n)| {
            format!(
                "{a:0digits$x} {} {}\n",
                *t as char,
                String::from_utf8_lossy(n)
            )
        })
        .collect()
}

/// `kslink-verify` prints exactly the oracle's lines, `%016x %c %s` (and `%08x` for a
/// 32-bit table), from an object and from an artifact, to standard output or `-o`.
#[test]
fn cli_prints_proc_kallsyms() {
    let dir = tempdir();
    let map = random_map(11, GenOptions::default()).into_bytes();
    let flags = Flags {
        all_symbols: true,
        absolute_percpu: true,
        ..Flags::NONE
    };
    let (object, table, expected, text) = cli_inputs(dir.path(), "t64", &map, flags, "x86_64");
    let want = proc_lines(&expected, 16);
    let text_arg = format!("{text:#x}");
    let listing = dir.path().join("listing.txt");
    let runs: [Vec<&std::ffi::OsStr>; 4] = [
        // Absolute per-cpu detected from the offsets.
        vec![
            "--text-address".as_ref(),
            text_arg.as_ref(),
            object.as_ref(),
        ],
        vec![
            "--check".as_ref(),
            "--absolute-percpu".as_ref(),
            "--text-address".as_ref(),
            text_arg.as_ref(),
            object.as_ref(),
        ],
        vec!["--check".as_ref(), table.as_ref()],
        vec![
            "--text-address".as_ref(),
            text_arg.as_ref(),
            "-o".as_ref(),
            listing.as_ref(),
            object.as_ref(),
        ],
    ];
    for (i, args) in runs.iter().enumerate() {
        let out = run_verify(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "run {i}: {}: {stderr}", out.status);
        assert!(stderr.is_empty(), "run {i}: {stderr}");
        let got = if i == 3 {
            assert!(out.stdout.is_empty());
            std::fs::read(&listing).unwrap()
        } else {
            out.stdout
        };
        assert!(got == want.as_bytes(), "run {i}: listing differs");
    }

    let map32 = random_map(
        12,
        GenOptions {
            width: AddrWidth::Bits32,
            symbols: 300,
            ..GenOptions::default()
        },
    )
    .into_bytes();
    let flags = Flags {
        all_symbols: true,
        absolute_percpu: false,
        ..Flags::NONE
    };
    let (object, _, expected, text) = cli_inputs(dir.path(), "t32", &map32, flags, "i386");
    let text_arg = format!("{text:x}");
    let out = run_verify(&[
        "--check".as_ref(),
        "--no-absolute-percpu".as_ref(),
        "--text-address".as_ref(),
        text_arg.as_ref(),
        object.as_ref(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == proc_lines(&expected, 8).as_bytes());
}

/// Exit status 1 and one `kslink-verify: error: FILE: ...` line for a file that is not ELF,
/// an ELF file without kallsyms labels, a `SymbolSet` artifact and truncated objects; with
/// `-o`, no output (and no temporary) file is left behind.
#[test]
fn cli_rejects_bad_inputs() {
    let dir = tempdir();
    let inputs = dir.path().join("inputs");
    std::fs::create_dir(&inputs).unwrap();
    let mut bad: Vec<(String, PathBuf)> = Vec::new();

    let text = inputs.join("map.txt");
    std::fs::write(&text, b"ffffffff81000000 T _text\n").unwrap();
    bad.push(("a text file".into(), text));

    let empty_c = inputs.join("empty.c");
    std::fs::write(&empty_c, b"").unwrap();
    let empty_o = inputs.join("empty.o");
    let status = Command::new("gcc")
        .arg("-c")
        .arg(&empty_c)
        .arg("-o")
        .arg(&empty_o)
        .status()
        .expect("run gcc");
    assert!(status.success());
    bad.push(("an ELF object without kallsyms labels".into(), empty_o));

    // Labels of a table whose kallsyms_relative_base is missing.
    let partial_s = inputs.join("partial.s");
    std::fs::write(
        &partial_s,
        "\t.section .rodata, \"a\"\n\
         \t.globl kallsyms_num_syms\nkallsyms_num_syms:\n\t.long 1\n\
         \t.globl kallsyms_offsets\nkallsyms_offsets:\n\t.long 0\n",
    )
    .unwrap();
    let partial_o = inputs.join("partial.o");
    let status = Command::new("gcc")
        .arg("-c")
        .arg(&partial_s)
        .arg("-o")
        .arg(&partial_o)
        .status()
        .expect("run gcc");
    assert!(status.success());
    bad.push(("an object with only some kallsyms labels".into(), partial_o));

    let set = kslink_schema::SymbolSet {
        origin: kslink_schema::SymbolOrigin::Map {
            path: "System.map".into(),
        },
        addresses_known: true,
        address_bits: 64,
        sections: Vec::new(),
        sources: Vec::new(),
        symbols: vec![kslink_schema::Symbol {
            address: 0xffff_ffff_8100_0000,
            type_letter: b'T',
            name: b"_text".to_vec(),
            section: None,
            source: None,
            text: None,
        }],
    };
    let set_path = inputs.join("symbols.kss");
    artifact::write(&set_path, &set).unwrap();
    bad.push(("a SymbolSet artifact".into(), set_path));

    let map = random_map(13, GenOptions::default()).into_bytes();
    let flags = Flags {
        all_symbols: true,
        absolute_percpu: true,
        ..Flags::NONE
    };
    let (object, table, _, _) = cli_inputs(&inputs, "whole", &map, flags, "x86_64");
    let object = std::fs::read(object).unwrap();
    for len in [4, 20, 64, 200, object.len() / 2, object.len() - 1] {
        let path = inputs.join(format!("cut{len}.o"));
        std::fs::write(&path, &object[..len]).unwrap();
        bad.push((format!("an object cut to {len} bytes"), path));
    }
    let table = std::fs::read(table).unwrap();
    let path = inputs.join("cut.kst");
    std::fs::write(&path, &table[..table.len() - 10]).unwrap();
    bad.push(("a truncated artifact".into(), path));

    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let listing = out_dir.join("listing.txt");
    for (what, path) in &bad {
        for with_output in [false, true] {
            let mut args: Vec<&std::ffi::OsStr> = vec!["--check".as_ref()];
            if with_output {
                args.extend(["-o".as_ref(), listing.as_os_str()]);
            }
            args.push(path.as_os_str());
            let out = run_verify(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
            assert!(out.stdout.is_empty(), "{what}: printed a listing");
            let prefix = format!("kslink-verify: error: {}: ", path.display());
            assert!(
                stderr.starts_with(&prefix)
                    && stderr.ends_with('\n')
                    && stderr.lines().count() == 1,
                "{what}: stderr is not one error line: {stderr:?}"
            );
            let left: Vec<_> = std::fs::read_dir(&out_dir).unwrap().collect();
            assert!(left.is_empty(), "{what}: -o left {left:?}");
        }
    }
}
