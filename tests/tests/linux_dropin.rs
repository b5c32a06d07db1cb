//! The drop-in `examples/linux/link-vmlinux.sh` in real Linux 7.3, 6.12 and 6.1 trees: Kbuild
//! relinks vmlinux through it, once, and the kernel is upstream's: the same System.map, the
//! same kallsyms bytes, the same loaded image but for the build-id; booted under qemu, the
//! same /proc/kallsyms, and the kernel's own kallsyms self-test passes.
//!
//! The upstream kernel is the cached fixture (`kslink_tests::kernel`), built with the
//! kernel's own script; each test relinks a copy of it with the drop-in: x86_64 7.3
//! (relocatable, with KASLR: 7.x's place-relative table, `--emit-relocs`, the link of
//! `vmlinux.unstripped`), 6.12 and 6.1, and arm64 6.12 (cross-built, relocatable: linked `-shared` with
//! `--no-apply-dynamic-relocs`), booted under `qemu-system-aarch64 -M virt`. The initramfs
//! is one static program, built with the target's `gcc`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use kslink_schema::{artifact, ArrayKind, BtfFit, PatchReport};
use kslink_tests::kernel::{kernel_tree_for, KernelArch, KernelTree};
use kslink_tests::{bin_path, kallsyms_finder_symbols, write_executable};
use kslink_tests::{repo_file, run_checked};
use kslink_tests::{trixie_pahole, KernelVersion};
use object::{Object, ObjectSection, ObjectSymbol};

/// A copy of the fixture tree relinked through the drop-in; returns it, Kbuild's output, and
/// the `ld` commands that linked vmlinux.
fn relink_with_dropin(tree: &KernelTree, scratch: &Path) -> (KernelTree, String, Vec<String>) {
    let (copy, output, links) = make_with_dropin(tree, scratch, |_| {});
    assert!(
        output.status.success(),
        "make vmlinux and the boot image with the drop-in failed ({:?}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (
        copy,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        links,
    )
}

/// `make vmlinux BOOT_IMAGE` in a copy of the fixture tree with the drop-in in place, after
/// `prepare` changed the copy; returns the copy, make's output, and the `ld` commands that
/// linked vmlinux.
fn make_with_dropin(
    tree: &KernelTree,
    scratch: &Path,
    prepare: impl FnOnce(&KernelTree),
) -> (KernelTree, std::process::Output, Vec<String>) {
    let copy = tree.copy_to(&scratch.join("linux"));
    prepare(&copy);
    fs::copy(
        repo_file("examples/linux/link-vmlinux.sh"),
        copy.dir.join("scripts/link-vmlinux.sh"),
    )
    .unwrap();
    // The kernel's `ld` first on PATH, logging where and what it links.
    let wrappers = scratch.join("bin");
    fs::create_dir_all(&wrappers).unwrap();
    let ld_name = tree.arch.tool("ld");
    let ld = wrappers.join(&ld_name);
    write_executable(
        &ld,
        format!(
            "#!/bin/sh\necho \"$PWD|$*\" >> '{}'\nexec /usr/bin/{ld_name} \"$@\"\n",
            scratch.join("ld.log").display()
        ),
    );
    // The script is a prerequisite of vmlinux: replacing it makes Kbuild relink.
    let (output, links) = make_again(&copy, scratch);
    (copy, output, links)
}

