//! Upstream's `scripts/kallsyms`, built from Debian's kernel source packages and cached.
//!
//! # Cache layout
//!
//! Everything lives in [`cache_dir`] (`$KSLINK_CACHE`, else
//! `<workspace>/target/kslink-cache`):
//!
//! ```text
//! lock-<ver>                      flock(2) lock file serialising the build of <ver>
//! src-<ver>/scripts/kallsyms.c    the upstream sources kept from the tarball
//! src-<ver>/scripts/include/*     (6.12 only: xalloc.h and friends)
//! src-<ver>/scripts/mksysmap      sed script (6.12) / shell script (6.1)
//! src-<ver>/scripts/link-vmlinux.sh, src-<ver>/kernel/kallsyms*.{c,h}  (for reference)
//! kallsyms-<ver>                  the built host tool (appears last, by rename)
//! kallsyms-<ver>.version          Debian version of linux-source-<ver>, e.g. 6.12.117-1~deb12u1
//! nm-cat                          stand-in for `nm -n` used to run 6.1's mksysmap on a map
//! asm-include/bits{32,64}/asm/bitsperlong.h   see crate::asm
//! ```
//!
//! where `<ver>` is `6.12` or `6.1`. The `.deb` and the source tarball are deleted once the
//! tool is built. A `linux-source-<ver>_*.deb` placed in the cache directory beforehand is
//! used instead of downloading one (and deleted too).

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use crate::cache_dir;
use crate::debian;
use crate::lock::FileLock;

/// A kernel version whose `scripts/kallsyms` the tests compare against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KernelVersion {
    /// Linux 6.12 (Debian `linux-source-6.12`, 6.12.117 when written).
    V6_12,
    /// Linux 6.1 (Debian `linux-source-6.1`, 6.1.192 when written).
    V6_1,
    /// Linux 7.3 (Debian `linux-source-7.3` from trixie-backports, 7.3.4 when written).
    V7_3,
}

impl KernelVersion {
    /// Every combination of the generator's flags that changes the table (for 6.1 without
    /// `--lto-clang`, which matters only for `.llvm.` names).
    pub const fn flag_combinations(self) -> &'static [&'static [&'static str]] {
        match self {
            KernelVersion::V6_12 => &[
                &[],
                &["--all-symbols"],
                &["--absolute-percpu"],
                &["--all-symbols", "--absolute-percpu"],
            ],
            KernelVersion::V7_3 => &[
                &[],
                &["--all-symbols"],
                &["--pc-relative"],
                &["--all-symbols", "--pc-relative"],
            ],
            KernelVersion::V6_1 => &[
                &[],
                &["--all-symbols"],
                &["--absolute-percpu"],
                &["--all-symbols", "--absolute-percpu"],
                &["--base-relative"],
                &["--all-symbols", "--base-relative"],
                &["--absolute-percpu", "--base-relative"],
                &["--all-symbols", "--absolute-percpu", "--base-relative"],
            ],
        }
    }

    /// Every version, newest first.
    pub const ALL: [KernelVersion; 3] = [
        KernelVersion::V7_3,
        KernelVersion::V6_12,
        KernelVersion::V6_1,
    ];

