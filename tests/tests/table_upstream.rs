//! kslink-table against upstream's `scripts/kallsyms` (Linux 7.3, 6.12 and 6.1): the `.S` must be
//! byte-identical, and the ELF object kslink writes itself must match what the assembler
//! makes of upstream's `.S`.
//!
//! The tables are built in-process through the library (`read_map`, `build`, `write_asm`,
//! `to_artifact`, `write_object`); `table_cli.rs` covers the binary.

mod common;

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use common::*;
use kslink_table::{read_map, write_object, Arch as TableArch};
use kslink_tests::gen::{corner_cases_described, random_map_spec, CornerCase, Percpu, SplitMix64};
use kslink_tests::{
    arch_available, asm::assemble_source, compare_objects, run_upstream, AddrWidth, Arch,
    GenOptions, KernelVersion,
};

const V6_12: KernelVersion = KernelVersion::V6_12;
const V6_1: KernelVersion = KernelVersion::V6_1;
const V7_3: KernelVersion = KernelVersion::V7_3;

const COMBOS_6_12: &[&[&str]] = V6_12.flag_combinations();
const COMBOS_6_1: &[&[&str]] = V6_1.flag_combinations();
const COMBOS_7_3: &[&[&str]] = V7_3.flag_combinations();

/// 6.1 combinations with `--lto-clang`, for maps with `.llvm.` names.
const COMBOS_6_1_LTO: &[&[&str]] = &[
    &["--lto-clang"],
    &["--all-symbols", "--lto-clang"],
    &["--all-symbols", "--base-relative", "--lto-clang"],
    &[
        "--all-symbols",
        "--absolute-percpu",
        "--base-relative",
        "--lto-clang",
    ],
];

/// Runs `jobs` on `threads` worker threads; each job's result goes to its slot.
fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= items.len() {
                    break;
                }
                let r = f(&items[i]);
                results.lock().unwrap()[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}

fn worker_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(4))
}

// ---------------------------------------------------------------------------------------
// 1. Debian's System.map
// ---------------------------------------------------------------------------------------

/// Runs upstream and kslink on Debian's 6.12 System.map and requires identical `.S`.
/// Returns the number of symbols in the table.
fn debian_map_identical(version: KernelVersion, flags: &[&str]) -> u32 {
    let dir = tempdir();
    let map = debian_map();
    let path = write_file(dir.path(), "System.map", map);
    let t = Instant::now();
    let up = run_upstream(version, flags, &path);
    let upstream = up.expect_success("Debian System.map");
    let t_up = t.elapsed();
    let t = Instant::now();
    let built = kslink_build(version, flags, map).unwrap_or_else(|e| {
        panic!("kslink failed on Debian's System.map {version} {flags:?}: {e}")
    });
    let mut ours = Vec::with_capacity(upstream.len());
    built.write_asm(&mut ours).unwrap();
    eprintln!(
        "Debian map {version} {flags:?}: upstream {t_up:?}, kslink {:?}, {} symbols, {} bytes",
        t.elapsed(),
        built.num_syms(),
        ours.len()
    );
    // The table is real: most of the 163,210 symbols are in it.
    assert!(
        upstream.len() > 1_000_000,
        "upstream .S is {} bytes",
        upstream.len()
    );
    assert_same_asm(
        upstream,
        &ours,
        &format!("Debian System.map, {version} {flags:?}"),
    );
    built.num_syms()
}

#[test]
fn debian_map_6_12_real_config_asm_identical() {
    let flags = ["--all-symbols", "--absolute-percpu"];
    // Everything but the five ignored absolute symbols (see harness.rs).
    assert_eq!(debian_map_identical(V6_12, &flags), 163_205);
}

#[test]
fn debian_map_7_3_every_flag_combination_asm_identical() {
    for flags in COMBOS_7_3 {
        let symbols = debian_map_identical(V7_3, flags);
        if flags.contains(&"--all-symbols") {
            assert_eq!(symbols, 163_205, "{flags:?}");
        }
    }
}

#[test]
fn debian_map_6_12_no_flags_asm_identical() {
    debian_map_identical(V6_12, &[]);
}

#[test]
fn debian_map_6_1_base_relative_absolute_percpu_asm_identical() {
    debian_map_identical(
        V6_1,
        &["--all-symbols", "--base-relative", "--absolute-percpu"],
    );
}

#[test]
fn debian_map_6_1_absolute_addresses_asm_identical() {
    debian_map_identical(V6_1, &["--all-symbols"]);
}

// ---------------------------------------------------------------------------------------
// 2. Corner cases under every flag combination
// ---------------------------------------------------------------------------------------

