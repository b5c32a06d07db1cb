//! The drop-in `examples/linux/link-vmlinux.sh` with LLVM's lld (`make LD=ld.lld`), on copies
//! of the Linux 7.3 (relocatable), 6.12 and 6.1 test kernel trees: Kbuild first relinks
//! vmlinux with the kernel's own script and ld.lld (after reconfiguring for lld), then with
//! the drop-in. The
//! drop-in links once, and its System.map and vmlinux are the upstream script's, but for the
//! build-id: the prediction by lld's rules is exact, so the table needs no relink and no
//! padding. 6.x links with Debian's default lld (14); 7.3 needs lld 17 or later, and gets
//! Debian's `lld-19`.

use std::fs;
use std::path::{Path, PathBuf};

use kslink_tests::kernel::{kernel_tree, KernelTree};
use kslink_tests::{bin_path, KernelVersion};
use kslink_tests::{repo_file, run_checked, write_executable};
use object::Object;

/// The lld that Linux `version` accepts (`scripts/min-tool-version.sh`: 7.x wants 17.0.1).
fn lld_for(version: KernelVersion) -> &'static str {
    match version {
        KernelVersion::V6_1 | KernelVersion::V6_12 => "/usr/bin/ld.lld",
        KernelVersion::V7_3 => "/usr/bin/ld.lld-19",
    }
}

/// A copy of a fixture tree, with an `ld.lld` first on PATH that logs what it links and runs
/// the lld the kernel version accepts.
struct LldTree {
    copy: KernelTree,
    path: String,
    log: PathBuf,
}

impl LldTree {
    fn new(tree: &KernelTree, scratch: &Path) -> LldTree {
        let lld = lld_for(tree.version);
        let copy = tree.copy_to(&scratch.join("linux"));
        let wrappers = scratch.join("bin");
        fs::create_dir(&wrappers).unwrap();
        let log = scratch.join("ld.log");
        let ld = wrappers.join("ld.lld");
        write_executable(
            &ld,
            format!(
                "#!/bin/sh\necho \"$PWD|$*\" >> '{}'\nexec {lld} \"$@\"\n",
                log.display()
            ),
        );
        let kbuild_path = copy
            .make()
            .get_envs()
            .find(|(k, _)| *k == "PATH")
            .and_then(|(_, v)| v.map(|v| v.to_string_lossy().into_owned()))
            .unwrap_or_default();
        let kslink_dir = bin_path("kslink").parent().unwrap().to_path_buf();
        let path = format!(
            "{}:{}:{kbuild_path}",
            wrappers.display(),
            kslink_dir.display()
        );
        LldTree { copy, path, log }
    }

    /// `make LD=ld.lld vmlinux` with `script` as scripts/link-vmlinux.sh (replacing it
    /// makes Kbuild relink); returns the `ld.lld` commands that linked vmlinux.
    fn relink(&self, script: &Path, what: &str) -> Vec<String> {
        fs::copy(script, self.copy.dir.join("scripts/link-vmlinux.sh")).unwrap();
        let _ = fs::remove_file(&self.log);
        run_checked(
            self.copy
                .make()
                .env("PATH", &self.path)
                .args(["LD=ld.lld", "vmlinux"]),
            what,
        );
        let top = self.copy.dir.display().to_string();
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split_once('|'))
            .filter(|(dir, _)| *dir == top)
            .map(|(_, args)| args.to_string())
            // vmlinux's links: with its linker script (not Kbuild's probes of the linker)
            .filter(|args| args.contains("/kernel/vmlinux.lds") && args.contains("-o "))
            .collect()
    }
}

/// The bytes of `vmlinux` with its build-id zeroed.
fn without_build_id(vmlinux: &Path) -> Vec<u8> {
    let mut data = fs::read(vmlinux).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let build_id = file.build_id().unwrap().expect("a build-id").to_vec();
    let at = data
        .windows(build_id.len())
        .position(|w| w == build_id.as_slice())
        .unwrap();
    data[at..at + build_id.len()].fill(0);
    data
}

fn dropin_with_lld_is_upstreams_kernel(version: KernelVersion) {
    let tree = kernel_tree(version);
    let scratch = tempfile::Builder::new()
        .prefix("kslink-dropin-lld-")
        .tempdir()
        .unwrap();
    let lld = LldTree::new(&tree, scratch.path());
    let upstream_script = scratch.path().join("upstream-link-vmlinux.sh");
    fs::copy(
        lld.copy.dir.join("scripts/link-vmlinux.sh"),
        &upstream_script,
    )
    .unwrap();

    let upstream_links = lld.relink(&upstream_script, "make LD=ld.lld vmlinux (upstream)");
    assert!(
        upstream_links.len() >= 3,
        "upstream's links: {upstream_links:#?}"
    );
    let upstream_map = fs::read(lld.copy.system_map()).unwrap();
    let upstream_vmlinux = without_build_id(&lld.copy.vmlinux());
    // Linked by lld, the kernel differs from the fixture's GNU-linked one.
    assert_ne!(upstream_map, fs::read(tree.system_map()).unwrap());

    let links = lld.relink(
        &repo_file("examples/linux/link-vmlinux.sh"),
        "make LD=ld.lld vmlinux (drop-in)",
    );
    assert_eq!(links.len(), 1, "the drop-in's links: {links:#?}");
    assert!(links[0].contains("-o .tmp_kslink/linked"), "{links:?}");
    assert!(
        !lld.copy.dir.join(".tmp_kslink/remembered.pad").exists(),
        "the table did not fit its frame"
    );
    assert!(
        fs::read(lld.copy.system_map()).unwrap() == upstream_map,
        "System.map differs from upstream's"
    );
    assert!(
        without_build_id(&lld.copy.vmlinux()) == upstream_vmlinux,
        "vmlinux differs from upstream's beyond the build-id"
    );
}

#[test]
fn dropin_7_3_with_lld() {
    dropin_with_lld_is_upstreams_kernel(KernelVersion::V7_3);
}

#[test]
fn dropin_6_12_with_lld() {
    dropin_with_lld_is_upstreams_kernel(KernelVersion::V6_12);
}

#[test]
fn dropin_6_1_with_lld() {
    dropin_with_lld_is_upstreams_kernel(KernelVersion::V6_1);
}
