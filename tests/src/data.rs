//! Data files shipped in `tests/data/`, and the Debian vmlinux they were taken from.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cache_dir;
use crate::lock::FileLock;

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

const VMLINUX_PACKAGE: &str = "linux-image-6.12.117+deb12-amd64-dbg";
const VMLINUX_MEMBER: &str = "./usr/lib/debug/boot/vmlinux-6.12.117+deb12-amd64";
const VMLINUX_NAME: &str = "vmlinux-6.12.117+deb12-amd64";

/// Debian's 6.12.117 amd64 vmlinux (with DWARF, 354 MB), the kernel of the System.map in
/// `tests/data`: `<cache>/vmlinux-6.12.117+deb12-amd64`.
///
/// On first use, downloads `linux-image-6.12.117+deb12-amd64-dbg` (about 1 GB, or uses a
/// `.deb` of it already in the cache directory) with `apt-get download`, extracts only the
/// vmlinux (`tar --occurrence=1` stops reading there), renames it into place and deletes
/// the `.deb`. About 20 s here. Test processes that want it at the same time wait for one
/// another (a lock file in the cache).
pub fn debian_vmlinux() -> PathBuf {
    let cache = cache_dir();
    let _lock = FileLock::acquire(&cache.join("lock-vmlinux"));
    let vmlinux = cache.join(VMLINUX_NAME);
    if vmlinux.is_file() {
        return vmlinux;
    }
    let work = tempfile::Builder::new()
        .prefix(".vmlinux-")
        .tempdir_in(&cache)
        .unwrap();
    let prefix = format!("{VMLINUX_PACKAGE}_");
    let find_deb = |dir: &Path| {
        fs::read_dir(dir).unwrap().find_map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name()?.to_str()?.to_owned();
            (name.starts_with(&prefix) && name.ends_with(".deb")).then_some(path)
        })
    };
    let deb = match find_deb(&cache) {
        Some(deb) => deb,
        None => {
            let out = Command::new("apt-get")
                .args(["download", VMLINUX_PACKAGE])
                .current_dir(work.path())
                .stdin(Stdio::null())
                .output()
                .expect("run apt-get");
            if !out.status.success() {
                panic!(
                    "`apt-get download {VMLINUX_PACKAGE}` failed ({}): {}\nRun `apt-get update`, \
                     or put the .deb into {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr),
                    cache.display()
                );
            }
            find_deb(work.path()).expect("apt-get download left a .deb")
        }
    };
    let mut dpkg = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(&deb)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run dpkg-deb");
    let tar = Command::new("tar")
        .args(["-x", "--occurrence=1", VMLINUX_MEMBER])
        .current_dir(work.path())
        .stdin(dpkg.stdout.take().unwrap())
        .output()
        .expect("run tar");
    // dpkg-deb dies of SIGPIPE when tar stops early; tar's status is what counts.
    let _ = dpkg.wait();
    let extracted = work.path().join(VMLINUX_MEMBER);
    if !tar.status.success() || !extracted.is_file() {
        panic!(
            "extracting {VMLINUX_MEMBER} from {} failed: {}",
            deb.display(),
            String::from_utf8_lossy(&tar.stderr)
        );
    }
    fs::rename(&extracted, &vmlinux).unwrap();
    fs::remove_file(&deb).unwrap();
    vmlinux
}
