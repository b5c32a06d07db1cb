//! Helpers shared by the kslink-table integration tests: running kslink-table in-process
//! and as a binary, comparing its output with upstream's, and describing differences.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use kslink_schema::{Symbol, SymbolOrigin, SymbolSet, TableOptions};
use kslink_table::{
    build, read_map, BuiltTable, Profile, TableError, LINUX_6_1, LINUX_6_12, LINUX_7_3,
};
pub use kslink_tests::tempdir;
use kslink_tests::{bin_path, debian_system_map, AddrWidth, KernelTree, KernelVersion};

/// kslink-table's profile that reproduces upstream's generator of `version`.
pub fn profile(version: KernelVersion) -> &'static Profile {
    match version {
        KernelVersion::V6_12 => &LINUX_6_12,
        KernelVersion::V6_1 => &LINUX_6_1,
        KernelVersion::V7_3 => &LINUX_7_3,
    }
}

/// The `--profile` name of `version`.
pub fn profile_name(version: KernelVersion) -> &'static str {
    profile(version).name
}

/// Upstream's command-line flags as kslink-table's options. Panics on a flag it does not
/// know, so a typo in a test cannot silently test the wrong thing.
pub fn options(flags: &[&str]) -> TableOptions {
    let mut options = TableOptions::default();
    for flag in flags {
        match *flag {
            "--all-symbols" => options.all_symbols = true,
            "--absolute-percpu" => options.absolute_percpu = true,
            "--base-relative" => options.base_relative = true,
            "--lto-clang" => options.lto_clang = true,
            "--pc-relative" => options.pc_relative = true,
            other => panic!("unknown flag {other:?}"),
        }
    }
    options
}

/// The generator flags Kbuild passes for this tree's configuration (link-vmlinux.sh).
pub fn kbuild_flags(tree: &KernelTree) -> Vec<&'static str> {
    let on = |name: &str| tree.config_value(name).as_deref() == Some("y");
    let mut flags = Vec::new();
    if on("CONFIG_KALLSYMS_ALL") {
        flags.push("--all-symbols");
    }
    if on("CONFIG_KALLSYMS_ABSOLUTE_PERCPU") {
        flags.push("--absolute-percpu");
    }
    if on("CONFIG_KALLSYMS_BASE_RELATIVE") {
        flags.push("--base-relative");
    }
    if on("CONFIG_LTO_CLANG") {
        flags.push("--lto-clang");
    }
    // 7.x's link-vmlinux.sh: place-relative offsets wherever the kernel can be moved or
    // is 64-bit.
    if tree.version == KernelVersion::V7_3 && (on("CONFIG_64BIT") || on("CONFIG_RELOCATABLE")) {
        flags.push("--pc-relative");
    }
    flags
}

/// Reads `map` and builds the table in-process, as `kslink-table --profile P FLAGS` would.
pub fn kslink_build(
    version: KernelVersion,
    flags: &[&str],
    map: &[u8],
) -> Result<BuiltTable, TableError> {
    let profile = profile(version);
    let symbols = read_map(map, "map", profile)?;
    build(symbols, profile, options(flags))
}

/// The `.S` kslink-table writes for `map`, built in-process.
pub fn kslink_asm(
    version: KernelVersion,
    flags: &[&str],
    map: &[u8],
) -> Result<Vec<u8>, TableError> {
    let built = kslink_build(version, flags, map)?;
    let mut out = Vec::with_capacity(map.len() * 2);
    built.write_asm(&mut out).expect("writing to a Vec");
    Ok(out)
}

/// Shortens a line for a message.
fn clip(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    if text.chars().count() > 160 {
        format!("{}...", text.chars().take(160).collect::<String>())
    } else {
        text.into_owned()
    }
}

/// `None` if `expected` and `actual` are identical, else the first differing line (1-based
/// number and both versions) and the sizes.
pub fn first_difference(expected: &[u8], actual: &[u8]) -> Option<String> {
    if expected == actual {
        return None;
    }
    let mut e = expected.split(|&b| b == b'\n');
    let mut a = actual.split(|&b| b == b'\n');
    let mut line = 1usize;
    loop {
        match (e.next(), a.next()) {
            (Some(x), Some(y)) if x == y => line += 1,
            (x, y) => {
                let show = |l: Option<&[u8]>| l.map_or("<end of output>".to_owned(), clip);
                return Some(format!(
                    "first difference at line {line}:\n    upstream: {}\n    kslink:   {}\n  \
                     (upstream {} bytes, kslink {} bytes)",
                    show(x),
                    show(y),
                    expected.len(),
                    actual.len()
                ));
            }
        }
    }
}

/// Panics with the first differing line if the two `.S` texts differ.
pub fn assert_same_asm(upstream: &[u8], kslink: &[u8], what: &str) {
    if let Some(diff) = first_difference(upstream, kslink) {
        panic!("{what}: kslink's .S differs from upstream's; {diff}");
    }
}

