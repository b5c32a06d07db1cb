//! Helpers shared by the kslink-table integration tests: running kslink-table in-process
//! and as a binary, comparing its output with upstream's, and describing differences.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use kslink_schema::TableOptions;
use kslink_table::{build, read_map, BuiltTable, Profile, TableError, LINUX_6_1, LINUX_6_12};
use kslink_tests::{bin_path, debian_system_map, KernelTree, KernelVersion};

/// A scratch directory, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("kslink-table-test-")
        .tempdir()
        .expect("temporary directory")
}

/// kslink-table's profile that reproduces upstream's generator of `version`.
pub fn profile(version: KernelVersion) -> &'static Profile {
    match version {
        KernelVersion::V6_12 => &LINUX_6_12,
        KernelVersion::V6_1 => &LINUX_6_1,
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