/// Whether kslink may reject `case` as malformed under `version` where upstream reads it
/// somehow: input syntax that kslink deliberately refuses.
fn tolerated_rejection(case: &str, version: KernelVersion) -> bool {
    case.starts_with("quirk_")
        || case.starts_with("nm_raw_")
        // 6.1's fscanf("%2048s") splits a longer name into two records; kslink refuses it.
        || (case == "name_over_2048" && version == V6_1)
}

/// The outcome of one (case, version, flags) comparison.
#[derive(Default)]
struct CaseReport {
    /// Violations of the rules: each makes the test fail.
    failures: Vec<String>,
    /// Tolerated differences (kslink rejects what upstream reads), for the report.
    tolerated: Vec<String>,
    /// Runs where both succeeded with identical output.
    identical: usize,
    /// Runs where both failed.
    both_failed: usize,
}

fn upstream_error_line(stderr: &str) -> String {
    stderr.lines().last().unwrap_or("").to_owned()
}

/// Compares upstream and kslink on one map under one flag combination.
fn compare_case(
    case: &str,
    map: &[u8],
    map_path: &Path,
    version: KernelVersion,
    flags: &[&str],
    report: &mut CaseReport,
) {
    let what = format!("{case} {version} {flags:?}");
    let up = run_upstream(version, flags, map_path);
    assert!(
        up.status.code().is_some(),
        "{what}: upstream killed by a signal"
    );
    let profile = profile(version);
    let read = read_map(map, "map", profile);
    let warnings = read.as_ref().map_or(0, |list| list.warnings.len());
    let ours = read
        .and_then(|list| kslink_table::build(list, profile, options(flags)))
        .map(|built| {
            let mut out = Vec::new();
            built.write_asm(&mut out).unwrap();
            out
        });
    let tolerant = tolerated_rejection(case, version);
    match (up.success(), ours) {
        (true, Ok(ours)) => match first_difference(&up.stdout, &ours) {
            Some(diff) if upstream_seqs_corrupt(&up.stdout, &ours) => {
                report.tolerated.push(format!(
                    "{what}: upstream's kallsyms_seqs_of_names is not a permutation (undefined \
                     behaviour in upstream); kslink's is, and everything else is identical; {diff}"
                ));
            }
            None => {
                report.identical += 1;
                let up_warnings = up.stderr.matches("too long for kallsyms").count();
                if up_warnings != warnings {
                    report.failures.push(format!(
                        "{what}: upstream warned {up_warnings} times about long names, kslink \
                         {warnings} times"
                    ));
                }
            }
            Some(diff) => report.failures.push(format!("{what}: {diff}")),
        },
        (false, Err(err)) if tolerant && err.to_string().contains("malformed map line") => {
            report.tolerated.push(format!(
                "{what}: both fail: upstream {:?}, kslink rejects: {err}",
                upstream_error_line(&up.stderr)
            ));
        }
        (true, Err(err)) if tolerant && err.to_string().contains("malformed map line") => {
            report.tolerated.push(format!(
                "{what}: upstream succeeds ({} bytes of .S{}), kslink rejects: {err}",
                up.stdout.len(),
                if up.stderr.is_empty() {
                    String::new()
                } else {
                    format!(", stderr {:?}", upstream_error_line(&up.stderr))
                }
            ));
        }
        (false, Err(err)) => {
            report.both_failed += 1;
            let msg = err.to_string();
            let expected = if up.stderr.contains("out of range in relative mode") {
                Some("out of range in relative mode")
            } else if up.stderr.contains("relative symbol value") {
                Some("which --pc-relative entries cannot reach")
            } else if up.stderr.contains("No valid symbol.") {
                Some("no valid symbol")
            } else if up.stderr.contains("line format error") {
                Some("malformed map line")
            } else {
                None
            };
            match expected {
                Some(needle) if msg.contains(needle) => {}
                _ => report.failures.push(format!(
                    "{what}: both fail, but for different reasons: upstream {:?}, kslink {msg:?}",
                    upstream_error_line(&up.stderr)
                )),
            }
        }
        (true, Err(err)) => report
            .failures
            .push(format!("{what}: upstream succeeds, kslink fails: {err}")),
        (false, Ok(_)) => report.failures.push(format!(
            "{what}: upstream fails ({:?}), kslink succeeds",
            upstream_error_line(&up.stderr)
        )),
    }
}

