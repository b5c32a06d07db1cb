//! `kallsyms-finder`, the reader of PyPI's `vmlinux-to-elf`: an external program that finds
//! a kernel's kallsyms table by its shape alone (no symbols, no labels) and decodes it, as
//! reverse-engineering tools do with a kernel image. A table kslink patched must read the
//! same to it as upstream's.
//!
//! Installed once, pinned, into a virtual environment in the cache:
//!
//! ```text
//! <cache>/lock-vmlinux-to-elf         flock(2) lock file serialising the installation
//! <cache>/vmlinux-to-elf-<version>/   python3 -m venv; pip install vmlinux-to-elf==<version>
//! ```

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache_dir;
use crate::debian::run_checked;
use crate::lock::FileLock;

/// The pinned release of `vmlinux-to-elf`.
pub const VMLINUX_TO_ELF_VERSION: &str = "1.4.0";

/// The `kallsyms-finder` executable, installing it into the cache on first use.
///
/// # Panics
///
/// If `python3 -m venv` or `pip` fails (naming the Debian package to install).
pub fn kallsyms_finder() -> PathBuf {
    let cache = cache_dir();
    let venv = cache.join(format!("vmlinux-to-elf-{VMLINUX_TO_ELF_VERSION}"));
    let exe = venv.join("bin/kallsyms-finder");
    // A venv's scripts name its interpreter by absolute path, so it is built in place and
    // a marker, written last, says it is complete.
    let complete = venv.join("kslink-complete");
    if complete.is_file() {
        return exe;
    }
    let _lock = FileLock::acquire(&cache.join("lock-vmlinux-to-elf"));
    if complete.is_file() {
        return exe;
    }
    if venv.exists() {
        fs::remove_dir_all(&venv)
            .unwrap_or_else(|e| panic!("cannot remove stale {}: {e}", venv.display()));
    }
    run_checked(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "install python3 and python3-venv",
    );
    run_checked(
        Command::new(venv.join("bin/pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("vmlinux-to-elf=={VMLINUX_TO_ELF_VERSION}"),
        ]),
        "pip must reach PyPI",
    );
    if !exe.is_file() {
        panic!(
            "pip installed vmlinux-to-elf=={VMLINUX_TO_ELF_VERSION} but {} is missing",
            exe.display()
        );
    }
    fs::write(&complete, "").unwrap_or_else(|e| panic!("cannot write {}: {e}", complete.display()));
    exe
}

/// What `kallsyms-finder` reads from the 64-bit kernel `elf`: its `ADDR TYPE NAME` lines
/// (its diagnostics, on standard error, are dropped).
pub fn kallsyms_finder_symbols(elf: &Path) -> String {
    let out = run_checked(
        Command::new(kallsyms_finder())
            .args(["--bit-size", "64"])
            .arg(elf),
        "kallsyms-finder failed",
    );
    String::from_utf8(out).unwrap_or_else(|e| panic!("kallsyms-finder printed non-UTF-8: {e}"))
}