/// `make vmlinux BOOT_IMAGE` again in the copy that [`make_with_dropin`] made in `scratch`;
/// returns make's output and the `ld` commands that linked vmlinux in this run.
fn make_again(copy: &KernelTree, scratch: &Path) -> (std::process::Output, Vec<String>) {
    let log = scratch.join("ld.log");
    let _ = fs::remove_file(&log);
    let kslink_dir = bin_path("kslink").parent().unwrap().to_path_buf();
    let mut make = copy.make();
    let kbuild_path = make
        .get_envs()
        .find(|(k, _)| *k == "PATH")
        .and_then(|(_, v)| v.map(|v| v.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let path = format!(
        "{}:{}:{kbuild_path}",
        scratch.join("bin").display(),
        kslink_dir.display()
    );
    let output = make
        .env("PATH", path)
        .args(["vmlinux", copy.arch.boot_target()])
        .output()
        .expect("make runs");
    let top = copy.dir.display().to_string();
    let links = fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_once('|'))
        .filter(|(dir, _)| *dir == top)
        .map(|(_, args)| args.to_string())
        // vmlinux's links are the ones with its linker script (not the boot image's, nor
        // Kbuild's `ld -v` probes)
        .filter(|args| args.contains("/kernel/vmlinux.lds") && args.contains("-o "))
        .collect();
    (output, links)
}

/// The bytes of every kallsyms array, by label: from its label to the next label (the last
/// is 6.12's `kallsyms_seqs_of_names`, 3 bytes per symbol, or 6.1's `kallsyms_token_index`,
/// 256 u16).
fn kallsyms_arrays(vmlinux: &Path) -> BTreeMap<String, Vec<u8>> {
    let data = fs::read(vmlinux).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let mut labels: Vec<(u64, String, object::SectionIndex)> = file
        .symbols()
        .filter_map(|s| {
            let name = s.name().ok()?;
            (ArrayKind::from_label(name).is_some() && s.section_index().is_some())
                .then(|| (s.address(), name.to_string(), s.section_index().unwrap()))
        })
        .collect();
    labels.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let num_syms_at = labels
        .iter()
        .find(|(_, n, _)| n == "kallsyms_num_syms")
        .expect("kallsyms_num_syms")
        .0;
    let read = |addr: u64, len: u64, index| {
        let section = file.section_by_index(index).unwrap();
        let bytes = section.data().unwrap();
        let start = (addr - section.address()) as usize;
        bytes[start..start + len as usize].to_vec()
    };
    let num_syms = u32::from_le_bytes(read(num_syms_at, 4, labels[0].2).try_into().unwrap());
    let mut arrays = BTreeMap::new();
    for (i, (addr, name, index)) in labels.iter().enumerate() {
        let len = match labels.get(i + 1) {
            Some((next, _, _)) => next - addr,
            None if name == "kallsyms_seqs_of_names" => 3 * u64::from(num_syms),
            None if name == "kallsyms_token_index" => 2 * 256,
            None => panic!("{name} is the last label"),
        };
        arrays.insert(name.clone(), read(*addr, len, *index));
    }
    assert!(arrays.len() >= 7, "{:?}", arrays.keys());
    arrays
}

/// `objcopy -O binary` of `vmlinux` (the architecture's `objcopy`) with its build-id zeroed
/// first.
fn loaded_image(vmlinux: &Path, arch: KernelArch, scratch: &Path, name: &str) -> Vec<u8> {
    let mut data = fs::read(vmlinux).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let build_id = file.build_id().unwrap().expect("a build-id").to_vec();
    let at = data
        .windows(build_id.len())
        .position(|w| w == build_id.as_slice())
        .unwrap();
    data[at..at + build_id.len()].fill(0);
    let elf = scratch.join(format!("{name}.elf"));
    let bin = scratch.join(format!("{name}.bin"));
    fs::write(&elf, data).unwrap();
    run_checked(
        Command::new(arch.tool("objcopy"))
            .arg("-O")
            .arg("binary")
            .arg(&elf)
            .arg(&bin),
        "objcopy -O binary",
    );
    fs::read(bin).unwrap()
}

/// The initramfs's `/init`, a static program for any target: it waits for the kallsyms
/// self-test (if the kernel command line says `kslink_wait_selftest`; until qemu's timeout,
/// since on i386 under qemu's emulation `usleep` can return at once),
/// prints the self-test's lines from the kernel log, /proc/kallsyms, and the size and
/// FNV-1a hash of /sys/kernel/btf/vmlinux (the kernel's own BTF, `none` without it) between
/// markers, and reboots (qemu exits: -no-reboot).
const INIT_C: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <unistd.h>

static char log_buf[1 << 20];

static void cat(const char *path)
{
	char chunk[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY);
	while (fd >= 0 && (n = read(fd, chunk, sizeof chunk)) > 0)
		fwrite(chunk, 1, n, stdout);
}

int main(void)
{
	char cmdline[4096] = "";
	int fd, n = 0;

	mount("proc", "/proc", "proc", 0, NULL);
	fd = open("/proc/cmdline", O_RDONLY);
	if (fd >= 0 && read(fd, cmdline, sizeof cmdline - 1) < 0)
		cmdline[0] = 0;
	for (;;) {
		n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, log_buf, sizeof log_buf - 1);
		log_buf[n > 0 ? n : 0] = 0;
		if (!strstr(cmdline, "kslink_wait_selftest") ||
		    strstr(log_buf, "kallsyms_selftest: finish"))
			break;
		usleep(100000);
	}
	printf("==SELFTEST==\n");
	for (char *line = strtok(log_buf, "\n"); line; line = strtok(NULL, "\n"))
		if (strstr(line, "kallsyms_selftest"))
			printf("%s\n", line[0] == '<' ? strchr(line, '>') + 1 : line);
	printf("==KALLSYMS==\n");
	fflush(stdout);
	cat("/proc/kallsyms");
	printf("==BTF==\n");
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	fd = open("/sys/kernel/btf/vmlinux", O_RDONLY);
	if (fd < 0) {
		printf("none\n");
	} else {
		unsigned long long hash = 0xcbf29ce484222325ULL, size = 0;
		unsigned char chunk[65536];
		ssize_t got;
		while ((got = read(fd, chunk, sizeof chunk)) > 0)
			for (ssize_t i = 0; i < got; i++, size++)
				hash = (hash ^ chunk[i]) * 0x100000001b3ULL;
		printf("%llu %016llx\n", size, hash);
	}
	printf("==END==\n");
	fflush(stdout);
	sync();
	reboot(RB_AUTOBOOT);
	return 0;
}
"#;