/// The symbol numbers of `kallsyms_seqs_of_names` in a `.S`.
fn seqs_of_names(asm: &[u8]) -> Vec<u32> {
    let text = String::from_utf8_lossy(asm);
    text.lines()
        .skip_while(|line| *line != "kallsyms_seqs_of_names:")
        .skip(1)
        .take_while(|line| !line.is_empty())
        .map(|line| {
            let bytes = line
                .trim_start()
                .strip_prefix(".byte ")
                .expect(".byte line");
            let bytes = bytes.split('\t').next().unwrap_or(bytes);
            bytes.split(", ").fold(0u32, |acc, b| {
                (acc << 8) | u32::from_str_radix(b.trim_start_matches("0x"), 16).expect("hex byte")
            })
        })
        .collect()
}

fn is_permutation(seqs: &[u32]) -> bool {
    let mut sorted = seqs.to_vec();
    sorted.sort_unstable();
    sorted.iter().enumerate().all(|(i, &s)| s as usize == i)
}

/// True if the two `.S` differ only in `kallsyms_seqs_of_names`, upstream's is not a
/// permutation of the symbol numbers (memory corruption: 6.1's `compare_names` writes 513
/// bytes into a 512-byte stack buffer for a 511-byte name) and kslink's is.
fn upstream_seqs_corrupt(upstream: &[u8], ours: &[u8]) -> bool {
    let outside = |asm: &[u8]| -> Vec<String> {
        let text = String::from_utf8_lossy(asm);
        let mut inside = false;
        let mut kept = Vec::new();
        for line in text.lines() {
            if line == "kallsyms_seqs_of_names:" {
                inside = true;
            } else if inside && line.is_empty() {
                inside = false;
            } else if !inside {
                kept.push(line.to_owned());
            }
        }
        kept
    };
    let (up, ks) = (seqs_of_names(upstream), seqs_of_names(ours));
    up.len() == ks.len()
        && !is_permutation(&up)
        && is_permutation(&ks)
        && outside(upstream) == outside(ours)
}

/// Runs every corner case under every combination of `combos` for `version`.
fn corner_cases_under(
    version: KernelVersion,
    combos: &[&[&str]],
    only: impl Fn(&CornerCase) -> bool,
) -> CaseReport {
    let dir = tempdir();
    let cases: Vec<CornerCase> = corner_cases_described().into_iter().filter(only).collect();
    assert!(!cases.is_empty());
    let reports = parallel_map(&cases, worker_threads(), |case| {
        let mut report = CaseReport::default();
        let path = write_file(
            dir.path(),
            &format!("{}.map", case.name),
            case.map.as_bytes(),
        );
        for flags in combos {
            compare_case(
                case.name,
                case.map.as_bytes(),
                &path,
                version,
                flags,
                &mut report,
            );
        }
        report
    });
    let mut total = CaseReport::default();
    for r in reports {
        total.failures.extend(r.failures);
        total.tolerated.extend(r.tolerated);
        total.identical += r.identical;
        total.both_failed += r.both_failed;
    }
    eprintln!(
        "{version}: {} cases x {} combinations: {} identical, {} both failed, {} tolerated \
         rejections, {} failures",
        cases.len(),
        combos.len(),
        total.identical,
        total.both_failed,
        total.tolerated.len(),
        total.failures.len()
    );
    for t in &total.tolerated {
        eprintln!("  tolerated: {t}");
    }
    total
}

fn assert_no_failures(report: &CaseReport, what: &str) {
    if !report.failures.is_empty() {
        panic!(
            "{what}: {} mismatches with upstream:\n{}",
            report.failures.len(),
            report.failures.join("\n")
        );
    }
}

#[test]
fn corner_cases_6_12_every_flag_combination_match_upstream() {
    let report = corner_cases_under(V6_12, COMBOS_6_12, |_| true);
    assert_no_failures(&report, "6.12 corner cases");
    // The comparison is not vacuous: most runs produce a table, and the overflow cases and
    // the raw nm maps make both fail.
    assert!(report.identical > 150, "{} identical", report.identical);
    assert!(
        report.both_failed >= 10,
        "{} both failed",
        report.both_failed
    );
}

#[test]
fn corner_cases_7_3_every_flag_combination_match_upstream() {
    let report = corner_cases_under(V7_3, COMBOS_7_3, |_| true);
    assert_no_failures(&report, "7.3 corner cases");
    assert!(report.identical > 150, "{} identical", report.identical);
    assert!(
        report.both_failed >= 10,
        "{} both failed",
        report.both_failed
    );
}

#[test]
fn corner_cases_6_1_every_flag_combination_match_upstream() {
    let report = corner_cases_under(V6_1, COMBOS_6_1, |_| true);
    assert_no_failures(&report, "6.1 corner cases");
    assert!(report.identical > 300, "{} identical", report.identical);
    assert!(
        report.both_failed >= 10,
        "{} both failed",
        report.both_failed
    );
}

