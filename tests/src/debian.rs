//! Debian's `linux-source-<ver>` packages: finding or downloading the `.deb`, reading its
//! version and unpacking the source tarball it carries. Shared by [`crate::upstream`] (which
//! keeps a few files of the tarball) and [`crate::kernel`] (which builds the whole tree).
//! Also packages of a newer suite with what they need to run ([`crate::pahole`]).

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::lock::FileLock;
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
    let downloaded = apt_download(
        version.debian_suite(),
        std::slice::from_ref(&package),
        cache,
        work,
    );
    if let Err(failure) = downloaded {
        panic!(
            "`apt-get download {package}` failed: {failure}\n\
             kslink's tests need {what} of Linux {version}, built from Debian's `{package}` \
             package. On Debian 12 (bookworm, with bookworm-security enabled) run \
             `apt-get update` first (packages of newer suites come through a private apt \
             state in the cache directory, from the mirror the machine's apt sources name); or download {package}_*.deb yourself and put it in {} \
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

/// Whether [`private_apt_state`] may use the lists it updated before.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lists {
    /// The lists of an earlier `apt-get update`, if there are any.
    AsCached,
    /// Lists updated now.
    Refreshed,
}

/// `apt-get` options for a private apt state in `<cache>/apt-<suite>` that lists Debian's
/// `suite` (for example `trixie-backports`) from the mirror the machine's own apt sources
/// name, updated once per cache unless `lists` asks for fresh ones. The system's sources,
/// lists and cache stay as they are.
///
/// # Panics
///
/// If no Debian mirror is named in `/etc/apt/sources.list{,.d/*}` or `apt-get update` fails.
fn private_apt_state(suite: &str, cache: &Path, lists: Lists) -> Vec<String> {
    let state = cache.join(format!("apt-{suite}"));
    let sources = state.join("sources.list");
    let options = vec![
        format!("-oDir::Etc::sourcelist={}", sources.display()),
        "-oDir::Etc::sourceparts=-".to_string(),
        format!("-oDir::State::Lists={}", state.join("lists").display()),
        format!("-oDir::Cache={}", state.join("cache").display()),
        "-oAPT::Get::List-Cleanup=0".to_string(),
    ];
    let updated = state.join("updated");
    if lists == Lists::AsCached && updated.is_file() {
        return options;
    }
    fs::create_dir_all(&state).unwrap_or_else(|e| panic!("cannot create {}: {e}", state.display()));
    // The kernel fixture and upstream's tool may ask at once; apt's own lock would fail one.
    let _lock = FileLock::acquire(&state.join("lock"));
    if lists == Lists::AsCached && updated.is_file() {
        return options;
    }
    let mirror = debian_mirror().unwrap_or_else(|| {
        panic!(
            "no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d/: \
             kslink's tests fetch {suite} packages from the mirror the machine's apt sources \
             name"
        )
    });
    for dir in ["lists/partial", "cache/archives/partial"] {
        fs::create_dir_all(state.join(dir))
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", state.join(dir).display()));
    }
    fs::write(
        &sources,
        format!(
            "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] {mirror} {suite} main\n"
        ),
    )
    .unwrap_or_else(|e| panic!("cannot write {}: {e}", sources.display()));
    run_checked(
        Command::new("apt-get").args(&options).arg("update"),
        "check that the machine reaches the Debian mirror its apt sources name",
    );
    fs::write(&updated, "").unwrap_or_else(|e| panic!("cannot write {}: {e}", updated.display()));
    options
}

/// The first Debian archive (not the security archive) that the machine's apt sources
/// name: a `URIs:` field of `/etc/apt/sources.list.d/*.sources` or a `deb URI ...` line of
/// `/etc/apt/sources.list{,.d/*.list}`.
fn debian_mirror() -> Option<String> {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(entries) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    files
        .iter()
        .filter(|file| {
            file.extension()
                .is_some_and(|ext| ext == "sources" || ext == "list")
                || file.ends_with("sources.list")
        })
        .filter_map(|file| fs::read_to_string(file).ok())
        .flat_map(|text| {
            text.lines()
                .filter_map(|line| {
                    let line = line.trim();
                    if let Some(uris) = line.strip_prefix("URIs:") {
                        uris.split_whitespace().next().map(str::to_string)
                    } else if let Some(rest) = line.strip_prefix("deb ") {
                        rest.split_whitespace()
                            .find(|word| word.contains("://"))
                            .map(str::to_string)
                    } else {
                        None
                    }
                })
                .collect::<Vec<_>>()
        })
        .find(|uri| uri.trim_end_matches('/').ends_with("/debian"))
}

/// `package` and every package it needs at run time, recursively (its `Depends`, not its
/// recommendations), in Debian's `suite`: the names that [`download_from_suite`] takes.
///
/// # Panics
///
/// If the private apt state cannot be made or `apt-cache` fails.
pub(crate) fn dependencies_in_suite(suite: &str, package: &str, cache: &Path) -> Vec<String> {
    let out = run_checked(
        Command::new("apt-cache")
            .args(private_apt_state(suite, cache, Lists::AsCached))
            .args(["depends", "--recurse", "--no-recommends", "--no-suggests"])
            .args([
                "--no-conflicts",
                "--no-breaks",
                "--no-replaces",
                "--no-enhances",
            ])
            .arg(package),
        "install apt (`apt-cache`)",
    );
    let mut names: Vec<String> = String::from_utf8_lossy(&out)
        .lines()
        // Dependencies are indented under their package; virtual ones are `<name>`.
        .filter(|line| !line.starts_with(' ') && !line.starts_with('<') && !line.is_empty())
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Downloads `packages` from Debian's `suite` into `work` (`apt-get download`, through the
/// private apt state); `what` says what they are for, in the panic message.
///
/// # Panics
///
/// If `apt-get download` fails with the cached lists and with fresh ones.
pub(crate) fn download_from_suite(
    suite: &str,
    packages: &[String],
    cache: &Path,
    work: &Path,
    what: &str,
) {
    if let Err(failure) = apt_download(Some(suite), packages, cache, work) {
        panic!(
            "`apt-get download {}` from {suite} failed: {failure}\nkslink's tests need {what}",
            packages.join(" ")
        );
    }
}

/// `apt-get download packages` into `work`: from Debian's `suite` through the private apt
/// state, else from the machine's own sources. Says why it failed, if it did.
fn apt_download(
    suite: Option<&str>,
    packages: &[String],
    cache: &Path,
    work: &Path,
) -> Result<(), String> {
    let download = |lists: Lists| {
        let mut download = Command::new("apt-get");
        if let Some(suite) = suite {
            download.args(private_apt_state(suite, cache, lists));
        }
        download
            .arg("download")
            .args(packages)
            .current_dir(work)
            .stdin(Stdio::null())
            .output()
    };
    let mut out = download(Lists::AsCached);
    // The private lists are updated once per cache: when the mirror has moved on to a newer
    // revision, the listed one is gone and only fresh lists name the one it has.
    if suite.is_some() && !out.as_ref().is_ok_and(|o| o.status.success()) {
        out = download(Lists::Refreshed);
    }
    match out {
        Err(e) => Err(format!("cannot run apt-get: {e}")),
        Ok(o) if !o.status.success() => Err(format!(
            "{}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        )),
        Ok(_) => Ok(()),
    }
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