/// An initramfs for `arch` whose `/init` is [`INIT_C`], built with the architecture's
/// `gcc -static`.
fn initramfs(arch: KernelArch, scratch: &Path) -> PathBuf {
    let root = scratch.join(format!("initramfs-{}", arch.name()));
    fs::create_dir_all(root.join("proc")).unwrap();
    fs::create_dir_all(root.join("sys")).unwrap();
    let source = scratch.join("init.c");
    fs::write(&source, INIT_C).unwrap();
    run_checked(
        Command::new(arch.tool("gcc"))
            .args(arch.program_cflags())
            .args(["-static", "-O2", "-o"])
            .arg(root.join("init"))
            .arg(&source),
        "a static init (Debian: libc6-dev; for arm64 gcc-aarch64-linux-gnu and \
         libc6-dev-arm64-cross; for i386 libc6-dev-i386 and lib32gcc-12-dev)",
    );
    let image = scratch.join(format!("initramfs-{}.cpio", arch.name()));
    run_checked(
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "find . | cpio -o -H newc --quiet > '{}'",
                image.display()
            ))
            .current_dir(&root),
        "cpio (install Debian's cpio)",
    );
    image
}

/// How qemu boots `arch`: the program, its machine options, the serial console's name.
fn qemu(arch: KernelArch) -> (&'static str, &'static [&'static str], &'static str) {
    match arch {
        KernelArch::X86_64 => ("qemu-system-x86_64", &[], "ttyS0"),
        KernelArch::I386 => ("qemu-system-i386", &[], "ttyS0"),
        // The `virt` machine's UART is a PL011.
        KernelArch::Arm64 => (
            "qemu-system-aarch64",
            &["-M", "virt", "-cpu", "cortex-a57"],
            "ttyAMA0",
        ),
    }
}

/// How a boot places the kernel: where it was linked, or where KASLR puts it (a kernel
/// built with CONFIG_RANDOMIZE_BASE).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Placement {
    Linked,
    Randomized,
}

/// The line [`INIT_C`] prints for a BTF blob: its size and FNV-1a hash.
fn btf_digest(btf: &[u8]) -> String {
    let hash = btf.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{} {hash:016x}", btf.len())
}

/// The contents of section `name` of `elf`, if it has one.
fn section_bytes(elf: &Path, name: &str) -> Option<Vec<u8>> {
    let data = fs::read(elf).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let section = file.section_by_name(name)?;
    Some(section.data().unwrap().to_vec())
}

/// What a boot printed: the self-test's lines, /proc/kallsyms, and the digest of
/// /sys/kernel/btf/vmlinux ([`btf_digest`], or `none`).
struct Booted {
    selftest: String,
    kallsyms: String,
    btf: String,
}

/// Boots `image`, a kernel for `arch`, and returns what its init printed.
fn boot(
    arch: KernelArch,
    image: &Path,
    initramfs: &Path,
    wait_selftest: bool,
    placement: Placement,
) -> Booted {
    let (program, machine, console) = qemu(arch);
    let mut append = format!("console={console} panic=-1 quiet");
    if wait_selftest {
        append.push_str(" kslink_wait_selftest");
    }
    if placement == Placement::Linked {
        append.push_str(" nokaslr");
    }
    let out = Command::new("timeout")
        .arg("300")
        .arg(program)
        .args(machine)
        .args([
            "-nographic",
            "-no-reboot",
            "-net",
            "none",
            "-m",
            "256",
            "-kernel",
        ])
        .arg(image)
        .arg("-initrd")
        .arg(initramfs)
        .arg("-append")
        .arg(append)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("{program}: {e}; install Debian's qemu-system-x86 or qemu-system-arm")
        });
    let console = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    let section = |from: &str, to: &str| -> String {
        let start = console
            .find(from)
            .unwrap_or_else(|| panic!("no {from} on the console:\n{console}"))
            + from.len();
        let end = console[start..].find(to).expect(to) + start;
        console[start..end].trim_start_matches('\n').to_string()
    };
    Booted {
        selftest: section("==SELFTEST==", "==KALLSYMS=="),
        kallsyms: section("==KALLSYMS==", "==BTF=="),
        btf: section("==BTF==", "==END==").trim().to_string(),
    }
}