#[test]
fn corner_cases_6_1_lto_clang_match_upstream() {
    let has_llvm = |case: &CornerCase| case.map.contains(".llvm.");
    let report = corner_cases_under(V6_1, COMBOS_6_1_LTO, has_llvm);
    assert_no_failures(&report, "6.1 --lto-clang corner cases");
    assert!(report.identical >= COMBOS_6_1_LTO.len());

    // --lto-clang really changes the name order of llvm_suffixes, so the cases above test it.
    let case = corner_cases_described()
        .into_iter()
        .find(|c| c.name == "llvm_suffixes")
        .expect("llvm_suffixes case");
    let plain = kslink_asm(V6_1, &["--all-symbols"], case.map.as_bytes()).unwrap();
    let lto = kslink_asm(V6_1, &["--all-symbols", "--lto-clang"], case.map.as_bytes()).unwrap();
    assert_ne!(plain, lto, "--lto-clang changes nothing on llvm_suffixes");
}

/// The raw `nm -n` corner cases, read the way each version's build feeds them: 6.12 after
/// its own `scripts/mksysmap`; 6.1 directly, less the blank-address undefined symbols that
/// kslink refuses (see the tolerated rejections above). Everything else in them (`a`, `N`,
/// `$x`, `.L*`, 6.1's ignore lists) must give identical tables.
#[test]
fn nm_raw_cases_match_upstream_once_prepared() {
    let dir = tempdir();
    let cases: Vec<CornerCase> = corner_cases_described()
        .into_iter()
        .filter(|c| c.name.starts_with("nm_raw_"))
        .collect();
    assert!(cases.len() >= 2);
    let mut report = CaseReport::default();
    for case in &cases {
        for (version, combos) in [(V6_12, COMBOS_6_12), (V7_3, COMBOS_7_3)] {
            let sysmap = kslink_tests::apply_mksysmap(version, case.map.as_bytes());
            let path = write_file(dir.path(), &format!("{}.{version}.map", case.name), &sysmap);
            for flags in combos {
                let name = format!("prepared {} ({version} mksysmap)", case.name);
                compare_case(&name, &sysmap, &path, version, flags, &mut report);
            }
        }
        let defined: String = case
            .map
            .lines()
            .filter(|line| !line.starts_with(' '))
            .map(|line| format!("{line}\n"))
            .collect();
        assert!(
            defined.len() < case.map.len(),
            "{}: no undefined symbols",
            case.name
        );
        let path = write_file(
            dir.path(),
            &format!("{}.6.1.map", case.name),
            defined.as_bytes(),
        );
        for flags in COMBOS_6_1.iter().chain(COMBOS_6_1_LTO) {
            let name = format!("prepared {} (defined only)", case.name);
            compare_case(&name, defined.as_bytes(), &path, V6_1, flags, &mut report);
        }
    }
    assert_no_failures(&report, "prepared nm_raw cases");
    assert!(report.tolerated.is_empty(), "{:?}", report.tolerated);
    assert!(report.identical >= 20, "{} identical", report.identical);
}

/// 6.1's `compare_names` expands a 511-byte name (512 bytes with its type letter) and its NUL
/// into a 512-byte stack buffer, so upstream's name order for `name_511` is undefined
/// behaviour (here: a corrupted `kallsyms_seqs_of_names`). kslink's order must be what
/// upstream computes when the name is one byte shorter and nothing overflows.
#[test]
fn name_511_6_1_name_order_matches_upstream_without_overflow() {
    let map = case_map("name_511");
    let long = map
        .lines()
        .find_map(|line| line.split(' ').nth(2).filter(|name| name.len() == 511))
        .expect("a 511-byte name")
        .to_owned();
    let shorter = map.replace(&long, &long[..510]);
    for flags in [
        &["--all-symbols"][..],
        &["--all-symbols", "--base-relative"][..],
        &[][..],
    ] {
        let up = kslink_tests::run_upstream_text(V6_1, flags, shorter.as_bytes());
        let expected = seqs_of_names(up.expect_success("name_511 shortened"));
        let ours = kslink_asm(V6_1, flags, map.as_bytes()).unwrap();
        assert!(
            is_permutation(&expected),
            "{flags:?}: upstream without overflow"
        );
        assert_eq!(seqs_of_names(&ours), expected, "{flags:?}");
        // The shortened map's table is otherwise upstream's too.
        let ours_shorter = kslink_asm(V6_1, flags, shorter.as_bytes()).unwrap();
        assert_same_asm(&up.stdout, &ours_shorter, &format!("name_510 {flags:?}"));
    }
}

