//! Test support for kslink.
//!
//! This crate holds what kslink's integration tests need to compare kslink's output with
//! the Linux kernel's own `scripts/kallsyms`:
//!
//! - [`upstream`]: builds (once, cached) and runs upstream's `scripts/kallsyms` host tool of
//!   Linux 6.12 and 6.1, taken from Debian's `linux-source-*` packages, and applies upstream's
//!   `scripts/mksysmap` filter.
//! - [`asm`]: assembles upstream's `.S` output the way Kbuild would, for several
//!   architectures.
//! - [`elfcmp`]: compares two relocatable ELF objects for what matters to the kernel link
//!   (the `.rodata` bytes, global symbols and `.rodata` relocations).
//! - [`gen`]: deterministic generators of `nm`-style symbol maps, random and hand-written
//!   corner cases.
//! - [`data`]: the real System.map of a Debian kernel, shipped in `tests/data/`, and that
//!   kernel's vmlinux (354 MB), fetched once into the cache.
//! - [`kernel`]: small real x86_64 kernels (6.12 and 6.1) and an arm64 one (6.12,
//!   cross-built), built once from Debian's `linux-source-*` into the cache: `vmlinux`,
//!   `vmlinux.o`, the linker script, System.map, the boot image and a record of how Kbuild
//!   ran the final link.
//! - [`pahole`]: Debian trixie's pahole (newer than bookworm's), run with trixie's own
//!   libraries, for a kernel configured with it ([`KernelTree::with_pahole`]).
//! - [`finder`]: `kallsyms-finder` from PyPI's `vmlinux-to-elf`, an external reader of a
//!   kernel's table, installed once into the cache.
//! - [`exact_frame`]: the frame of exactly a table's size, as `kslink-pad` makes it with no
//!   slack.
//! - [`lds`]: real preprocessed linker scripts of Linux 6.12 for arm64 and riscv, made once
//!   into the cache.
//! - [`bin_path`]: finds a workspace binary (for example `kslink-table`) for a test to run.
//!
//! Everything panics with a readable message when a tool is missing: these are test helpers.

#![warn(missing_docs)]

pub mod asm;
pub mod data;
mod debian;
pub mod elfcmp;
pub mod finder;
mod frame;
pub mod gen;
pub mod kernel;
pub mod lds;
mod lock;
pub mod pahole;
pub mod upstream;

use std::path::{Path, PathBuf};

pub use asm::{arch_available, assemble, Arch};
pub use data::{debian_system_map, debian_vmlinux};
pub use elfcmp::compare_objects;
pub use finder::{kallsyms_finder, kallsyms_finder_symbols};
pub use frame::exact_frame;
pub use gen::{corner_cases, random_map, AddrWidth, GenOptions, MapSpec, MapSymbol};
pub use kernel::{kernel_tree, kernel_tree_for, KernelArch, KernelTree, LinkInputs, LinkLog};
pub use lds::{kernel_linker_script, ScriptArch};
pub use pahole::{trixie_pahole, DebianPahole};
pub use upstream::{
    apply_mksysmap, run_upstream, run_upstream_text, upstream_kallsyms, upstream_mksysmap,
    KernelVersion, UpstreamOutput,
};

/// The workspace root: the parent of this crate's directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the workspace")
        .to_path_buf()
}

/// The cache directory for built upstream tools and generated include directories:
/// `$KSLINK_CACHE` if set (and not empty), else `<workspace root>/target/kslink-cache`.
///
/// The directory is created if it does not exist.
pub fn cache_dir() -> PathBuf {
    let dir = match std::env::var_os("KSLINK_CACHE") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => workspace_root().join("target").join("kslink-cache"),
    };
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create cache directory {}: {e}", dir.display()));
    dir
}

/// The path of the workspace binary `name` (for example `kslink-table`).
///
/// `$KSLINK_BIN_DIR/name` if `KSLINK_BIN_DIR` is set; otherwise the binary next to the
/// running test's profile directory: test binaries live in `target/<profile>/deps/`, the
/// workspace's binaries in `target/<profile>/`.
///
/// # Panics
///
/// If the binary does not exist, with a message that says how to build it. Note that cargo
/// builds a package's binaries before that package's own integration tests, but not the
/// binaries of other packages: run `cargo build --workspace --bins` (same profile) first.
pub fn bin_path(name: &str) -> PathBuf {
    let file = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    let path = if let Some(dir) = std::env::var_os("KSLINK_BIN_DIR").filter(|d| !d.is_empty()) {
        PathBuf::from(dir).join(&file)
    } else {
        let exe = std::env::current_exe().expect("cannot find the running executable");
        let mut dir = exe
            .parent()
            .expect("the running executable has a directory")
            .to_path_buf();
        if dir.file_name().is_some_and(|n| n == "deps") {
            dir.pop();
        }
        dir.join(&file)
    };
    if !path.is_file() {
        panic!(
            "workspace binary `{name}` not found at {}; build it first with \
             `cargo build --workspace --bins` (same profile as the tests), or set \
             KSLINK_BIN_DIR to the directory that holds it",
            path.display()
        );
    }
    path
}

/// Leaves `what` out of a test because `missing` is not installed (Debian: `package`), with
/// a note; or fails, where `KSLINK_CI` is set: `.ci/run` installs every tool the tests use
/// and sets it, so a skip there would hide a missing install step.
///
/// # Panics
///
/// If `KSLINK_CI` is set.
pub fn skip_for_missing_tool(what: &str, missing: &str, package: &str) {
    assert!(
        std::env::var_os("KSLINK_CI").is_none(),
        "{missing} is not installed, and CI must test {what}: add {package} to .ci/run"
    );
    eprintln!("note: skipping {what}: {missing} not installed (Debian: {package})");
}

/// A scratch directory for a test, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("kslink-test-")
        .tempdir()
        .expect("temporary directory")
}

/// The file `rel` of the repository (for example `examples/linux/link-vmlinux.sh`).
pub fn repo_file(rel: &str) -> PathBuf {
    workspace_root().join(rel)
}

/// Writes `text` to `path` as an executable (mode 0755): the wrapper programs that tests put
/// in the place of a stage or a tool.
///
/// # Panics
///
/// If it cannot be written, with the path.
pub fn write_executable(path: &Path, text: impl AsRef<[u8]>) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    upstream::set_executable(path);
}

/// Runs `cmd` to completion (standard input empty) and returns its output; `what` says
/// what it is for in the message if it fails (and may say what to install).
///
/// # Panics
///
/// If it cannot run or fails, with `what`, the command, its status, and what it printed.
pub fn run_checked(cmd: &mut std::process::Command, what: &str) -> std::process::Output {
    let shown = format!("{what}: {cmd:?}");
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{shown}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{shown} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