/// Relinks the fixture of `version` for `arch` with the drop-in, compares, and boots both
/// kernels.
fn dropin_builds_upstreams_kernel_in_one_link(version: KernelVersion, arch: KernelArch) {
    let tree = kernel_tree_for(version, arch);
    let scratch = tempfile::Builder::new()
        .prefix("kslink-dropin-")
        .tempdir()
        .unwrap();
    check_dropin(&tree, scratch.path());
}

/// The drop-in on the fixture's tree reconfigured without `CONFIG_KALLSYMS_ALL`, as
/// `x86_64_defconfig` and most developers' configurations are: a table of text symbols
/// only. The upstream kernel of that configuration is the fixture rebuilt by Kbuild with
/// the kernel's own script ([`KernelTree::text_only`], cached).
fn dropin_builds_a_text_only_kernel_in_one_link(version: KernelVersion, arch: KernelArch) {
    let upstream = kernel_tree_for(version, arch).text_only();
    assert_eq!(upstream.config_value("CONFIG_KALLSYMS_ALL"), None);
    assert_eq!(
        upstream.config_value("CONFIG_KALLSYMS").as_deref(),
        Some("y")
    );
    let scratch = tempfile::Builder::new()
        .prefix("kslink-dropin-text-")
        .tempdir()
        .unwrap();
    check_dropin(&upstream, scratch.path());
}

/// The drop-in on the fixture's tree configured with Debian trixie's pahole (1.30 when
/// written), the one trixie's kernels and trixie-backports' Linux 7.3 are built with: its
/// `PAHOLE_FLAGS` are `--btf_features` ones, with `-j` and `reproducible_build` (and on 6.12
/// `decl_tag_kfuncs`, for which pahole reads `.BTF_ids`). The upstream kernel is the fixture
/// linked again by the kernel's own script with that pahole ([`KernelTree::with_pahole`],
/// cached), whose BTF is not the fixture's.
fn dropin_builds_a_kernel_with_trixies_pahole_in_one_link(version: KernelVersion) {
    let tree = kernel_tree_for(version, KernelArch::X86_64);
    let pahole = trixie_pahole();
    let upstream = tree.with_pahole(&pahole);
    assert!(
        section_bytes(&upstream.vmlinux(), ".BTF").is_some()
            && section_bytes(&upstream.vmlinux(), ".BTF") != section_bytes(&tree.vmlinux(), ".BTF"),
        "pahole {} made the BTF that bookworm's made",
        pahole.debian_version
    );
    let scratch = tempfile::Builder::new()
        .prefix("kslink-dropin-trixie-pahole-")
        .tempdir()
        .unwrap();
    check_dropin(&upstream, scratch.path());
}