/// Input syntax beyond the generated corner cases: line endings, separators, case, odd
/// bytes in names, maps where every symbol is absolute. `quirk_*` maps are ones kslink may
/// reject as malformed where upstream reads them somehow.
fn syntax_maps() -> Vec<(&'static str, Vec<u8>)> {
    let base = "ffffffff81000000 T _text\nffffffff81000000 T _stext\n\
                ffffffff81000008 t first\nffffffff81000100 T _etext\n";
    let with = |line: &str| format!("{base}{line}").into_bytes();
    vec![
        ("crlf", b"ffffffff81000000 T _text\r\nffffffff81000000 T _stext\r\nffffffff81000010 T foo\r\nffffffff81000100 T _etext\r\n".to_vec()),
        ("upper_case_hex", with("FFFFFFFF81000010 T Foo\n")),
        ("trailing_space", with("ffffffff81000010 T foo \n")),
        ("short_address", with("10 T low\n")),
        ("high_bit_bytes", with("ffffffff81000010 T f\u{e9}\u{1f600}\n")),
        ("asm_specials", with("ffffffff81000010 T a\"b\\\\c;#d/*e*/\n")),
        ("quirk_empty_name", with("ffffffff81000010 T \n")),
        ("tab_separated", with("ffffffff81000010\tT\tfoo\n")),
        ("blank_lines", with("\n\nffffffff81000010 T foo\n")),
        ("all_percpu_absolute", b"0000000000000000 D __per_cpu_start\n0000000000000010 D pcpu_a\n0000000000000100 D __per_cpu_end\n".to_vec()),
        ("all_percpu_absolute_text", b"0000000000000000 D __per_cpu_start\n0000000000000010 D pcpu_a\n0000000000000100 D __per_cpu_end\nffffffff81000000 T _text\n".to_vec()),
        ("quirk_hex_prefix", with("0xffffffff81000010 T foo\n")),
        ("quirk_two_letter_type", with("ffffffff81000010 Tt foo\n")),
        ("quirk_missing_name", with("ffffffff81000010 T\nffffffff81000020 T bar\n")),
    ]
}

#[test]
fn syntax_variants_match_upstream() {
    let dir = tempdir();
    let mut report = CaseReport::default();
    for (name, map) in syntax_maps() {
        let path = write_file(dir.path(), &format!("{name}.map"), &map);
        for (version, combos) in [(V7_3, COMBOS_7_3), (V6_12, COMBOS_6_12), (V6_1, COMBOS_6_1)] {
            for flags in combos {
                compare_case(name, &map, &path, version, flags, &mut report);
            }
        }
    }
    for t in &report.tolerated {
        eprintln!("  tolerated: {t}");
    }
    assert_no_failures(&report, "syntax variants");
    assert!(report.identical > 100, "{} identical", report.identical);
}

/// A NUL byte ends a name for upstream (6.12 takes the line up to it with `strlen`; 6.1's
/// `fscanf("%s")` reads past it, but `strlen` and `strcpy` stop there). kslink must read the
/// name the same way, or refuse the line, but never put a NUL inside a name: the kernel
/// reads token strings NUL-terminated.
#[test]
fn nul_in_name_matches_upstream_or_is_rejected() {
    let map = b"ffffffff81000000 T _text\nffffffff81000010 T foo\0bar\n";
    let dir = tempdir();
    let path = write_file(dir.path(), "nul.map", map);
    let mut report = CaseReport::default();
    for (version, combos) in [(V7_3, COMBOS_7_3), (V6_12, COMBOS_6_12), (V6_1, COMBOS_6_1)] {
        for flags in combos {
            compare_case("quirk_nul_in_name", map, &path, version, flags, &mut report);
        }
    }
    assert_no_failures(&report, "NUL in a name");
}

// ---------------------------------------------------------------------------------------
// 3. Random maps
// ---------------------------------------------------------------------------------------

/// One random map and the flag combinations to run it with.
struct Trial {
    seed: u64,
    opts: GenOptions,
    /// What was done to the generated text before both tools read it.
    prepared: &'static str,
    map: Vec<u8>,
    combos: Vec<Vec<&'static str>>,
}