    /// The Debian suite the package comes from when it is not one the machine's own apt
    /// sources list (bookworm's): it is then fetched through a private apt state
    /// ([`crate::debian`]).
    pub const fn debian_suite(self) -> Option<&'static str> {
        match self {
            KernelVersion::V6_12 | KernelVersion::V6_1 => None,
            KernelVersion::V7_3 => Some("trixie-backports"),
        }
    }

    /// The short version string: `"6.12"` or `"6.1"`.
    pub fn as_str(self) -> &'static str {
        match self {
            KernelVersion::V6_12 => "6.12",
            KernelVersion::V6_1 => "6.1",
            KernelVersion::V7_3 => "7.3",
        }
    }

    /// The Debian source package: `linux-source-6.12` or `linux-source-6.1`.
    pub fn debian_package(self) -> String {
        format!("linux-source-{}", self.as_str())
    }

    /// The tarball members to extract (GNU tar wildcards). 6.1 has no `scripts/include`.
    fn tar_patterns(self) -> &'static [&'static str] {
        match self {
            KernelVersion::V6_12 | KernelVersion::V7_3 => &[
                "*/scripts/kallsyms.c",
                "*/scripts/include/*",
                "*/scripts/mksysmap",
                "*/scripts/link-vmlinux.sh",
                "*/kernel/kallsyms.c",
                "*/kernel/kallsyms_internal.h",
            ],
            KernelVersion::V6_1 => &[
                "*/scripts/kallsyms.c",
                "*/scripts/mksysmap",
                "*/scripts/link-vmlinux.sh",
                "*/kernel/kallsyms.c",
                "*/kernel/kallsyms_internal.h",
            ],
        }
    }

    /// Files that must exist after extraction, relative to the source root.
    fn required_files(self) -> &'static [&'static str] {
        match self {
            KernelVersion::V6_12 | KernelVersion::V7_3 => &[
                "scripts/kallsyms.c",
                "scripts/include/xalloc.h",
                "scripts/mksysmap",
            ],
            KernelVersion::V6_1 => &["scripts/kallsyms.c", "scripts/mksysmap"],
        }
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one run of upstream's `kallsyms` produced.
#[derive(Debug)]
pub struct UpstreamOutput {
    /// The exit status.
    pub status: ExitStatus,
    /// Standard output: the generated `.S` on success.
    pub stdout: Vec<u8>,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl UpstreamOutput {
    /// True if the tool exited with status 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// The `.S` text; panics with the tool's stderr if it did not exit with status 0.
    pub fn expect_success(&self, what: &str) -> &[u8] {
        if !self.status.success() {
            panic!(
                "upstream kallsyms failed on {what}: {}\nstderr:\n{}",
                self.status, self.stderr
            );
        }
        &self.stdout
    }
}

/// The directory that holds the kept upstream sources of `version` (built if needed):
/// `<cache>/src-<ver>`, with `scripts/kallsyms.c`, `scripts/mksysmap` and so on.
pub fn upstream_source_dir(version: KernelVersion) -> PathBuf {
    upstream_kallsyms(version);
    cache_dir().join(format!("src-{version}"))
}

/// The Debian package version the cached tool of `version` was built from (built if needed),
/// for example `6.12.117-1~deb12u1`.
pub fn upstream_debian_version(version: KernelVersion) -> String {
    let tool = upstream_kallsyms(version);
    let file = version_file(&tool);
    fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()))
        .trim()
        .to_string()
}

/// The path of upstream's `scripts/kallsyms` host tool of `version`, built on first use.
///
/// The first call downloads Debian's `linux-source-<ver>` with `apt-get download`, keeps the
/// few source files it needs, compiles `scripts/kallsyms.c` with `cc -O2` and caches the
/// result (see the module documentation for the layout). Later calls, from any thread or
/// process, find the cached binary. Concurrent first calls are serialised by a lock file;
/// the binary is built under a temporary name and renamed into place.
///
/// # Panics
///
/// If the package cannot be downloaded or the tool cannot be built, with a message that says
/// what to install or run.
pub fn upstream_kallsyms(version: KernelVersion) -> PathBuf {
    let cache = cache_dir();
    let tool = cache.join(format!("kallsyms-{version}"));
    // The tool is renamed into place last, so its presence means a finished build; the
    // other checks notice a cache that was partly deleted by hand.
    let complete = || {
        tool.is_file()
            && version_file(&tool).is_file()
            && cache
                .join(format!("src-{version}/scripts/mksysmap"))
                .is_file()
    };
    if complete() {
        return tool;
    }
    let _lock = FileLock::acquire(&cache.join(format!("lock-{version}")));
    if complete() {
        return tool;
    }
    build(version, &cache, &tool);
    tool
}