/// Relinks a copy of `tree` (upstream's) through the drop-in in `scratch` and checks that
/// it is upstream's kernel, linked once.
fn check_dropin(tree: &KernelTree, scratch: &Path) {
    let (version, arch) = (tree.version, tree.arch);
    let (copy, output, links) = relink_with_dropin(tree, scratch);

    assert_eq!(links.len(), 1, "vmlinux links: {links:#?}");
    assert!(links[0].contains("-o .tmp_kslink/linked"), "{links:?}");
    let upstream_links = tree.link_log().links().len();
    assert!(
        upstream_links >= 3,
        "upstream linked {upstream_links} times"
    );
    assert!(output.contains("  LD      vmlinux"), "{output}");

    assert_eq!(
        fs::read(copy.system_map()).unwrap(),
        fs::read(tree.system_map()).unwrap(),
        "System.map"
    );
    let arrays = kallsyms_arrays(&copy.vmlinux());
    assert_eq!(arrays, kallsyms_arrays(&tree.vmlinux()));

    // An external reader, which finds the table by its shape, reads the same symbols.
    let found = kallsyms_finder_symbols(&copy.vmlinux());
    assert_eq!(
        found,
        kallsyms_finder_symbols(&tree.vmlinux()),
        "kallsyms-finder"
    );
    let num_syms = u32::from_le_bytes(arrays["kallsyms_num_syms"][..4].try_into().unwrap());
    assert_eq!(
        found.lines().count(),
        num_syms as usize,
        "kallsyms-finder's symbols"
    );
    let ours = loaded_image(&copy.vmlinux(), arch, scratch, "dropin");
    let theirs = loaded_image(&tree.vmlinux(), arch, scratch, "upstream");
    assert!(
        ours == theirs,
        "the loaded images differ beyond the build-id"
    );
    // The prediction was exact: the table's frame has no room to spare.
    let report: PatchReport = artifact::read(&copy.dir.join(".tmp_kslink/patch.report"))
        .expect("the patch step's report");
    assert_eq!(report.pad_waste, 0, "{report:?}");

    // BTF: made from the link's inputs, upstream's bytes, and checked against the link.
    let btf = copy.config_value("CONFIG_DEBUG_INFO_BTF").as_deref() == Some("y");
    let upstream_btf = section_bytes(&tree.vmlinux(), ".BTF");
    assert_eq!(upstream_btf.is_some(), btf, "upstream's .BTF");
    for name in [".BTF", ".BTF_ids"] {
        let ours = section_bytes(&copy.vmlinux(), name);
        assert!(
            ours == section_bytes(&tree.vmlinux(), name),
            "{name} differs"
        );
    }
    if btf {
        assert!(
            output.contains("  VIEW    .tmp_kslink/btf-view\n")
                && !output.contains("  LD      .tmp_kslink/btf-view"),
            "the BTF input view, written without a relocatable link: {output}"
        );
        assert!(!output.contains("kslink: "), "a fallback: {output}");
        let fit: BtfFit =
            artifact::read(&copy.dir.join(".tmp_kslink/btf.fit")).expect("the BTF check's report");
        assert!(fit.functions > 1000, "{fit:?}");
        assert!(
            fit.sections
                .iter()
                .any(|s| s.name == ".data..percpu" && s.variables > 50),
            "{fit:?}"
        );
    }

    let initramfs = initramfs(arch, scratch);
    let has_selftest = version != KernelVersion::V6_1;
    let ours = boot(
        arch,
        &copy.boot_image(),
        &initramfs,
        has_selftest,
        Placement::Linked,
    );
    let upstream = boot(
        arch,
        &tree.boot_image(),
        &initramfs,
        false,
        Placement::Linked,
    );
    let (selftest, kallsyms) = (ours.selftest, ours.kallsyms);
    assert_eq!(kallsyms, upstream.kallsyms, "/proc/kallsyms");
    assert_eq!(ours.btf, upstream.btf, "/sys/kernel/btf/vmlinux");
    let expected_btf = upstream_btf.map_or("none".to_string(), |bytes| btf_digest(&bytes));
    assert_eq!(
        ours.btf, expected_btf,
        "/sys/kernel/btf/vmlinux against upstream's .BTF"
    );
    assert!(
        kallsyms.lines().count() > 10_000,
        "{} lines",
        kallsyms.lines().count()
    );
    if has_selftest {
        assert!(selftest.contains("kallsyms_selftest: finish"), "{selftest}");
        assert!(!selftest.contains("failed"), "{selftest}");
    }
    if copy.config_value("CONFIG_RANDOMIZE_BASE").as_deref() == Some("y") {
        let Booted {
            selftest,
            kallsyms: randomized,
            ..
        } = boot(
            arch,
            &copy.boot_image(),
            &initramfs,
            true,
            Placement::Randomized,
        );
        assert!(selftest.contains("kallsyms_selftest: finish"), "{selftest}");
        assert!(!selftest.contains("failed"), "{selftest}");
        assert_same_but_moved(&kallsyms, &randomized);
    }
}

/// `moved` lists the symbols of `linked` (both /proc/kallsyms), each of the kernel's own
/// (not per-cpu, not absolute) at one and the same distance from its linked address.
fn assert_same_but_moved(linked: &str, moved: &str) {
    let entries = |text: &str| -> Vec<(u64, String)> {
        text.lines()
            .map(|line| {
                let (address, rest) = line.split_once(' ').expect("ADDRESS TYPE NAME");
                (
                    u64::from_str_radix(address, 16).expect("a hex address"),
                    rest.to_string(),
                )
            })
            .collect()
    };
    let (linked, moved) = (entries(linked), entries(moved));
    assert_eq!(linked.len(), moved.len(), "/proc/kallsyms lines with KASLR");
    let text = |entries: &[(u64, String)]| {
        entries
            .iter()
            .find(|(_, rest)| rest == "T _stext")
            .expect("_stext")
            .0
    };
    let shift = text(&moved).wrapping_sub(text(&linked));
    eprintln!("KASLR moved the kernel by {:#x}", shift as i64);
    for ((at, what), (moved_at, moved_what)) in linked.iter().zip(&moved) {
        assert_eq!(what, moved_what, "/proc/kallsyms with KASLR, in order");
        if *at >= 0xffff_ffff_8000_0000 {
            assert_eq!(moved_at.wrapping_sub(*at), shift, "{what} with KASLR");
        }
    }
}