/// Derives a trial's options from its seed: widths, sizes, per-cpu layouts, long names,
/// tie order, raw nm extras, and flags.
fn trial(version: KernelVersion, seed: u64) -> Trial {
    let mut rng = SplitMix64::new(seed.wrapping_mul(0x9e37_79b9) ^ version as u64);
    let width = if rng.chance(30) {
        AddrWidth::Bits32
    } else {
        AddrWidth::Bits64
    };
    let symbols = match rng.below(10) {
        0 => rng.range(1, 20) as usize,
        1..=4 => rng.range(20, 300) as usize,
        5..=8 => rng.range(300, 1500) as usize,
        _ => rng.range(1500, 4000) as usize,
    };
    let percpu = rng.pick(&[Percpu::AtZero, Percpu::InData, Percpu::Absent]);
    let nm_extras = rng.chance(match version {
        KernelVersion::V6_12 | KernelVersion::V7_3 => 15,
        KernelVersion::V6_1 => 40,
    });
    let opts = GenOptions {
        width,
        symbols,
        percpu,
        nm_extras,
        long_names: rng.chance(70),
        shuffle_ties: rng.chance(80),
    };
    let text = random_map_spec(seed, opts.clone()).render();
    let (map, prepared) = match (version, nm_extras) {
        (_, false) => (text.into_bytes(), "as generated"),
        // System.map is nm output filtered by upstream's own mksysmap.
        (KernelVersion::V6_12, true) => (
            kslink_tests::apply_mksysmap(V6_12, text.as_bytes()),
            "filtered by 6.12's mksysmap",
        ),
        (KernelVersion::V7_3, true) => (
            kslink_tests::apply_mksysmap(V7_3, text.as_bytes()),
            "filtered by 7.3's mksysmap",
        ),
        // Raw nm -n output, less the blank-address undefined symbols that kslink refuses
        // (see the nm_raw_undefined corner case).
        (KernelVersion::V6_1, true) => {
            let kept: String = text
                .lines()
                .filter(|line| !line.starts_with(' '))
                .map(|line| format!("{line}\n"))
                .collect();
            (kept.into_bytes(), "raw nm, undefined symbols removed")
        }
    };
    let combos: Vec<Vec<&'static str>> = match version {
        KernelVersion::V6_12 => COMBOS_6_12.iter().map(|c| c.to_vec()).collect(),
        KernelVersion::V7_3 => COMBOS_7_3.iter().map(|c| c.to_vec()).collect(),
        KernelVersion::V6_1 => {
            // Four of the eight combinations (always including the real configurations'),
            // sometimes with --lto-clang.
            let mut picked: Vec<Vec<&'static str>> = vec![
                vec!["--all-symbols", "--absolute-percpu", "--base-relative"],
                vec!["--all-symbols"],
            ];
            for _ in 0..2 {
                picked.push(COMBOS_6_1[rng.below(COMBOS_6_1.len() as u64) as usize].to_vec());
            }
            if rng.chance(30) {
                for combo in &mut picked {
                    combo.push("--lto-clang");
                }
            }
            picked
        }
    };
    Trial {
        seed,
        opts,
        prepared,
        map,
        combos,
    }
}

#[derive(Default)]
struct RandomReport {
    identical: usize,
    both_failed: usize,
    failures: Vec<String>,
}

fn random_maps_against_upstream(version: KernelVersion, seeds: std::ops::Range<u64>) {
    let t = Instant::now();
    let seeds: Vec<u64> = seeds.collect();
    let dir = tempdir();
    let reports = parallel_map(&seeds, worker_threads(), |&seed| {
        let trial = trial(version, seed);
        let path = write_file(dir.path(), &format!("random-{seed}.map"), &trial.map);
        let mut report = RandomReport::default();
        for flags in &trial.combos {
            let up = run_upstream(version, flags, &path);
            let ours = kslink_asm(version, flags, &trial.map);
            let what = || {
                format!(
                    "seed {} ({version}, {:?}, map {}, {} bytes), flags {flags:?}",
                    trial.seed,
                    trial.opts,
                    trial.prepared,
                    trial.map.len()
                )
            };
            match (up.success(), ours) {
                (true, Ok(ours)) => match first_difference(&up.stdout, &ours) {
                    None => report.identical += 1,
                    Some(diff) => report.failures.push(format!("{}: {diff}", what())),
                },
                (false, Err(err)) => {
                    report.both_failed += 1;
                    let overflow = |message: &str| {
                        message.contains("out of range in relative mode")
                            || message.contains("relative symbol")
                    };
                    if overflow(&up.stderr) != overflow(&err.to_string()) {
                        report.failures.push(format!(
                            "{}: both fail, differently: upstream {:?}, kslink {err}",
                            what(),
                            upstream_error_line(&up.stderr)
                        ));
                    }
                }
                (true, Err(err)) => report.failures.push(format!(
                    "{}: upstream succeeds, kslink fails: {err}",
                    what()
                )),
                (false, Ok(_)) => report.failures.push(format!(
                    "{}: upstream fails ({:?}), kslink succeeds",
                    what(),
                    upstream_error_line(&up.stderr)
                )),
            }
        }
        let _ = std::fs::remove_file(&path);
        report
    });
    let mut total = RandomReport::default();
    for r in reports {
        total.identical += r.identical;
        total.both_failed += r.both_failed;
        total.failures.extend(r.failures);
    }
    eprintln!(
        "{version}: {} random maps in {:?}: {} identical, {} both failed (overflow), {} \
         mismatches",
        seeds.len(),
        t.elapsed(),
        total.identical,
        total.both_failed,
        total.failures.len()
    );
    if !total.failures.is_empty() {
        panic!(
            "{version}: {} random maps differ from upstream:\n{}",
            total.failures.len(),
            total.failures.join("\n")
        );
    }
    // Most runs build a table; some overflow on purpose (per-cpu layouts).
    let runs = total.identical + total.both_failed;
    assert!(
        total.identical * 10 >= runs * 6,
        "{} of {runs} identical",
        total.identical
    );
    assert!(total.both_failed > 0, "no run exercised the overflow path");
}

