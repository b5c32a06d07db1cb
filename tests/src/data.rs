//! Data files shipped in `tests/data/`.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The directory `tests/data/` of this crate.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// The path of the compressed System.map of Debian's 6.12.117 amd64 kernel
/// (`tests/data/System.map-6.12.117+deb12-amd64.xz`; see `tests/data/README.md`).
pub fn debian_system_map_path() -> PathBuf {
    data_dir().join("System.map-6.12.117+deb12-amd64.xz")
}

/// The System.map of Debian's 6.12.117 amd64 kernel, decompressed (163,210 lines, about
/// 8 MB): `nm -n vmlinux | sed -f scripts/mksysmap` for a configuration with
/// CONFIG_KALLSYMS_ALL=y and CONFIG_KALLSYMS_ABSOLUTE_PERCPU=y, so the input of upstream's
/// `kallsyms --all-symbols --absolute-percpu`.
///
/// Decompresses with `xz -dc`; panics if `xz` (Debian `xz-utils`) is missing.
pub fn debian_system_map() -> Vec<u8> {
    let path = debian_system_map_path();
    let out = Command::new("xz")
        .arg("-dc")
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `xz -dc {}` (install xz-utils): {e}",
                path.display()
            )
        });
    if !out.status.success() {
        panic!(
            "`xz -dc {}` failed: {}\n{}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out.stdout
}