/// A tree whose own `scripts/kallsyms` makes a table no profile reproduces (here: 7.3's,
/// but with every array aligned to 8 bytes) is refused before anything is linked, in one
/// line, and the copy's vmlinux (upstream's) is left as it was.
#[test]
fn dropin_refuses_a_tree_whose_generator_no_profile_reproduces() {
    let tree = kernel_tree_for(KernelVersion::V7_3, KernelArch::X86_64);
    let scratch = tempfile::Builder::new()
        .prefix("kslink-dropin-")
        .tempdir()
        .unwrap();
    let (copy, output, links) = make_with_dropin(&tree, scratch.path(), |copy| {
        // Newer than its sources and with the same recorded command, so Kbuild keeps it.
        let tool = copy.dir.join("scripts/kallsyms");
        let real = copy.dir.join("scripts/kallsyms.real");
        fs::rename(&tool, &real).unwrap();
        write_executable(
            &tool,
            format!(
                "#!/bin/sh\n'{}' \"$@\" | sed 's/^\\t\\.balign 4$/\\t.balign 8/'\n",
                real.display()
            ),
        );
    });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "make succeeded:\n{stderr}");
    let refusal: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("kslink:"))
        .collect();
    assert_eq!(refusal.len(), 1, "{stderr}");
    assert!(
        refusal[0].contains("no kslink profile") && refusal[0].contains("scripts/kallsyms"),
        "{stderr}"
    );
    assert!(links.is_empty(), "linked anyway: {links:?}");
    assert!(
        fs::read(copy.linked()).unwrap() == fs::read(tree.linked()).unwrap(),
        "{} was rewritten",
        copy.linked().display()
    );
}

#[test]
fn dropin_7_3_arm64() {
    dropin_builds_upstreams_kernel_in_one_link(KernelVersion::V7_3, KernelArch::Arm64);
}

#[test]
fn dropin_7_3_i386() {
    dropin_builds_upstreams_kernel_in_one_link(KernelVersion::V7_3, KernelArch::I386);
}

#[test]
fn dropin_7_3() {
    dropin_builds_upstreams_kernel_in_one_link(KernelVersion::V7_3, KernelArch::X86_64);
}

#[test]
fn dropin_6_12() {
    dropin_builds_upstreams_kernel_in_one_link(KernelVersion::V6_12, KernelArch::X86_64);
}

#[test]
fn dropin_6_1() {
    dropin_builds_upstreams_kernel_in_one_link(KernelVersion::V6_1, KernelArch::X86_64);
}

#[test]
fn dropin_7_3_trixie_pahole() {
    dropin_builds_a_kernel_with_trixies_pahole_in_one_link(KernelVersion::V7_3);
}

#[test]
fn dropin_6_12_trixie_pahole() {
    dropin_builds_a_kernel_with_trixies_pahole_in_one_link(KernelVersion::V6_12);
}

#[test]
fn dropin_6_12_text_only() {
    dropin_builds_a_text_only_kernel_in_one_link(KernelVersion::V6_12, KernelArch::X86_64);
}

#[test]
fn dropin_6_1_text_only() {
    dropin_builds_a_text_only_kernel_in_one_link(KernelVersion::V6_1, KernelArch::X86_64);
}

#[test]
fn dropin_7_3_text_only() {
    dropin_builds_a_text_only_kernel_in_one_link(KernelVersion::V7_3, KernelArch::X86_64);
}

#[test]
fn dropin_6_12_arm64_text_only() {
    dropin_builds_a_text_only_kernel_in_one_link(KernelVersion::V6_12, KernelArch::Arm64);
}

#[test]
fn dropin_6_12_arm64() {
    dropin_builds_upstreams_kernel_in_one_link(KernelVersion::V6_12, KernelArch::Arm64);
}

