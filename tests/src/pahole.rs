//! Debian trixie's pahole, the one that trixie's kernels and trixie-backports' Linux 7.3 are
//! built with (1.30 when written; bookworm's is 1.24), for the tests that configure a kernel
//! with it.
//!
//! It is downloaded once into the cache (`<cache>/pahole-trixie/`) with every library it
//! needs, down to trixie's C library, which is newer than bookworm's: the `pahole` there is a
//! script that runs trixie's binary through trixie's own dynamic loader, with trixie's
//! libraries only. Kbuild takes it as `make PAHOLE=…` ([`crate::KernelTree::with_pahole`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache_dir;
use crate::debian::{self, RemoveDirOnDrop};
use crate::lock::FileLock;
use crate::upstream::set_executable;

/// The Debian suite whose pahole this is.
const SUITE: &str = "trixie";

/// A pahole of a Debian suite, ready to run here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DebianPahole {
    /// The program to run (a script over the suite's loader and binary).
    pub program: PathBuf,
    /// The Debian version of the `pahole` package, for example `1.30-1`.
    pub debian_version: String,
    /// The version as Kbuild configures it (`CONFIG_PAHOLE_VERSION`, from `pahole
    /// --version` as `scripts/pahole-version.sh` reads it): `130` for v1.30.
    pub kconfig_version: String,
}

/// Debian trixie's pahole, downloaded into the cache on first use. Later calls, from any
/// thread or process, find it there.
///
/// # Panics
///
/// If the packages cannot be downloaded or unpacked, or the program does not run.
pub fn trixie_pahole() -> DebianPahole {
    let cache = cache_dir();
    let dir = cache.join(format!("pahole-{SUITE}"));
    if let Some(pahole) = installed(&dir) {
        return pahole;
    }
    let _lock = FileLock::acquire(&cache.join(format!("lock-pahole-{SUITE}")));
    if let Some(pahole) = installed(&dir) {
        return pahole;
    }
    let tmp = cache.join(format!("pahole-{SUITE}.tmp"));
    let _ = fs::remove_dir_all(&tmp);
    let _cleanup = RemoveDirOnDrop(tmp.clone());
    let (debs, root) = (tmp.join("debs"), tmp.join("root"));
    for d in [&debs, &root] {
        fs::create_dir_all(d).unwrap_or_else(|e| panic!("cannot create {}: {e}", d.display()));
    }
    let what = format!("Debian {SUITE}'s pahole to build a kernel with it");
    let packages = debian::dependencies_in_suite(SUITE, "pahole", &cache);
    debian::download_from_suite(SUITE, &packages, &cache, &debs, &what);
    let mut debian_version = None;
    for entry in fs::read_dir(&debs).unwrap_or_else(|e| panic!("{}: {e}", debs.display())) {
        let deb = entry.expect("a directory entry").path();
        debian::run_checked(
            Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root),
            "install dpkg (`dpkg-deb`)",
        );
        let name = deb.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with("pahole_") {
            debian_version = Some(debian::deb_version(&deb));
        }
    }
    let debian_version = debian_version.unwrap_or_else(|| {
        panic!(
            "apt-get download left no pahole_*.deb in {}",
            debs.display()
        )
    });
    fs::remove_dir_all(&debs).unwrap_or_else(|e| panic!("cannot remove {}: {e}", debs.display()));
    // The script names the place it is renamed to; before that, run pahole from here.
    let kconfig_version = kconfig_version(&root);
    fs::create_dir(tmp.join("bin")).unwrap_or_else(|e| panic!("{}: {e}", tmp.display()));
    let script = tmp.join("bin/pahole");
    fs::write(&script, run_script(&dir.join("root")))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", script.display()));
    set_executable(&script);
    fs::write(
        tmp.join("complete"),
        format!("{debian_version}\n{kconfig_version}\n"),
    )
    .unwrap_or_else(|e| panic!("cannot write {}: {e}", tmp.display()));
    let _ = fs::remove_dir_all(&dir);
    fs::rename(&tmp, &dir)
        .unwrap_or_else(|e| panic!("cannot rename {} to {}: {e}", tmp.display(), dir.display()));
    installed(&dir).unwrap_or_else(|| panic!("{} is not a complete pahole", dir.display()))
}

/// The pahole installed in `dir`, if its marker (written last) is there.
fn installed(dir: &Path) -> Option<DebianPahole> {
    let marker = fs::read_to_string(dir.join("complete")).ok()?;
    let mut lines = marker.lines();
    let (debian_version, kconfig_version) = (lines.next()?, lines.next()?);
    Some(DebianPahole {
        program: dir.join("bin/pahole"),
        debian_version: debian_version.to_string(),
        kconfig_version: kconfig_version.to_string(),
    })
}

/// The command that runs the pahole of an unpacked amd64 system under `root`: its loader,
/// with its libraries only, and its binary.
fn invocation(root: &Path) -> [String; 4] {
    let libs = root.join("usr/lib/x86_64-linux-gnu");
    [
        libs.join("ld-linux-x86-64.so.2").display().to_string(),
        "--library-path".to_string(),
        libs.display().to_string(),
        root.join("usr/bin/pahole").display().to_string(),
    ]
}

/// A `sh` script that runs the pahole under `root` with its arguments.
fn run_script(root: &Path) -> String {
    let words: Vec<String> = invocation(root).iter().map(|w| format!("'{w}'")).collect();
    format!("#!/bin/sh\nexec {} \"$@\"\n", words.join(" "))
}

/// Runs the pahole under `root` for its version and returns it as Kbuild configures it.
fn kconfig_version(root: &Path) -> String {
    let [program, args @ ..] = invocation(root);
    let out = debian::run_checked(
        Command::new(program).args(args).arg("--version"),
        "the pahole of Debian's packages does not run with their own loader",
    );
    let text = String::from_utf8_lossy(&out).trim().to_string();
    // As scripts/pahole-version.sh: "v1.30" is 130.
    let digits: Option<String> = text
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .filter(|(major, minor)| {
            [major, minor]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|(major, minor)| format!("{major}{minor}"));
    digits.unwrap_or_else(|| panic!("pahole --version printed {text:?}, not vMAJOR.MINOR"))
}