#[test]
fn random_maps_6_12_match_upstream() {
    random_maps_against_upstream(V6_12, 0..200);
}

#[test]
fn random_maps_7_3_match_upstream() {
    random_maps_against_upstream(V7_3, 2000..2200);
}

#[test]
fn random_maps_6_1_match_upstream() {
    random_maps_against_upstream(V6_1, 1000..1200);
}

// ---------------------------------------------------------------------------------------
// 4. ELF objects
// ---------------------------------------------------------------------------------------

/// kslink-table's `--arch` name for the harness's architecture.
fn table_arch(arch: Arch) -> &'static TableArch {
    let name = match arch {
        Arch::X86_64 => "x86_64",
        Arch::I386 => "i386",
        Arch::Aarch64 => "aarch64",
        Arch::Riscv64 => "riscv64",
        Arch::Arm => "arm",
    };
    TableArch::by_name(name).unwrap_or_else(|| panic!("kslink-table knows no arch {name}"))
}

/// Assembles upstream's `.S` for `arch`, writes kslink's object in-process, and compares.
/// `Ok(false)` if upstream refuses the map under these flags (then kslink must too).
fn object_matches(
    dir: &Path,
    tag: &str,
    version: KernelVersion,
    flags: &[&str],
    map: &[u8],
    arch: Arch,
) -> Result<bool, String> {
    let map_path = write_file(dir, &format!("{tag}.map"), map);
    let up = run_upstream(version, flags, &map_path);
    let built = kslink_build(version, flags, map);
    let built = match (up.success(), built) {
        (true, Ok(built)) => built,
        (false, Err(_)) => return Ok(false),
        (true, Err(e)) => return Err(format!("{tag}: upstream succeeds, kslink fails: {e}")),
        (false, Ok(_)) => {
            return Err(format!(
                "{tag}: upstream fails ({}), kslink succeeds",
                upstream_error_line(&up.stderr)
            ))
        }
    };
    let expected = dir.join(format!("{tag}.upstream.o"));
    assemble_source(&up.stdout, arch, &expected);
    let tarch = table_arch(arch);
    let table = built.to_artifact(tarch.layout());
    let actual = dir.join(format!("{tag}.kslink.o"));
    let file = File::create(&actual).unwrap();
    write_object(&table, tarch, BufWriter::new(file)).map_err(|e| format!("{tag}: {e}"))?;
    compare_objects(&expected, &actual).map_err(|e| format!("{tag}: {e}"))?;
    Ok(true)
}

fn case_map(name: &str) -> String {
    corner_cases_described()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no corner case {name}"))
        .map
}