/// A relocatable x86_64 kernel (7.3, with KASLR) through the drop-in as a developer builds
/// it: built; `rm vmlinux` and built again, which links nothing (the work directory's link is
/// installed again: Kbuild's post-link strip, which rewrote the installed copy in place, did
/// not touch it); then a source change, rebuilt incrementally: one link, and upstream's kernel
/// after the same change, the kernel's own script's.
#[test]
fn dropin_7_3_rebuilds_like_upstream() {
    let tree = kernel_tree_for(KernelVersion::V7_3, KernelArch::X86_64);
    let arch = tree.arch;
    assert_eq!(
        tree.config_value("CONFIG_RELOCATABLE").as_deref(),
        Some("y")
    );
    let scratch = tempfile::Builder::new()
        .prefix("kslink-rebuild-")
        .tempdir()
        .unwrap();
    // One more function: every later name and address moves.
    let change = |tree: &KernelTree| {
        let file = tree.dir.join("kernel/panic.c");
        let mut text = fs::read_to_string(&file).unwrap();
        text.push_str(
            "\nint kslink_incremental_probe(int x);\n\
             noinline int kslink_incremental_probe(int x)\n{\n\treturn x * 3 + 1;\n}\n",
        );
        fs::write(&file, text).unwrap();
    };
    let upstream = tree.copy_to(&scratch.path().join("upstream"));
    change(&upstream);
    run_checked(
        upstream.make().args(["vmlinux", arch.boot_target()]),
        "make with the kernel's own script after the change",
    );
    let upstream_map = fs::read_to_string(upstream.system_map()).unwrap();
    assert!(upstream_map.contains(" T kslink_incremental_probe\n"));

    let dropin = scratch.path().join("dropin");
    fs::create_dir(&dropin).unwrap();
    let (copy, output, links) = make_with_dropin(&tree, &dropin, |_| {});
    let made = |output: &std::process::Output, what: &str| {
        assert!(
            output.status.success(),
            "{what} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    made(&output, "the first build with the drop-in");
    assert_eq!(links.len(), 1, "{links:#?}");
    assert_eq!(
        fs::read(copy.system_map()).unwrap(),
        fs::read(tree.system_map()).unwrap(),
        "System.map of the first build"
    );
    let built = fs::read(copy.vmlinux()).unwrap();

    fs::remove_file(copy.vmlinux()).unwrap();
    let (output, links) = make_again(&copy, &dropin);
    made(&output, "make after rm vmlinux");
    assert!(links.is_empty(), "{links:#?}");
    assert!(
        fs::read(copy.vmlinux()).unwrap() == built,
        "vmlinux after rm vmlinux; make differs from the first build's"
    );

    change(&copy);
    let (output, links) = make_again(&copy, &dropin);
    made(&output, "the incremental build after the change");
    assert_eq!(links.len(), 1, "{links:#?}");
    assert_eq!(
        fs::read_to_string(copy.system_map()).unwrap(),
        upstream_map,
        "System.map after the change"
    );
    assert_eq!(
        kallsyms_arrays(&copy.vmlinux()),
        kallsyms_arrays(&upstream.vmlinux())
    );
    let ours = loaded_image(&copy.vmlinux(), arch, &dropin, "dropin");
    let theirs = loaded_image(&upstream.vmlinux(), arch, &dropin, "upstream");
    assert!(
        ours == theirs,
        "the loaded images after the change differ beyond the build-id"
    );
    let report: PatchReport = artifact::read(&copy.dir.join(".tmp_kslink/patch.report"))
        .expect("the patch step's report");
    assert_eq!(report.pad_waste, 0, "{report:?}");
}

/// A scratch directory (named from `prefix`) whose `bin`, first on PATH for
/// [`make_with_dropin`], holds one executable, `name`, with the text `script`.
fn scratch_with_wrapper(prefix: &str, name: &str, script: &str) -> tempfile::TempDir {
    let scratch = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    let wrappers = scratch.path().join("bin");
    fs::create_dir(&wrappers).unwrap();
    write_executable(&wrappers.join(name), script);
    scratch
}

/// make's standard output, once it says make succeeded.
fn succeeded(output: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The relinked `copy` has the fixture's (upstream's) `.BTF`, `.BTF_ids` and System.map.
fn assert_upstreams_btf_and_map(copy: &KernelTree, tree: &KernelTree) {
    for name in [".BTF", ".BTF_ids"] {
        assert!(
            section_bytes(&copy.vmlinux(), name) == section_bytes(&tree.vmlinux(), name),
            "{name} differs"
        );
    }
    assert_eq!(
        fs::read(copy.system_map()).unwrap(),
        fs::read(tree.system_map()).unwrap(),
        "System.map"
    );
}

/// A BTF input view that disagrees with the link is caught and the kernel linked the
/// kernel's own way. The view's stage is swapped for one that leaves the page-aligned
/// per-cpu input sections out of the view script's per-cpu statement (a `kslink` first on
/// PATH that edits what `kslink btf view-script` wrote), so that pahole's per-cpu variables
/// are not where the link puts them. kslink link's btf step says so in one line and installs nothing, and the drop-in
/// links `.tmp_vmlinux1` for pahole and then vmlinux again: upstream's BTF, and upstream's
/// kernel.
#[test]
fn dropin_7_3_links_the_kernels_way_when_the_btf_does_not_fit() {
    let tree = kernel_tree_for(KernelVersion::V7_3, KernelArch::X86_64);
    assert_eq!(
        tree.config_value("CONFIG_DEBUG_INFO_BTF").as_deref(),
        Some("y")
    );
    let scratch = scratch_with_wrapper(
        "kslink-dropin-misfit-",
        "kslink",
        &format!(
            "#!/bin/sh\n\
             if [ \"$1 $2\" = \"btf view-script\" ]; then\n\
             \t'{real}' \"$@\" || exit\n\
             \tshift 5\n\
             \tsed -i 's/\\*(\\.data\\.\\.percpu\\.\\.page_aligned)//' \"$1\"\n\
             \texit\n\
             fi\n\
             exec '{real}' \"$@\"\n",
            real = bin_path("kslink").display()
        ),
    );
    let (copy, output, links) = make_with_dropin(&tree, scratch.path(), |_| {});
    let stdout = succeeded(&output);
    let view = fs::read_to_string(copy.dir.join(".tmp_kslink/btf-view.lds")).unwrap();
    assert!(
        view.contains(".data..percpu ") && !view.contains("page_aligned"),
        "{view}"
    );
    // kslink link's btf step says what does not fit, and installs nothing; the drop-in says
    // what it does then.
    let stderr = String::from_utf8_lossy(&output.stderr);
    let misfit: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("the BTF does not fit"))
        .collect();
    assert_eq!(misfit.len(), 1, "{stderr}");
    assert!(
        misfit[0].starts_with("kslink: vmlinux") && misfit[0].contains(".data..percpu"),
        "{}",
        misfit[0]
    );
    let fallback: Vec<&str> = stdout
        .lines()
        .filter(|l| l.ends_with("linking the kernel's own way"))
        .collect();
    assert_eq!(fallback.len(), 1, "{stdout}");
    assert!(fallback[0].contains("does not fit"), "{}", fallback[0]);
    assert_eq!(links.len(), 3, "vmlinux links: {links:#?}");
    assert!(links[1].contains("-o .tmp_vmlinux1"), "{links:#?}");
    assert_upstreams_btf_and_map(&copy, &tree);
    assert!(
        loaded_image(&copy.vmlinux(), copy.arch, scratch.path(), "dropin")
            == loaded_image(&tree.vmlinux(), tree.arch, scratch.path(), "upstream"),
        "the loaded images differ beyond the build-id"
    );
}

/// A tree configured with a pahole that no test has compared the BTF input view's BTF for is
/// linked the kernel's own way, with one line saying why: the btf step's check would confirm
/// only where the variables are, not that this pahole reads the view as it reads a linked
/// file. A `pahole` first on PATH says it is 1.23 (whose `PAHOLE_FLAGS` are 1.24's on this
/// tree) and runs 1.24; Kbuild configures the copy again for it, as it does when pahole
/// changes. One link of `.tmp_vmlinux1` for pahole, then vmlinux: upstream's BTF and map.
#[test]
fn dropin_7_3_links_the_kernels_way_with_an_unproven_pahole() {
    let tree = kernel_tree_for(KernelVersion::V7_3, KernelArch::X86_64);
    assert_eq!(
        tree.config_value("CONFIG_PAHOLE_VERSION").as_deref(),
        Some("124")
    );
    let scratch = scratch_with_wrapper(
        "kslink-dropin-pahole-",
        "pahole",
        "#!/bin/sh\n\
         if [ \"$1\" = --version ]; then echo v1.23; exit; fi\n\
         exec /usr/bin/pahole \"$@\"\n",
    );
    let (copy, output, links) = make_with_dropin(&tree, scratch.path(), |_| {});
    let stdout = succeeded(&output);
    assert_eq!(
        copy.config_value("CONFIG_PAHOLE_VERSION").as_deref(),
        Some("123")
    );
    let notes: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("kslink: CONFIG_DEBUG_INFO_BTF"))
        .collect();
    assert_eq!(notes.len(), 1, "{stdout}");
    assert!(
        notes[0].contains("proven with pahole 124")
            && notes[0].contains("this tree has 123")
            && notes[0].ends_with("links the kernel's own way, twice"),
        "{}",
        notes[0]
    );
    assert!(!copy.dir.join(".tmp_kslink/btf-view").exists());
    assert_eq!(links.len(), 2, "vmlinux links: {links:#?}");
    assert!(links[0].contains("-o .tmp_vmlinux1"), "{links:#?}");
    assert_upstreams_btf_and_map(&copy, &tree);
}