/// Debian's 6.12 System.map, decompressed once per test process.
pub fn debian_map() -> &'static [u8] {
    static MAP: OnceLock<Vec<u8>> = OnceLock::new();
    MAP.get_or_init(debian_system_map)
}

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

/// Runs the `kslink-table` binary with `args`.
pub fn run_kslink_table<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let bin = bin_path("kslink-table");
    Command::new(&bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()))
}

/// What an output holds before a run that must fail and leave it untouched.
pub const SENTINEL: &[u8] = b"pre-existing output, must survive a failed run\n";

/// The names of the files in `dir`, with their contents.
pub fn dir_contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let content = fs::read(e.path()).unwrap_or_default();
            (e.file_name().to_string_lossy().into_owned(), content)
        })
        .collect()
}

/// Checks one failed run of kslink-table: its exit code and message.
pub fn check_failure(out: &Output, code: i32, needles: &[&str], what: &str) {
    check_one_line_error(out, "kslink-table", code, needles, what);
}

/// Checks one failed run of the stage `tool`: exit code `code`, nothing on stdout, and one
/// line on stderr, `TOOL: error: ...`, that contains every needle and nothing of a panic or
/// a debug-printed error.
pub fn check_one_line_error(out: &Output, tool: &str, code: i32, needles: &[&str], what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: exit status; stderr: {stderr}"
    );
    assert!(out.stdout.is_empty(), "{what}: stdout not empty");
    assert!(
        stderr.ends_with('\n') && stderr.matches('\n').count() == 1,
        "{what}: stderr is not exactly one line: {stderr:?}"
    );
    assert!(
        stderr.starts_with(&format!("{tool}: error: ")),
        "{what}: {stderr:?}"
    );
    for bad in ["panicked", "RUST_BACKTRACE", "unwrap", "Error {", "Os {"] {
        assert!(!stderr.contains(bad), "{what}: {bad:?} in {stderr:?}");
    }
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{what}: {needle:?} not in {stderr:?}"
        );
    }
}

/// Runs `kslink-table PRE... [outputs] INPUT` three ways, each of which must fail with `code`
/// and one line of stderr that contains every needle: with every output option pointing to
/// fresh paths (none may appear, nor any temporary file), with those paths already holding
/// a file (each must stay byte for byte), and with no output option (nothing on stdout).
pub fn expect_failure(pre: &[&str], input: &Path, code: i32, needles: &[&str]) {
    let what = format!("kslink-table {pre:?} {}", input.display());
    let out_dir = tempdir();
    let outputs: Vec<(&str, PathBuf)> = [
        ("-o", "table.bin"),
        ("--emit-asm", "table.S"),
        ("--emit-object", "table.o"),
        ("--emit-raw", "table.raw"),
    ]
    .into_iter()
    .map(|(opt, name)| (opt, out_dir.path().join(name)))
    .collect();
    let with_outputs = || {
        let mut a: Vec<PathBuf> = pre.iter().map(PathBuf::from).collect();
        for (opt, path) in &outputs {
            a.push(opt.into());
            a.push(path.clone());
        }
        a.push(input.to_path_buf());
        a
    };

    let out = run_kslink_table(with_outputs());
    check_failure(&out, code, needles, &format!("{what} (fresh outputs)"));
    let left: Vec<String> = dir_contents(out_dir.path()).into_keys().collect();
    assert!(left.is_empty(), "{what}: left behind {left:?}");

    for (_, path) in &outputs {
        fs::write(path, SENTINEL).unwrap();
    }
    let before = dir_contents(out_dir.path());
    let out = run_kslink_table(with_outputs());
    check_failure(&out, code, needles, &format!("{what} (existing outputs)"));
    assert_eq!(
        dir_contents(out_dir.path()),
        before,
        "{what}: existing outputs changed"
    );

    let mut a: Vec<PathBuf> = pre.iter().map(PathBuf::from).collect();
    a.push(input.to_path_buf());
    let out = run_kslink_table(a);
    check_failure(&out, code, needles, &format!("{what} (stdout)"));
}

/// The symbols of a text map as a SymbolSet, in map order.
pub fn symbol_set(map: &str, width: AddrWidth) -> SymbolSet {
    let symbols = map
        .lines()
        .map(|line| {
            let mut fields = line.splitn(3, ' ');
            let address = u64::from_str_radix(fields.next().unwrap(), 16).unwrap();
            let type_letter = fields.next().unwrap().as_bytes()[0];
            let name = fields.next().unwrap().as_bytes().to_vec();
            Symbol {
                address,
                type_letter,
                name,
                section: None,
                source: None,
                text: None,
            }
        })
        .collect();
    SymbolSet {
        origin: SymbolOrigin::Map {
            path: "generated".into(),
        },
        addresses_known: true,
        address_bits: if width == AddrWidth::Bits64 { 64 } else { 32 },
        sections: Vec::new(),
        sources: Vec::new(),
        symbols,
    }
}