#[test]
fn object_x86_64_debian_map_matches_assembled_upstream() {
    let dir = tempdir();
    let flags = ["--all-symbols", "--absolute-percpu"];
    let compared = object_matches(
        dir.path(),
        "debian",
        V6_12,
        &flags,
        debian_map(),
        Arch::X86_64,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(compared, "upstream refused Debian's map");
}

#[test]
fn object_x86_64_debian_map_7_3_matches_assembled_upstream() {
    let dir = tempdir();
    for flags in [
        &["--all-symbols", "--pc-relative"][..],
        &["--all-symbols"][..],
    ] {
        let compared = object_matches(
            dir.path(),
            "debian-7.3",
            V7_3,
            flags,
            debian_map(),
            Arch::X86_64,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(compared, "upstream 7.3 refused Debian's map with {flags:?}");
    }
}

/// Flag sets for object comparisons: both real configurations, text only, and 6.1 with
/// absolute addresses (a `_text + D` relocation per symbol).
const OBJECT_RUNS: &[(KernelVersion, &[&str])] = &[
    (V6_12, &["--all-symbols", "--absolute-percpu"]),
    (V6_12, &[]),
    (
        V6_1,
        &["--all-symbols", "--absolute-percpu", "--base-relative"],
    ),
    (V6_1, &["--all-symbols"]),
    (V6_1, &[]),
    (V7_3, &["--all-symbols", "--pc-relative"]),
    (V7_3, &["--pc-relative"]),
    (V7_3, &["--all-symbols"]),
];

fn objects_match(arch: Arch, maps: &[(String, String)]) -> usize {
    let dir = tempdir();
    let mut jobs = Vec::new();
    for (name, map) in maps {
        for (i, (version, flags)) in OBJECT_RUNS.iter().enumerate() {
            if name == "name_511" && *version == V6_1 {
                // Undefined behaviour in upstream (see name_511_6_1_name_order_...).
                continue;
            }
            jobs.push((
                format!("{arch}-{name}-{version}-{i}"),
                map,
                *version,
                *flags,
            ));
        }
    }
    let results = parallel_map(&jobs, worker_threads(), |(tag, map, version, flags)| {
        object_matches(dir.path(), tag, *version, flags, map.as_bytes(), arch)
    });
    let mut failures = Vec::new();
    let mut compared = 0;
    for r in results {
        match r {
            Ok(true) => compared += 1,
            Ok(false) => {}
            Err(e) => failures.push(e),
        }
    }
    assert!(
        failures.is_empty(),
        "{arch}: {} objects differ from upstream's assembled .S:\n{}",
        failures.len(),
        failures.join("\n")
    );
    compared
}

#[test]
fn object_x86_64_corner_cases_match_assembled_upstream() {
    assert!(arch_available(Arch::X86_64), "gcc is needed");
    let maps: Vec<(String, String)> = [
        "empty",
        "skeleton",
        "percpu_zero",
        "text_above_base",
        "text_missing",
        "text_before_stext",
        "absolute_kept",
        "many_ties",
        "long_compressed",
        "name_511",
        "kallsyms_labels",
        "markers_257",
        "same_address_all",
        "high_entropy_many",
        "rel_span_max",
        "random_small_32",
    ]
    .iter()
    .map(|name| (name.to_string(), case_map(name)))
    .collect();
    let compared = objects_match(Arch::X86_64, &maps);
    assert!(compared >= 60, "only {compared} objects compared");
}

/// Small maps of the arch's width: random ones and a few corner cases.
fn small_maps(arch: Arch) -> Vec<(String, String)> {
    let width = if arch.bits() == 64 {
        AddrWidth::Bits64
    } else {
        AddrWidth::Bits32
    };
    let mut maps = Vec::new();
    for (seed, percpu) in [
        (31, Percpu::AtZero),
        (32, Percpu::InData),
        (33, Percpu::Absent),
    ] {
        let opts = GenOptions {
            width,
            symbols: 300,
            percpu,
            ..GenOptions::default()
        };
        maps.push((
            format!("random{seed}"),
            random_map_spec(seed, opts).render(),
        ));
    }
    let cases: &[&str] = if arch.bits() == 64 {
        &[
            "skeleton",
            "text_above_base",
            "percpu_zero",
            "long_compressed",
        ]
    } else {
        &[
            "skeleton_32",
            "percpu_zero_32",
            "long_compressed_32",
            "many_ties_32",
        ]
    };
    for name in cases {
        maps.push((name.to_string(), case_map(name)));
    }
    maps
}

#[test]
fn object_other_arches_match_assembled_upstream() {
    let mut tested = Vec::new();
    for arch in [Arch::I386, Arch::Aarch64, Arch::Riscv64, Arch::Arm] {
        if !arch_available(arch) {
            kslink_tests::skip_for_missing_tool(
                &arch.to_string(),
                "its assembler",
                arch.debian_package(),
            );
            continue;
        }
        let compared = objects_match(arch, &small_maps(arch));
        assert!(compared >= 25, "{arch}: only {compared} objects compared");
        tested.push(arch);
    }
    eprintln!("objects compared for {tested:?}");
    // i386 comes with the host's binutils, so at least one REL target is always tested.
    assert!(tested.contains(&Arch::I386), "as --32 is needed");
}

#[test]
fn object_x86_64_small_maps_match_assembled_upstream() {
    let compared = objects_match(Arch::X86_64, &small_maps(Arch::X86_64));
    assert!(compared >= 25, "only {compared} objects compared");
}