/// The path of upstream's cached `scripts/mksysmap` of `version` (built with the tool if
/// needed).
///
/// In 6.12 this is a sed script (`nm -n vmlinux | sed -f mksysmap`); in 6.1 it is a shell
/// script `mksysmap vmlinux System.map` that runs `$NM -n` and filters with `grep -v`. Use
/// [`apply_mksysmap`] to apply either to a map.
pub fn upstream_mksysmap(version: KernelVersion) -> PathBuf {
    upstream_source_dir(version)
        .join("scripts")
        .join("mksysmap")
}

/// Runs upstream's `kallsyms` of `version` with `flags` (for example `["--all-symbols"]`) on
/// the map file `map`, and returns what it printed.
pub fn run_upstream(version: KernelVersion, flags: &[&str], map: &Path) -> UpstreamOutput {
    let tool = upstream_kallsyms(version);
    let out = Command::new(&tool)
        .args(flags)
        .arg(map)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", tool.display()));
    UpstreamOutput {
        status: out.status,
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Like [`run_upstream`], for a map given as text: writes it to a temporary file first.
pub fn run_upstream_text(version: KernelVersion, flags: &[&str], map: &[u8]) -> UpstreamOutput {
    let dir = tempfile::Builder::new()
        .prefix("kslink-map-")
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
    let path = dir.path().join("System.map");
    fs::write(&path, map).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    run_upstream(version, flags, &path)
}

/// Filters `nm -n` output the way upstream's `scripts/mksysmap` of `version` does to make
/// System.map, by running upstream's own script.
///
/// 6.12: `sed -f scripts/mksysmap`. 6.1: the shell script, with `$NM` set to a stand-in
/// that prints the given map instead of running `nm -n` on a vmlinux.
pub fn apply_mksysmap(version: KernelVersion, nm_output: &[u8]) -> Vec<u8> {
    let script = upstream_mksysmap(version);
    match version {
        KernelVersion::V6_12 | KernelVersion::V7_3 => run_with_stdin(
            Command::new("sed").arg("-f").arg(&script),
            nm_output,
            "sed -f mksysmap",
        ),
        KernelVersion::V6_1 => {
            let cache = cache_dir();
            let shim = nm_shim(&cache);
            let dir = tempfile::Builder::new()
                .prefix("kslink-mksysmap-")
                .tempdir()
                .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
            let input = dir.path().join("nm.txt");
            let output = dir.path().join("System.map");
            fs::write(&input, nm_output)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", input.display()));
            let out = Command::new("sh")
                .arg(&script)
                .arg(&input)
                .arg(&output)
                .env("NM", &shim)
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|e| panic!("cannot run sh {}: {e}", script.display()));
            if !out.status.success() {
                panic!(
                    "6.1 mksysmap failed: {}\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            fs::read(&output).unwrap_or_else(|e| panic!("cannot read {}: {e}", output.display()))
        }
    }
}

/// Writes (once) the stand-in for `nm -n FILE` that 6.1's mksysmap calls: it prints FILE.
fn nm_shim(cache: &Path) -> PathBuf {
    let shim = cache.join("nm-cat");
    let text = "#!/bin/sh\n# Stands in for `nm -n FILE`: prints FILE (the last argument).\n\
                for last in \"$@\"; do :; done\nexec cat \"$last\"\n";
    if fs::read_to_string(&shim).ok().as_deref() != Some(text) {
        let tmp = cache.join(format!("nm-cat.tmp-{}", unique_suffix()));
        fs::write(&tmp, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", tmp.display()));
        set_executable(&tmp);
        fs::rename(&tmp, &shim)
            .unwrap_or_else(|e| panic!("cannot rename to {}: {e}", shim.display()));
    }
    shim
}

pub(crate) fn set_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", path.display()));
}

/// A suffix unique to this process and call, for temporary file names.
pub(crate) fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn version_file(tool: &Path) -> PathBuf {
    let mut name = tool.file_name().expect("tool has a name").to_os_string();
    name.push(".version");
    tool.with_file_name(name)
}

/// Runs `cmd` with `input` on stdin and returns its stdout; panics on failure.
pub(crate) fn run_with_stdin(cmd: &mut Command, input: &[u8], what: &str) -> Vec<u8> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        // A failing tool may stop reading; its exit status tells the story.
        let _ = stdin.write_all(&input);
    });
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("cannot wait for {what}: {e}"));
    let _ = writer.join();
    if !out.status.success() {
        panic!(
            "{what} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out.stdout
}

/// Builds the tool of `version` into `tool`; the caller holds the version's lock.
fn build(version: KernelVersion, cache: &Path, tool: &Path) {
    let work = cache.join(format!("build-{version}.tmp"));
    if work.exists() {
        fs::remove_dir_all(&work)
            .unwrap_or_else(|e| panic!("cannot remove stale {}: {e}", work.display()));
    }
    fs::create_dir_all(&work).unwrap_or_else(|e| panic!("cannot create {}: {e}", work.display()));
    let _cleanup = debian::RemoveDirOnDrop(work.clone());

    // 1. The .deb: one placed in the cache beforehand, else apt-get download.
    let deb = debian::obtain_deb(version, cache, &work, "upstream's scripts/kallsyms");

    // 2. Its Debian version, then its contents.
    let deb_version = debian::deb_version(&deb);
    let pkg_dir = work.join("pkg");
    let tarball = debian::unpack_tarball(&deb, version, &pkg_dir);

    // 3. Only the few files we need from the tarball. A pattern that matches nothing makes
    //    GNU tar fail after extracting the rest; the check of required files decides.
    let src_parent = work.join("src");
    fs::create_dir_all(&src_parent)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", src_parent.display()));
    let tar = Command::new("tar")
        .arg("-xJf")
        .arg(&tarball)
        .arg("-C")
        .arg(&src_parent)
        .arg("--wildcards")
        .args(version.tar_patterns())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run tar: {e} (install tar and xz-utils)"));
    let top = match debian::single_subdir(&src_parent) {
        Some(t) => t,
        None => panic!(
            "tar extracted nothing from {} ({}): {}",
            tarball.display(),
            tar.status,
            String::from_utf8_lossy(&tar.stderr)
        ),
    };
    for f in version.required_files() {
        if !top.join(f).is_file() {
            panic!(
                "{} lacks {f} after extraction (tar: {}): {}",
                tarball.display(),
                tar.status,
                String::from_utf8_lossy(&tar.stderr)
            );
        }
    }

    // 4. Keep the sources in the cache.
    let src = cache.join(format!("src-{version}"));
    if src.exists() {
        fs::remove_dir_all(&src).unwrap_or_else(|e| panic!("cannot remove {}: {e}", src.display()));
    }
    fs::rename(&top, &src)
        .unwrap_or_else(|e| panic!("cannot move {} to {}: {e}", top.display(), src.display()));

    // 5. Compile under a temporary name.
    let tmp_tool = cache.join(format!("kallsyms-{version}.tmp-{}", unique_suffix()));
    debian::run_checked(
        Command::new("cc")
            .arg("-O2")
            .arg("-I")
            .arg(src.join("scripts/include"))
            .arg(src.join("scripts/kallsyms.c"))
            .arg("-o")
            .arg(&tmp_tool),
        "install a C compiler (`apt-get install gcc`)",
    );

    // 6. Record the version, drop the big files, publish the tool.
    let vfile = version_file(tool);
    let vtmp = cache.join(format!(
        "kallsyms-{version}.version.tmp-{}",
        unique_suffix()
    ));
    fs::write(&vtmp, format!("{deb_version}\n"))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", vtmp.display()));
    fs::rename(&vtmp, &vfile).unwrap_or_else(|e| panic!("cannot write {}: {e}", vfile.display()));
    if deb.starts_with(cache) {
        let _ = fs::remove_file(&deb);
    }
    fs::rename(&tmp_tool, tool)
        .unwrap_or_else(|e| panic!("cannot rename to {}: {e}", tool.display()));
}
