//! Debian's `linux-source-<ver>` packages: finding or downloading the `.deb`, reading its
//! version and unpacking the source tarball it carries. Shared by [`crate::upstream`] (which
//! keeps a few files of the tarball) and [`crate::kernel`] (which builds the whole tree).

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::upstream::KernelVersion;

/// Finds `linux-source-<ver>_*.deb` in `dir` (the newest name if there are several).
pub(crate) fn find_deb(dir: &Path, version: KernelVersion) -> Option<PathBuf> {
    let prefix = format!("{}_", version.debian_package());
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(OsStr::to_str)
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
        })
        .collect();
    found.sort();
    found.pop()
}

/// The `linux-source-<ver>` `.deb`: one placed in `cache` beforehand, else one that
/// `apt-get download` fetches into `work`. `what` says what it is for, in the panic message.
///
/// # Panics
///
/// If `apt-get download` fails, with a message that says what to do.
pub(crate) fn obtain_deb(version: KernelVersion, cache: &Path, work: &Path, what: &str) -> PathBuf {
    if let Some(deb) = find_deb(cache, version) {
        return deb;
    }
    let package = version.debian_package();
    let out = Command::new("apt-get")
        .arg("download")
        .arg(&package)
        .current_dir(work)
        .stdin(Stdio::null())
        .output();
    let failure = match &out {
        Err(e) => Some(format!("cannot run apt-get: {e}")),
        Ok(o) if !o.status.success() => Some(format!(
            "{}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        )),
        Ok(_) => None,
    };
    if let Some(failure) = failure {
        panic!(
            "`apt-get download {package}` failed: {failure}\n\
             kslink's tests need {what} of Linux {version}, built from Debian's `{package}` \
             package. On Debian 12 (bookworm, with bookworm-security enabled) run \
             `apt-get update` first; or download {package}_*.deb yourself and put it in {} \
             (the cache directory, $KSLINK_CACHE) and run the tests again. Building also needs \
             `dpkg-deb`, `tar`, `xz` and a C compiler `cc`.",
            cache.display()
        );
    }
    find_deb(work, version).unwrap_or_else(|| {
        panic!(
            "apt-get download {package} succeeded but left no {package}_*.deb in {}",
            work.display()
        )
    })
}

/// The Debian version of the package in `deb`, for example `6.12.117-1~deb12u1`.
pub(crate) fn deb_version(deb: &Path) -> String {
    let out = run_checked(
        Command::new("dpkg-deb").arg("-f").arg(deb).arg("Version"),
        "install dpkg (`dpkg-deb`)",
    );
    String::from_utf8_lossy(&out).trim().to_string()
}

/// Unpacks `deb` into `dir` and returns the path of the kernel source tarball in it
/// (`<dir>/usr/src/linux-source-<ver>.tar.xz`).
pub(crate) fn unpack_tarball(deb: &Path, version: KernelVersion, dir: &Path) -> PathBuf {
    run_checked(
        Command::new("dpkg-deb").arg("-x").arg(deb).arg(dir),
        "install dpkg (`dpkg-deb`)",
    );
    let tarball = dir
        .join("usr/src")
        .join(format!("linux-source-{version}.tar.xz"));
    if !tarball.is_file() {
        panic!("{} holds no {}", deb.display(), tarball.display());
    }
    tarball
}

/// The one directory that extracting a source tarball into `parent` made
/// (`linux-source-<ver>`), if any.
pub(crate) fn single_subdir(parent: &Path) -> Option<PathBuf> {
    fs::read_dir(parent)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.is_dir())
}

/// Runs `cmd` and panics with `hint` and the command's stderr if it fails; returns stdout.
pub(crate) fn run_checked(cmd: &mut Command, hint: &str) -> Vec<u8> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}\n{hint}"));
    if !out.status.success() {
        panic!(
            "{shown} failed ({}):\n{}\n{hint}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out.stdout
}

/// Removes a directory tree when dropped, also when a panic unwinds.
pub(crate) struct RemoveDirOnDrop(pub(crate) PathBuf);

impl Drop for RemoveDirOnDrop {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
