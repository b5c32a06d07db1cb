//! Small real Linux kernels, built from Debian's `linux-source-*` and cached, for the tests
//! that check a linked kernel's symbols, predict them from `vmlinux.o` and the linker script,
//! relink and boot.
//!
//! [`kernel_tree`] returns a finished Kbuild tree of an x86_64 Linux 6.12 or 6.1,
//! [`kernel_tree_for`] one of any [`KernelArch`] (arm64, cross-built with Debian's
//! `gcc-aarch64-linux-gnu`), building it on first use (a few minutes on two cores; see
//! [`KernelTree`] for what it holds).
//!
//! # Recipe
//!
//! The whole `linux-source-<ver>` tarball is extracted, then, with a cleared environment
//! (`PATH`, `TMPDIR`, `LC_ALL=C`, the fixed [`BUILD_ENV`] that makes the build reproducible,
//! and for a cross build `ARCH` and `CROSS_COMPILE`, [`KernelArch::make_env`]):
//!
//! ```text
//! make tinyconfig
//! scripts/config -e 64BIT -e PRINTK -e TTY … (KernelArch::config_options)
//! make olddefconfig
//! make -j$(nproc) vmlinux bzImage (arm64: vmlinux Image)
//! ```
//!
//! The resulting `.config` must enable every option of [`required_config`] (6.1 has no
//! `KALLSYMS_SELFTEST`: `scripts/config` adds the line and `olddefconfig` drops it). The
//! arm64 kernel is relocatable (`CONFIG_RELOCATABLE`, which tinyconfig turns off and every
//! distribution turns on): Kbuild links it with `-shared -Bsymbolic -z notext
//! --no-apply-dynamic-relocs`.
//!
//! # Cache layout
//!
//! ```text
//! <cache>/lock-kernel-<ver>        flock(2) lock file serialising the build of <ver>
//! <cache>/kernel-<ver>.tmp/        the build in progress (removed when done or restarted)
//! <cache>/kernel-<ver>/            the finished tree (renamed into place); an arm64 tree
//!                                  is kernel-<ver>-arm64 (and its lock and logs likewise)
//! <cache>/kernel-<ver>/.kslink/    what the fixture recorded:
//!     complete                     the marker, written last (see below)
//!     build.log                    configuration and build output
//!     pruned                       what pruning kept and deleted
//!     settle.log                   output of the relink pass (`make V=1`, see below)
//!     link/recipe, link/env, link/trace, link/tree   the final link phase (see [`LinkLog`])
//!     make-shell                   the `SHELL` wrapper that recorded it
//!     objtree                      the absolute path the build records that have one
//!                                  (objtool's, arm64's vDSO's) refer to
//! <cache>/kernel-<ver>.failed.log  the log of the last failed build, if any
//! ```
//!
//! The tree is built in `kernel-<ver>.tmp/`, pruned (below), and renamed to `kernel-<ver>/`;
//! the absolute paths in the few build records that have them (objtool's on x86, the vDSO's
//! on arm64; Kbuild's others are relative) are rewritten to the new place, or `make` there
//! would rebuild objtool and then every object, or the vDSO and then vmlinux. Then a relink
//! pass, `make V=1 vmlinux bzImage` (arm64: `Image`) after deleting `vmlinux`, relinks the
//! kernel while a `SHELL` wrapper records how Kbuild invoked `scripts/link-vmlinux.sh` and the
//! script's own `set -x` trace (V=1 turns it on). The pass also checks that the pruned tree
//! still builds and that the relinked `vmlinux` is byte-identical to the first one (the build
//! is reproducible; it is also the same in any directory). Only then is the marker
//! `complete` written: it records the fixture's recipe, the Debian version of the package
//! and the SHA-256 of `.config` and `vmlinux`. A tree without a marker, or whose marker
//! names another recipe, is deleted and rebuilt. Nothing asks apt whether a newer package
//! exists: delete the tree to rebuild it from the current one.
//!
//! # Pruning
//!
//! The extracted source is 1.5 GB, the build output about 0.1 GB. Kept: every build output;
//! every source file that a Kbuild `.cmd` or `.d` file names as a source or dependency; every
//! file in a directory where something was built (other than an empty `built-in.a`);
//! `Makefile*`, `Kbuild*` and `Kconfig*` everywhere; the top-level files; and the whole of
//! `scripts/`, `include/`, `usr/`, `certs/`, the architecture's `arch/` directory and, on
//! x86, the parts of `tools/` that objtool builds from. That is about 0.25 GB, and Kbuild
//! runs in it as in the full tree (`make vmlinux bzImage`, `make olddefconfig`,
//! `scripts/link-vmlinux.sh`).
//!
//! # Sharing
//!
//! The tree is shared by every test (and every later run): treat it as read-only. To relink
//! or rebuild, work on a copy ([`KernelTree::copy_to`], which also moves objtool's records;
//! [`KernelTree::make`] runs Kbuild there), or run single commands that read the tree and
//! write elsewhere (for example the final `ld` of [`LinkLog::final_link`] with another
//! `-o`).

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cache_dir;
use crate::debian::{self, RemoveDirOnDrop};
use crate::lock::FileLock;
use crate::pahole::DebianPahole;
use crate::upstream::{run_with_stdin, set_executable, unique_suffix, KernelVersion};
use kslink_driver::linker::LinkerCommand;
use kslink_schema::LinkKind;

/// The architecture a test kernel is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelArch {
    /// x86_64, with the host's compiler.
    X86_64,
    /// arm64, cross-built with Debian's `gcc-aarch64-linux-gnu`, relocatable.
    Arm64,
    /// 32-bit x86 (`ARCH=i386`), with the host's compiler: not relocatable, so 7.x's table
    /// holds addresses (no `--pc-relative`).
    I386,
}

impl KernelArch {
    /// Its name in messages, recipes and cache directories.
    pub fn name(self) -> &'static str {
        match self {
            KernelArch::X86_64 => "x86_64",
            KernelArch::Arm64 => "arm64",
            KernelArch::I386 => "i386",
        }
    }

    /// Kbuild's `SRCARCH`: the directory under `arch/`.
    pub fn srcarch(self) -> &'static str {
        match self {
            KernelArch::X86_64 | KernelArch::I386 => "x86",
            KernelArch::Arm64 => "arm64",
        }
    }

    /// The toolchain prefix (Kbuild's `CROSS_COMPILE`): empty for the host's own tools.
    pub fn cross_compile(self) -> &'static str {
        match self {
            KernelArch::X86_64 | KernelArch::I386 => "",
            KernelArch::Arm64 => "aarch64-linux-gnu-",
        }
    }

    /// The environment that selects the architecture for Kbuild (`ARCH`, `CROSS_COMPILE`).
    pub fn make_env(self) -> Vec<(&'static str, &'static str)> {
        match self {
            KernelArch::X86_64 => Vec::new(),
            KernelArch::Arm64 => vec![("ARCH", "arm64"), ("CROSS_COMPILE", self.cross_compile())],
            KernelArch::I386 => vec![("ARCH", "i386")],
        }
    }

    /// The options `scripts/config -e` enables on top of `tinyconfig` for `version`, in
    /// order: kallsyms with every symbol, its self-test, a serial console, /proc and an
    /// initramfs; for Linux 7.3 on x86_64 also a relocatable kernel with KASLR, as every
    /// distribution builds it (so the link keeps `--emit-relocs` records and Kbuild makes
    /// `vmlinux.relocs`); and where [`KernelArch::has_btf`], BTF, as every distribution
    /// builds it too (sysfs to show it, SMP for a per-cpu section, debug information for
    /// pahole, the BPF system call BTF depends on; [`KernelArch::config_disabled`] turns off
    /// the choice of no debug information).
    pub fn config_options(self, version: KernelVersion) -> Vec<&'static str> {
        let mut options: Vec<&'static str> = match self {
            KernelArch::X86_64 => std::iter::once("64BIT")
                .chain(X86_CONFIG.iter().copied())
                .collect(),
            // tinyconfig's i386 is 32-bit and not relocatable already.
            KernelArch::I386 => X86_CONFIG.to_vec(),
            // qemu's `virt` machine has a PL011 UART; RELOCATABLE links with -shared.
            KernelArch::Arm64 => ARM64_CONFIG.to_vec(),
        };
        if version == KernelVersion::V7_3 && self == KernelArch::X86_64 {
            options.extend(["RELOCATABLE", "RANDOMIZE_BASE"]);
        }
        if self.has_btf(version) {
            options.extend(BTF_CONFIG);
        }
        options
    }

    /// True for the kernels built with BTF: 7.3 on x86_64 and on arm64, and 6.12 on x86_64,
    /// where SMP gives it a zero-based per-cpu section and CONFIG_KALLSYMS_ABSOLUTE_PERCPU,
    /// as distributions' 6.12 kernels have them.
    fn has_btf(self, version: KernelVersion) -> bool {
        match version {
            KernelVersion::V7_3 => matches!(self, KernelArch::X86_64 | KernelArch::Arm64),
            KernelVersion::V6_12 => self == KernelArch::X86_64,
            KernelVersion::V6_1 => false,
        }
    }

    /// The options `scripts/config -d` turns off after [`KernelArch::config_options`].
    pub fn config_disabled(self, version: KernelVersion) -> Vec<&'static str> {
        if self.has_btf(version) {
            vec!["DEBUG_INFO_NONE"]
        } else {
            Vec::new()
        }
    }

    /// The boot image's make target.
    pub fn boot_target(self) -> &'static str {
        match self {
            KernelArch::X86_64 | KernelArch::I386 => "bzImage",
            KernelArch::Arm64 => "Image",
        }
    }

    /// The flags that make the toolchain's `gcc` build a program for the architecture:
    /// for i386 the host's with `-m32` (Debian's libc6-dev-i386 and lib32gcc-12-dev) and the
    /// host's x86 `asm/` headers, which serve both word sizes (gcc-multilib, which would
    /// provide them, conflicts with the arm64 cross compiler).
    pub fn program_cflags(self) -> &'static [&'static str] {
        match self {
            KernelArch::I386 => &["-m32", "-idirafter", "/usr/include/x86_64-linux-gnu"],
            KernelArch::X86_64 | KernelArch::Arm64 => &[],
        }
    }

    /// The tool `name` (`nm`, `ld`, `objcopy`, …) of the architecture's toolchain.
    pub fn tool(self, name: &str) -> String {
        format!("{}{name}", self.cross_compile())
    }

    /// Source directories kept whole besides [`COMMON_KEEP_DIRS`]: the architecture's own,
    /// what `resolve_btfids` builds from (BTF), and on x86 what objtool builds from.
    fn keep_dirs(self) -> &'static [&'static str] {
        match self {
            KernelArch::X86_64 | KernelArch::I386 => &[
                "arch/x86",
                "tools/objtool",
                "tools/bpf",
                "tools/build",
                "tools/include",
                "tools/lib",
                "tools/scripts",
                "tools/arch/x86",
            ],
            KernelArch::Arm64 => &[
                "arch/arm64",
                "tools/bpf",
                "tools/build",
                "tools/include",
                "tools/lib",
                "tools/scripts",
                "tools/arch/arm64",
            ],
        }
    }

    /// Where Kbuild's build records hold absolute paths: the host tools' builds (objtool on
    /// x86, resolve_btfids with BTF); arm64's vDSO, which includes
    /// `lib/vdso/gettimeofday.c` by its absolute path.
    fn absolute_path_dirs(self) -> &'static [&'static str] {
        match self {
            KernelArch::X86_64 | KernelArch::I386 => &["tools"],
            KernelArch::Arm64 => &["arch/arm64/kernel/vdso", "tools"],
        }
    }

    /// The cache directory's name for `version` (x86_64's has no suffix: the trees cached
    /// before arm64 existed stay valid).
    fn cache_name(self, version: KernelVersion) -> String {
        match self {
            KernelArch::X86_64 => format!("kernel-{version}"),
            _ => format!("kernel-{version}-{}", self.name()),
        }
    }
}

/// x86's options on top of `tinyconfig`, for either word size.
const X86_CONFIG: &[&str] = &[
    "PRINTK",
    "TTY",
    "SERIAL_8250",
    "SERIAL_8250_CONSOLE",
    "KALLSYMS",
    "KALLSYMS_ALL",
    "PROC_FS",
    "DEBUG_KERNEL",
    "KALLSYMS_SELFTEST",
    "BLK_DEV_INITRD",
    "BINFMT_ELF",
    "BINFMT_SCRIPT",
    "DEVTMPFS",
];

/// The options of a kernel with BTF, as distributions build it (`CONFIG_DEBUG_INFO_BTF`,
/// made by Debian's pahole), which it shows in /sys/kernel/btf/vmlinux.
const BTF_CONFIG: &[&str] = &[
    "SYSFS",
    "SMP",
    "DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT",
    "BPF_SYSCALL",
    "DEBUG_INFO_BTF",
];

/// arm64's options on top of `tinyconfig`.
const ARM64_CONFIG: &[&str] = &[
    "PRINTK",
    "TTY",
    "SERIAL_AMBA_PL011",
    "SERIAL_AMBA_PL011_CONSOLE",
    "KALLSYMS",
    "KALLSYMS_ALL",
    "PROC_FS",
    "DEBUG_KERNEL",
    "KALLSYMS_SELFTEST",
    "BLK_DEV_INITRD",
    "BINFMT_ELF",
    "BINFMT_SCRIPT",
    "DEVTMPFS",
    "RELOCATABLE",
];

/// The fixed build identity that makes the build reproducible (`uname -v` and the banner).
pub const BUILD_ENV: &[(&str, &str)] = &[
    ("KBUILD_BUILD_TIMESTAMP", "Thu Jan  1 00:00:00 UTC 2026"),
    ("KBUILD_BUILD_VERSION", "1"),
    ("KBUILD_BUILD_USER", "kslink"),
    ("KBUILD_BUILD_HOST", "kslink"),
];

/// The options the built `.config` of `version` for `arch` must enable (`=y`): all of
/// [`KernelArch::config_options`], less `KALLSYMS_SELFTEST` on 6.1 where it does not exist.
pub fn required_config(version: KernelVersion, arch: KernelArch) -> Vec<&'static str> {
    arch.config_options(version)
        .into_iter()
        .filter(|o| !(version == KernelVersion::V6_1 && *o == "KALLSYMS_SELFTEST"))
        .collect()
}

/// Bumped whenever the recipe, the pruning or the recorded files change, so that trees
/// cached by an older fixture are rebuilt.
const FORMAT: u32 = 2;

/// The fixture's recipe as one line; a cached tree is used only if its marker names the same.
fn recipe(version: KernelVersion, arch: KernelArch) -> String {
    let env: Vec<String> = BUILD_ENV.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let cross = match arch.cross_compile() {
        "" => String::new(),
        prefix => format!(" cross={prefix}"),
    };
    let disable = match arch.config_disabled(version).join(",") {
        none if none.is_empty() => none,
        list => format!(" disable={list}"),
    };
    format!(
        "format={FORMAT} arch={}{cross} tinyconfig enable={}{disable} targets=vmlinux,{} env={}",
        arch.name(),
        arch.config_options(version).join(","),
        arch.boot_target(),
        env.join(",")
    )
}

/// A built kernel tree in the cache (see the module documentation).
///
/// Paths are absolute. Kbuild's own commands refer to files relative to [`KernelTree::dir`],
/// so run them with that as the working directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelTree {
    /// The root of the tree (`<cache>/kernel-<ver>`): Kbuild's `srctree` and `objtree`.
    pub dir: PathBuf,
    /// The kernel version.
    pub version: KernelVersion,
    /// The architecture it is built for.
    pub arch: KernelArch,
    /// The Debian version of the `linux-source-<ver>` package the tree was built from, for
    /// example `6.12.117-1~deb12u1`.
    pub debian_version: String,
    /// The pahole Kbuild configured the tree with, where it is not the one on `PATH`: every
    /// [`KernelTree::make`] passes it (`PAHOLE=`), or Kbuild would configure the tree again
    /// for the other one ([`KernelTree::with_pahole`]).
    pub pahole: Option<PathBuf>,
}

impl KernelTree {
    /// `vmlinux`, the linked kernel (with its kallsyms table; sorted by `scripts/sorttable`
    /// after the link).
    pub fn vmlinux(&self) -> PathBuf {
        self.dir.join("vmlinux")
    }

    /// The file the final link wrote: `vmlinux.unstripped` in 7.x, which Kbuild strips
    /// (`.modinfo`, relocation sections, `__mod_device_table__*`) into `vmlinux`; `vmlinux`
    /// itself before.
    pub fn linked(&self) -> PathBuf {
        match self.version {
            KernelVersion::V7_3 => self.dir.join("vmlinux.unstripped"),
            KernelVersion::V6_12 | KernelVersion::V6_1 => self.vmlinux(),
        }
    }

    /// `System.map`: `nm -n` of the linked file filtered by `scripts/mksysmap`.
    pub fn system_map(&self) -> PathBuf {
        self.dir.join("System.map")
    }

    /// `vmlinux.o`, every built-in object linked into one relocatable object (and checked
    /// by objtool on x86). With `CONFIG_X86_KERNEL_IBT` (set on x86_64) the final link uses
    /// it instead of `vmlinux.a`.
    pub fn vmlinux_o(&self) -> PathBuf {
        self.dir.join("vmlinux.o")
    }

    /// `vmlinux.a`, the thin archive of the built-in objects (members named by path).
    pub fn vmlinux_a(&self) -> PathBuf {
        self.dir.join("vmlinux.a")
    }

    /// `init/version-timestamp.o`, linked beside `vmlinux.o`/`vmlinux.a`.
    pub fn version_timestamp_o(&self) -> PathBuf {
        self.dir.join("init/version-timestamp.o")
    }

    /// `.vmlinux.export.o` if the tree has one (6.x: only with `CONFIG_MODULES`, so not
    /// here; 7.x: always).
    pub fn export_o(&self) -> Option<PathBuf> {
        Some(self.dir.join(".vmlinux.export.o")).filter(|p| p.is_file())
    }

    /// The preprocessed linker script, `arch/<srcarch>/kernel/vmlinux.lds`.
    pub fn linker_script(&self) -> PathBuf {
        self.dir
            .join(format!("arch/{}/kernel/vmlinux.lds", self.arch.srcarch()))
    }

    /// The bootable image, `arch/x86/boot/bzImage` or `arch/arm64/boot/Image`.
    pub fn boot_image(&self) -> PathBuf {
        self.dir.join(format!(
            "arch/{}/boot/{}",
            self.arch.srcarch(),
            self.arch.boot_target()
        ))
    }

    /// The kernel configuration, `.config`.
    pub fn config(&self) -> PathBuf {
        self.dir.join(".config")
    }

    /// The tree's own `scripts/mksysmap` (a sed script in 6.12, a shell script in 6.1).
    pub fn mksysmap_script(&self) -> PathBuf {
        self.dir.join("scripts/mksysmap")
    }

    /// The directory of the fixture's records, `<dir>/.kslink`.
    pub fn records_dir(&self) -> PathBuf {
        self.dir.join(".kslink")
    }

    /// The value of `name` (for example `CONFIG_KALLSYMS_ALL`) in `.config`: `Some("y")`,
    /// `Some("\"string\"")`, …, or `None` if it is not set.
    pub fn config_value(&self, name: &str) -> Option<String> {
        let config = read_string(&self.config());
        let prefix = format!("{name}=");
        config
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map(str::to_string)
    }

    /// The System.map that this tree's `scripts/mksysmap` makes of `elf` (for example a
    /// relinked vmlinux), as Kbuild makes `System.map` of `vmlinux`: `nm -n ELF | sed -f
    /// scripts/mksysmap` in 6.12, `NM=nm sh scripts/mksysmap ELF OUT` in 6.1, with the
    /// architecture's `nm` (`aarch64-linux-gnu-nm` hides AArch64's mapping symbols).
    pub fn mksysmap(&self, elf: &Path) -> Vec<u8> {
        let script = self.mksysmap_script();
        let nm = self.arch.tool("nm");
        match self.version {
            KernelVersion::V6_12 | KernelVersion::V7_3 => {
                let nm = debian::run_checked(
                    Command::new(&nm).arg("-n").arg(elf),
                    "install binutils (`nm`; for arm64 binutils-aarch64-linux-gnu)",
                );
                run_with_stdin(
                    Command::new("sed").arg("-f").arg(&script),
                    &nm,
                    "sed -f scripts/mksysmap",
                )
            }
            KernelVersion::V6_1 => {
                let dir = tempfile::Builder::new()
                    .prefix("kslink-mksysmap-")
                    .tempdir()
                    .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
                let out = dir.path().join("System.map");
                debian::run_checked(
                    Command::new("sh")
                        .arg(&script)
                        .arg(elf)
                        .arg(&out)
                        .env("NM", &nm),
                    "install binutils (`nm`)",
                );
                fs::read(&out).unwrap_or_else(|e| panic!("cannot read {}: {e}", out.display()))
            }
        }
    }

    /// How Kbuild ran the final link phase of this tree (see [`LinkLog`]).
    pub fn link_log(&self) -> LinkLog {
        LinkLog::read(&self.dir)
    }

    /// This tree reconfigured without `CONFIG_KALLSYMS_ALL`, as `x86_64_defconfig` and most
    /// developers' configurations are (a table of text symbols only), and rebuilt by Kbuild
    /// with the kernel's own script: only what the option touches recompiles. It is kept in
    /// the cache beside this tree (`NAME-text-only`, see [`KernelTree::variant`]).
    pub fn text_only(&self) -> KernelTree {
        self.variant("text-only", "", "without CONFIG_KALLSYMS_ALL", |copy| {
            debian::run_checked(
                kbuild_command("bash", &copy.dir, copy.arch).args([
                    "scripts/config",
                    "--file",
                    ".config",
                    "-d",
                    "KALLSYMS_ALL",
                ]),
                "scripts/config -d KALLSYMS_ALL",
            );
            debian::run_checked(copy.make().arg("olddefconfig"), "make olddefconfig");
            debian::run_checked(
                copy.make().args(["vmlinux", copy.arch.boot_target()]),
                "make vmlinux with the kernel's own link-vmlinux.sh",
            );
        })
    }

    /// This tree configured with `pahole` (Kbuild's `PAHOLE`, which sets
    /// `CONFIG_PAHOLE_VERSION` and so `PAHOLE_FLAGS`) and linked again by the kernel's own
    /// script: its BTF is that pahole's. Nothing recompiles on x86 with GCC, where no code
    /// depends on the version; the link is not redone by Kbuild on its own (the flags are no
    /// prerequisite of vmlinux), so the linked files are deleted first. It is kept in the
    /// cache beside this tree (`NAME-pahole-VERSION`, see [`KernelTree::variant`]). Its
    /// [`KernelTree::link_log`] is still this tree's, made with the pahole on `PATH`.
    ///
    /// # Panics
    ///
    /// If the rebuilt tree is not configured with `pahole`'s version.
    pub fn with_pahole(&self, pahole: &DebianPahole) -> KernelTree {
        let suffix = format!("pahole-{}", pahole.kconfig_version);
        let key = format!("pahole {}\n", pahole.debian_version);
        let what = format!("with pahole {}", pahole.debian_version);
        let mut tree = self.variant(&suffix, &key, &what, |copy| {
            let mut copy = copy.clone();
            copy.pahole = Some(pahole.program.clone());
            debian::run_checked(copy.make().arg("olddefconfig"), "make olddefconfig");
            // 7.x links vmlinux.unstripped and strips it into vmlinux; before, one file.
            let mut linked = vec![copy.linked(), copy.vmlinux()];
            linked.dedup();
            for linked in linked {
                fs::remove_file(&linked)
                    .unwrap_or_else(|e| panic!("cannot remove {}: {e}", linked.display()));
            }
            debian::run_checked(
                copy.make().args(["vmlinux", copy.arch.boot_target()]),
                "make vmlinux with the kernel's own link-vmlinux.sh",
            );
        });
        tree.pahole = Some(pahole.program.clone());
        let configured = tree.config_value("CONFIG_PAHOLE_VERSION");
        assert_eq!(
            configured.as_deref(),
            Some(pahole.kconfig_version.as_str()),
            "{} is not configured with {}",
            tree.dir.display(),
            pahole.program.display()
        );
        tree
    }

    /// A variant of this tree kept in the cache beside it (`NAME-SUFFIX`): made once, from a
    /// copy that `build` changes and rebuilds, and marked (`.kslink/SUFFIX`) with this tree's
    /// marker and `key`, so that a rebuilt tree or another `key` makes it again. `what` says
    /// what the variant is, in the note that it was built.
    fn variant(
        &self,
        suffix: &str,
        key: &str,
        what: &str,
        build: impl FnOnce(&KernelTree),
    ) -> KernelTree {
        let name = self
            .dir
            .file_name()
            .expect("a cached tree has a name")
            .to_string_lossy()
            .into_owned();
        let cache = self.dir.parent().expect("a cached tree has a cache");
        let dir = cache.join(format!("{name}-{suffix}"));
        let source = read_string(&self.dir.join(".kslink/complete")) + key;
        let marker = dir.join(".kslink").join(suffix);
        let tree = KernelTree {
            dir: dir.clone(),
            ..self.clone()
        };
        let finished = || fs::read_to_string(&marker).is_ok_and(|m| m == source);
        if finished() {
            return tree;
        }
        let _lock = FileLock::acquire(&cache.join(format!("lock-{name}-{suffix}")));
        if finished() {
            return tree;
        }
        if dir.exists() {
            fs::remove_dir_all(&dir)
                .unwrap_or_else(|e| panic!("cannot remove stale {}: {e}", dir.display()));
        }
        let started = Instant::now();
        let copy = self.copy_to(&dir);
        build(&copy);
        fs::write(&marker, &source)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", marker.display()));
        eprintln!(
            "kslink-tests: rebuilt {name} {what} in {:.0} s: {}",
            started.elapsed().as_secs_f64(),
            copy.dir.display()
        );
        copy
    }

    /// Copies the tree to `dest` (which must not exist) with `cp -a`, for a test that relinks
    /// or rebuilds: the cached tree itself must stay as it is. About 0.25 GB (0.85 GB with debug information), a few seconds.
    ///
    /// Some build records hold absolute paths (objtool's; arm64's vDSO objects include a
    /// source by its absolute path); the copy's records are rewritten to its own path, so
    /// that `make` in the copy does not rebuild them and, with them, every object (x86 6.1)
    /// or `vmlinux.o` (x86 6.12, arm64).
    pub fn copy_to(&self, dest: &Path) -> KernelTree {
        if dest.exists() {
            panic!("copy_to: {} already exists", dest.display());
        }
        debian::run_checked(
            Command::new("cp")
                .arg("-a")
                .arg("--reflink=auto")
                .arg(&self.dir)
                .arg(dest),
            "install coreutils (`cp`)",
        );
        let dir = dest
            .canonicalize()
            .unwrap_or_else(|e| panic!("cannot resolve {}: {e}", dest.display()));
        relocate(&dir, self.arch);
        KernelTree {
            dir,
            version: self.version,
            arch: self.arch,
            debian_version: self.debian_version.clone(),
            pahole: self.pahole.clone(),
        }
    }

    /// `make -j$(nproc)` in the tree, with the environment the fixture built it with (a
    /// cleared environment plus `PATH`, `TMPDIR`, `LC_ALL=C`, [`BUILD_ENV`] and the
    /// architecture's [`KernelArch::make_env`]). Use it on a copy ([`KernelTree::copy_to`]),
    /// for example `copy.make().arg("bzImage")` after a relink.
    pub fn make(&self) -> Command {
        let mut cmd = kbuild_command("make", &self.dir, self.arch);
        cmd.arg(format!("-j{}", jobs()));
        if let Some(pahole) = &self.pahole {
            cmd.arg(format!("PAHOLE={}", pahole.display()));
        }
        cmd
    }
}

/// The final link phase of a kernel tree as Kbuild ran it: how `scripts/link-vmlinux.sh` was
/// invoked (its arguments and environment) and what it ran (its `set -x` trace), recorded
/// with `make V=1` (see the module documentation).
///
/// [`LinkLog::link_vmlinux_command`] re-runs the script exactly; [`LinkLog::final_link`] is
/// the `ld` command that wrote `vmlinux`. After that link the script runs `scripts/sorttable`
/// on `vmlinux` in place (`CONFIG_BUILDTIME_TABLE_SORT`), so `ld`'s output alone differs from
/// `vmlinux` in the sorted tables (`__ex_table`, `.orc_unwind*` where present); the
/// [`LinkLog::trace`] shows the exact commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkLog {
    /// The directory of the recorded files (`<tree>/.kslink/link`).
    pub dir: PathBuf,
    /// The absolute path of the tree when the link was recorded (the cache's tree): some
    /// recorded variables (`abs_objtree`, `abs_srctree` in 6.1) name it.
    pub recorded_tree: PathBuf,
    /// Kbuild's command for the `vmlinux` target, as saved in `.vmlinux.cmd`, for example
    /// `scripts/link-vmlinux.sh "ld" "-m elf_x86_64 …" "-z max-page-size=0x200000 …";  make
    /// -f ./arch/x86/Makefile.postlink vmlinux`.
    pub command: String,
    /// The arguments of `scripts/link-vmlinux.sh`: `$(LD)`, `$(KBUILD_LDFLAGS)`,
    /// `$(LDFLAGS_vmlinux)`.
    pub args: Vec<String>,
    /// The environment the script ran with: the variables Kbuild exports (`LD`, `NM`, `CC`,
    /// `KBUILD_VMLINUX_LIBS`, `KBUILD_LDS`, `LDFLAGS_vmlinux`, `LINUXINCLUDE`,
    /// `KBUILD_AFLAGS`, `srctree`, `objtree`, `CONFIG_SHELL`, `MAKE`, `KBUILD_VERBOSE`, …)
    /// plus `PATH`, `LC_ALL` and [`BUILD_ENV`]; without make's own bookkeeping (`MAKELEVEL`,
    /// the jobserver and `-j` in `MAKEFLAGS`, the recording `SHELL=` override, `PWD`).
    pub env: BTreeMap<String, String>,
    /// The script's `set -x` trace (its standard error), one command or assignment per
    /// line, each prefixed with `+ `. Words are not quoted (Debian's `/bin/sh` is dash).
    pub trace: String,
}

impl LinkLog {
    fn read(tree: &Path) -> LinkLog {
        let dir = tree.join(".kslink/link");
        // 7.x's Kbuild links vmlinux.unstripped and strips it into vmlinux.
        let unstripped = tree.join(".vmlinux.unstripped.cmd");
        let command = saved_command(&if unstripped.is_file() {
            unstripped
        } else {
            tree.join(".vmlinux.cmd")
        });
        let args = link_script_args(&command).unwrap_or_else(|| {
            panic!("cannot find the arguments of scripts/link-vmlinux.sh in {command:?}")
        });
        let env_raw = fs::read(dir.join("env"))
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.join("env").display()));
        let env = sanitize_env(&env_raw);
        let trace = read_string(&dir.join("trace"));
        let recorded_tree = PathBuf::from(read_string(&dir.join("tree")).trim());
        LinkLog {
            dir,
            recorded_tree,
            command,
            args,
            env,
            trace,
        }
    }

    /// `$(LD)` as Kbuild passed it (`ld`).
    pub fn ld(&self) -> &str {
        &self.args[0]
    }

    /// The file the script links: its 4th argument where Kbuild passes one (7.x:
    /// `vmlinux.unstripped`, which `scripts/Makefile.vmlinux` then strips into `vmlinux`),
    /// else `vmlinux`.
    pub fn link_output(&self) -> &str {
        self.args.get(3).map_or("vmlinux", String::as_str)
    }

    /// Every `ld` command of the trace, in order (`.tmp_vmlinux1`, `.tmp_vmlinux2`, maybe a
    /// third, and `vmlinux`; 6.1 names the temporaries `.tmp_vmlinux.kallsyms<N>`), each
    /// split into words.
    pub fn links(&self) -> Vec<Vec<String>> {
        self.traced_commands(self.ld())
            .into_iter()
            .filter(|words| words.iter().any(|w| w == "-o"))
            .collect()
    }

    /// The `ld` command that wrote `vmlinux`, split into words, relative to the tree:
    /// `ld -m elf_x86_64 … --script=./arch/x86/kernel/vmlinux.lds -o vmlinux --whole-archive
    /// vmlinux.o init/version-timestamp.o --no-whole-archive --start-group --end-group
    /// .tmp_vmlinux2.kallsyms.o`.
    pub fn final_link(&self) -> Vec<String> {
        self.links()
            .into_iter()
            .rfind(|w| {
                w.windows(2)
                    .any(|p| p[0] == "-o" && p[1] == self.link_output())
            })
            .unwrap_or_else(|| {
                panic!(
                    "no `ld … -o {}` in {}",
                    self.link_output(),
                    self.dir.display()
                )
            })
    }

    /// The linker script and the inputs of the final link, as `kslink-collect --predict`
    /// takes them: the words after `-o vmlinux` (objects, archives, `--whole-archive`,
    /// `--start-group` and the like, relative to the tree) without the kallsyms table
    /// object, which the prediction adds itself.
    pub fn final_link_inputs(&self) -> LinkInputs {
        let words = self.final_link();
        let output = words
            .windows(2)
            .position(|p| p[0] == "-o" && p[1] == self.link_output())
            .expect("the final link writes the script's output");
        // The driver's reading of a linker command line, which refuses an output of its own.
        let argv = words[..output]
            .iter()
            .chain(&words[output + 2..])
            .map(OsString::from)
            .collect();
        let command =
            LinkerCommand::parse(argv).unwrap_or_else(|e| panic!("the final link {words:?}: {e}"));
        let script = command
            .script
            .unwrap_or_else(|| panic!("no linker script in the final link {words:?}"))
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        let inputs = command
            .inputs
            .iter()
            .map(|w| w.to_string_lossy().into_owned())
            .filter(|w| !(w.contains("kallsyms") && w.ends_with(".o")))
            .collect();
        LinkInputs {
            script,
            inputs,
            kind: command.kind,
        }
    }

    /// The archives Kbuild links beside `vmlinux.a` (`$(KBUILD_VMLINUX_LIBS)`, for example
    /// `lib/lib.a arch/x86/lib/lib.a`).
    pub fn vmlinux_libs(&self) -> Vec<String> {
        self.env
            .get("KBUILD_VMLINUX_LIBS")
            .map(|libs| libs.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// Every `scripts/kallsyms` command of the trace, split into words (the options show
    /// which table format the kernel uses, for example `--all-symbols`).
    pub fn kallsyms_runs(&self) -> Vec<Vec<String>> {
        self.traced_commands("scripts/kallsyms")
    }

    /// The traced commands whose first word is `program`, split into words.
    pub fn traced_commands(&self, program: &str) -> Vec<Vec<String>> {
        self.trace
            .lines()
            .filter_map(|l| l.strip_prefix("+ "))
            .map(|l| l.split_whitespace().map(unquote).collect::<Vec<_>>())
            .filter(|w| w.first().is_some_and(|p| p == program))
            .collect()
    }

    /// A command that runs `scripts/link-vmlinux.sh` in `tree` (a copy of the cached tree:
    /// it rewrites `vmlinux`, `System.map` and the `.tmp_vmlinux*` files) with the recorded
    /// arguments and environment, the recorded tree's path replaced by `tree`'s. It does not
    /// run Kbuild's `Makefile.postlink` afterwards (a no-op without `CONFIG_RELOCATABLE`)
    /// nor update `.vmlinux.cmd`.
    pub fn link_vmlinux_command(&self, tree: &Path) -> Command {
        let tree = tree
            .canonicalize()
            .unwrap_or_else(|e| panic!("cannot resolve {}: {e}", tree.display()));
        let old = self.recorded_tree.display().to_string();
        let new = tree.display().to_string();
        let mut cmd = Command::new(tree.join("scripts/link-vmlinux.sh"));
        cmd.args(&self.args)
            .current_dir(&tree)
            .env_clear()
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            let v = if *v == old {
                new.clone()
            } else {
                v.replace(&format!("{old}/"), &format!("{new}/"))
            };
            cmd.env(k, v);
        }
        cmd
    }
}

/// A link's linker script and inputs, relative to the kernel tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInputs {
    /// The linker script (`arch/x86/kernel/vmlinux.lds`).
    pub script: String,
    /// The inputs in link order, with the archive switches among them.
    pub inputs: Vec<String>,
    /// What the link writes (arm64's relocatable kernel: `-shared`).
    pub kind: LinkKind,
}

impl LinkInputs {
    /// The same link with `vmlinux.o` in place of `vmlinux.a` and an empty library group:
    /// `vmlinux.o` already holds the archives' members (Kbuild makes it with `ld -r
    /// --whole-archive vmlinux.a --start-group LIBS --end-group`).
    pub fn with_vmlinux_o(&self) -> LinkInputs {
        self.rewritten("vmlinux.o", &[])
    }

    /// The same link with `vmlinux.a` in place of `vmlinux.o` and `libs` in the library
    /// group, as Kbuild links when it does not make `vmlinux.o` first.
    pub fn with_vmlinux_a(&self, libs: &[String]) -> LinkInputs {
        self.rewritten("vmlinux.a", libs)
    }

    fn rewritten(&self, main: &str, libs: &[String]) -> LinkInputs {
        let mut inputs = Vec::new();
        let mut in_group = false;
        for word in &self.inputs {
            match word.as_str() {
                "vmlinux.o" | "vmlinux.a" => inputs.push(main.to_string()),
                "--start-group" => {
                    in_group = true;
                    inputs.push(word.clone());
                    inputs.extend(libs.iter().cloned());
                }
                "--end-group" => {
                    in_group = false;
                    inputs.push(word.clone());
                }
                _ if in_group => {}
                _ => inputs.push(word.clone()),
            }
        }
        LinkInputs {
            script: self.script.clone(),
            inputs,
            kind: self.kind,
        }
    }
}

/// Returns the built x86_64 kernel tree of `version`: [`kernel_tree_for`] x86_64.
pub fn kernel_tree(version: KernelVersion) -> KernelTree {
    kernel_tree_for(version, KernelArch::X86_64)
}

/// Returns the built kernel tree of `version` for `arch`, building it on first use (see the
/// module documentation). Later calls, from any thread or process, find the cached tree in
/// well under a millisecond; concurrent first calls wait for one build.
///
/// # Panics
///
/// If a build tool is missing (naming the Debian package to install), if the package cannot
/// be downloaded, or if the build fails (with the tail of its log; the whole log is kept in
/// `<cache>/kernel-<ver>[-<arch>].failed.log` or in the tree's `.kslink/`).
pub fn kernel_tree_for(version: KernelVersion, arch: KernelArch) -> KernelTree {
    let cache = cache_dir();
    let name = arch.cache_name(version);
    let dir = cache.join(&name);
    if let Some(tree) = finished_tree(&dir, version, arch) {
        return tree;
    }
    let _lock = FileLock::acquire(&cache.join(format!("lock-{name}")));
    if let Some(tree) = finished_tree(&dir, version, arch) {
        return tree;
    }
    build(version, arch, &cache, &dir);
    finished_tree(&dir, version, arch).unwrap_or_else(|| {
        panic!(
            "the build of Linux {version} ({}) finished but {} is not a complete tree",
            arch.name(),
            dir.display()
        )
    })
}

/// The cached tree in `dir` if its marker is there and names the current recipe.
fn finished_tree(dir: &Path, version: KernelVersion, arch: KernelArch) -> Option<KernelTree> {
    let marker = fs::read_to_string(dir.join(".kslink/complete")).ok()?;
    let field = |key: &str| {
        marker.lines().find_map(|l| {
            l.strip_prefix(key)
                .and_then(|r| r.strip_prefix(' '))
                .map(str::to_string)
        })
    };
    if field("recipe")? != recipe(version, arch) || field("version")? != version.as_str() {
        return None;
    }
    let debian_version = field("debian-version")?;
    let tree = KernelTree {
        dir: dir.to_path_buf(),
        version,
        arch,
        debian_version,
        pahole: None,
    };
    // The marker is written last; these notice a tree that was partly deleted by hand.
    let present = [
        tree.vmlinux(),
        tree.system_map(),
        tree.vmlinux_o(),
        tree.linker_script(),
        tree.config(),
        tree.dir.join(".kslink/link/trace"),
    ]
    .iter()
    .all(|p| p.is_file());
    present.then_some(tree)
}

/// A tool the build needs: a program on `PATH` and the Debian package that has it.
const TOOLS: &[(&str, &str)] = &[
    ("make", "make"),
    ("gcc", "gcc"),
    ("ld", "binutils"),
    ("nm", "binutils"),
    ("objcopy", "binutils"),
    ("flex", "flex"),
    ("bison", "bison"),
    ("bc", "bc"),
    ("perl", "perl"),
    ("bash", "bash"),
    ("tar", "tar"),
    ("xz", "xz-utils"),
    ("dpkg-deb", "dpkg"),
    ("sha256sum", "coreutils"),
];

/// The cross toolchain of an architecture other than the host's: programs and packages.
fn cross_tools(arch: KernelArch) -> Vec<(String, &'static str)> {
    match arch {
        KernelArch::X86_64 | KernelArch::I386 => Vec::new(),
        KernelArch::Arm64 => vec![
            (arch.tool("gcc"), "gcc-aarch64-linux-gnu"),
            (arch.tool("ld"), "binutils-aarch64-linux-gnu"),
            (arch.tool("nm"), "binutils-aarch64-linux-gnu"),
            (arch.tool("objcopy"), "binutils-aarch64-linux-gnu"),
        ],
    }
}

/// Panics, naming the Debian packages, if a tool or header the build for `arch` needs is
/// missing.
fn check_tools(version: KernelVersion, arch: KernelArch) {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let on_path = |prog: &str| std::env::split_paths(&path).any(|d| d.join(prog).is_file());
    let btf = arch.has_btf(version);
    let mut missing: Vec<&str> = TOOLS
        .iter()
        .map(|&(prog, pkg)| (prog.to_string(), pkg))
        .chain(cross_tools(arch))
        .chain(btf.then(|| ("pahole".to_string(), "dwarves")))
        .filter(|(prog, _)| !on_path(prog))
        .map(|(_, pkg)| pkg)
        .collect();
    // objtool (CONFIG_OBJTOOL, selected on x86_64) includes <gelf.h>.
    if arch == KernelArch::X86_64 && !missing.contains(&"gcc") && !header_available("gelf.h") {
        missing.push("libelf-dev");
    }
    missing.dedup();
    if !missing.is_empty() {
        panic!(
            "building the test kernels needs Debian packages that are missing: {}\n\
             install them with `apt-get install -y {}` (the full list, as in .ci/run: \
             flex bison bc libelf-dev libssl-dev make gcc binutils xz-utils dpkg \
             gcc-aarch64-linux-gnu dwarves)",
            missing.join(", "),
            missing.join(" ")
        );
    }
}

/// True if the host C compiler finds `<header>`.
fn header_available(header: &str) -> bool {
    let mut child = match Command::new("gcc")
        .args(["-E", "-x", "c", "-o", "/dev/null", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(_) => return false,
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = writeln!(stdin, "#include <{header}>");
    }
    child.wait().is_ok_and(|s| s.success())
}

/// A command for Kbuild in `dir`: a cleared environment with `PATH`, `TMPDIR`, `LC_ALL=C`,
/// [`BUILD_ENV`] and `arch`'s [`KernelArch::make_env`], so the user's `ARCH`, `CC`,
/// `MAKEFLAGS` and so on cannot change the build.
fn kbuild_command(program: impl AsRef<std::ffi::OsStr>, dir: &Path, arch: KernelArch) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir).env_clear().stdin(Stdio::null());
    cmd.env("PATH", kbuild_path());
    if let Some(tmp) = std::env::var_os("TMPDIR") {
        cmd.env("TMPDIR", tmp);
    }
    cmd.env("LC_ALL", "C");
    for (k, v) in BUILD_ENV.iter().copied().chain(arch.make_env()) {
        cmd.env(k, v);
    }
    cmd
}

/// `PATH` for Kbuild: the test's own, with the directory of the real `rustc` first when
/// `rustc` is a rustup proxy. Kbuild records `rustc --version` in its configuration
/// (`RUSTC_VERSION_TEXT`) and re-configures, and so rebuilds everything, when it reads
/// differently; the proxy's answer, under load and with a cleared environment, does not
/// always read the same, the toolchain's own binary does.
fn kbuild_path() -> std::ffi::OsString {
    static PATH: std::sync::OnceLock<std::ffi::OsString> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let path =
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
        let toolchain_bin = Command::new("rustc")
            .args(["--print", "sysroot"])
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("bin"))
            .filter(|bin| bin.join("rustc").is_file());
        match toolchain_bin {
            Some(bin) => {
                let mut dirs = vec![bin];
                dirs.extend(std::env::split_paths(&path));
                std::env::join_paths(dirs).unwrap_or(path)
            }
            None => path,
        }
    })
    .clone()
}

/// Runs `cmd` with its output appended to `log`; on failure copies the log to `keep` and
/// panics with its tail.
fn run_logged(cmd: &mut Command, log: &Path, keep: &Path) {
    let shown = format!("{cmd:?}");
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", log.display()));
    let _ = writeln!(file, "$ {shown}");
    let err = file
        .try_clone()
        .unwrap_or_else(|e| panic!("cannot duplicate {}: {e}", log.display()));
    let status = cmd
        .stdout(file)
        .stderr(err)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    if !status.success() {
        let _ = fs::copy(log, keep);
        let text = fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(60)..].join("\n");
        panic!(
            "{shown} failed ({status}); the log is in {}; its end:\n{tail}",
            keep.display()
        );
    }
}

/// Builds the tree of `version` for `arch` into `dir`; the caller holds its lock.
fn build(version: KernelVersion, arch: KernelArch, cache: &Path, dir: &Path) {
    let started = Instant::now();
    check_tools(version, arch);
    let name = arch.cache_name(version);
    let work = cache.join(format!("{name}.tmp"));
    for stale in [work.as_path(), dir] {
        if stale.exists() {
            fs::remove_dir_all(stale)
                .unwrap_or_else(|e| panic!("cannot remove stale {}: {e}", stale.display()));
        }
    }
    fs::create_dir_all(&work).unwrap_or_else(|e| panic!("cannot create {}: {e}", work.display()));
    let _cleanup = RemoveDirOnDrop(work.clone());
    let failed_log = cache.join(format!("{name}.failed.log"));
    eprintln!(
        "kslink-tests: building Linux {version} ({} tinyconfig with kallsyms) into {}; \
         this takes a few minutes",
        arch.name(),
        dir.display()
    );
    let mut timings: Vec<(&str, Duration)> = Vec::new();
    let mut step = Instant::now();
    let mut lap = |name: &'static str, timings: &mut Vec<(&str, Duration)>| {
        timings.push((name, step.elapsed()));
        step = Instant::now();
    };

    // 1. The package, its version and the whole source tree.
    let deb = debian::obtain_deb(version, cache, &work, "a small kernel build");
    let debian_version = debian::deb_version(&deb);
    let pkg = work.join("pkg");
    let tarball = debian::unpack_tarball(&deb, version, &pkg);
    let src_parent = work.join("src");
    fs::create_dir_all(&src_parent)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", src_parent.display()));
    debian::run_checked(
        Command::new("tar")
            .arg("-xJf")
            .arg(&tarball)
            .arg("-C")
            .arg(&src_parent),
        "install tar and xz-utils",
    );
    let _ = fs::remove_dir_all(&pkg);
    if deb.starts_with(&work) {
        let _ = fs::remove_file(&deb);
    }
    let src = debian::single_subdir(&src_parent)
        .unwrap_or_else(|| panic!("{} extracted no directory", tarball.display()));
    let src = src
        .canonicalize()
        .unwrap_or_else(|e| panic!("cannot resolve {}: {e}", src.display()));
    let extracted: HashSet<PathBuf> = walk(&src)
        .into_iter()
        .filter(|(_, is_dir, _)| !is_dir)
        .map(|(rel, _, _)| rel)
        .collect();
    lap("download and extract", &mut timings);

    // 2. Configure.
    let records = src.join(".kslink");
    fs::create_dir_all(&records)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", records.display()));
    let log = records.join("build.log");
    run_logged(
        kbuild_command("make", &src, arch).arg("tinyconfig"),
        &log,
        &failed_log,
    );
    let mut config = kbuild_command(src.join("scripts/config"), &src, arch);
    for option in arch.config_options(version) {
        config.arg("-e").arg(option);
    }
    for option in arch.config_disabled(version) {
        config.arg("-d").arg(option);
    }
    run_logged(&mut config, &log, &failed_log);
    run_logged(
        kbuild_command("make", &src, arch).arg("olddefconfig"),
        &log,
        &failed_log,
    );
    let config_text = read_string(&src.join(".config"));
    let missing: Vec<&str> = required_config(version, arch)
        .into_iter()
        .filter(|o| !config_text.lines().any(|l| l == format!("CONFIG_{o}=y")))
        .collect();
    if !missing.is_empty() {
        let _ = fs::copy(&log, &failed_log);
        panic!(
            "Linux {version}: `make olddefconfig` left these options unset: {}",
            missing.join(", ")
        );
    }
    lap("configure", &mut timings);

    // 3. Build.
    let jobs = jobs();
    run_logged(
        kbuild_command("make", &src, arch)
            .arg(format!("-j{jobs}"))
            .arg("vmlinux")
            .arg(arch.boot_target()),
        &log,
        &failed_log,
    );
    let first_vmlinux = sha256(&src.join("vmlinux"));
    lap("build", &mut timings);

    // 4. Prune and publish.
    let pruned = prune(&src, &extracted, arch);
    fs::write(records.join("pruned"), &pruned)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", records.join("pruned").display()));
    fs::write(src.join(OBJTREE_FILE), format!("{}\n", src.display()))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", src.join(OBJTREE_FILE).display()));
    fs::rename(&src, dir)
        .unwrap_or_else(|e| panic!("cannot move {} to {}: {e}", src.display(), dir.display()));
    let dir = &dir
        .canonicalize()
        .unwrap_or_else(|e| panic!("cannot resolve {}: {e}", dir.display()));
    relocate(dir, arch);
    lap("prune", &mut timings);

    // 5. Settle in place: relink with V=1 while recording the final link phase; checks that
    //    the pruned tree builds and that the build is reproducible.
    let records = dir.join(".kslink");
    let link_dir = records.join("link");
    fs::create_dir_all(&link_dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", link_dir.display()));
    fs::write(link_dir.join("tree"), format!("{}\n", dir.display()))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", link_dir.join("tree").display()));
    let shell = dir.join(MAKE_SHELL);
    fs::write(&shell, make_shell(&link_dir))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", shell.display()));
    set_executable(&shell);
    for linked in ["vmlinux", "vmlinux.unstripped"] {
        match fs::remove_file(dir.join(linked)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                panic!("cannot remove {}/{linked}: {e}", dir.display())
            }
            _ => {}
        }
    }
    let settle_log = records.join("settle.log");
    run_logged(
        kbuild_command("make", dir, arch)
            .arg(format!("-j{jobs}"))
            .arg("V=1")
            .arg(format!("SHELL={}", shell.display()))
            .arg("vmlinux")
            .arg(arch.boot_target()),
        &settle_log,
        &failed_log,
    );
    for f in ["recipe", "env", "trace"] {
        if !link_dir.join(f).is_file() {
            panic!(
                "the relink of Linux {version} did not record how scripts/link-vmlinux.sh \
                 ran ({} is missing); see {}",
                link_dir.join(f).display(),
                settle_log.display()
            );
        }
    }
    let link_log = LinkLog::read(dir);
    let final_link = link_log.final_link();
    let second_vmlinux = sha256(&dir.join("vmlinux"));
    if second_vmlinux != first_vmlinux {
        panic!(
            "Linux {version} is not reproducible: the relinked vmlinux ({second_vmlinux}) \
             differs from the first ({first_vmlinux}); see {}",
            settle_log.display()
        );
    }
    lap("relink", &mut timings);

    // 6. The marker, last.
    let mut marker = format!(
        "kslink kernel fixture\nversion {version}\ndebian-version {debian_version}\n\
         recipe {}\nconfig-sha256 {}\nvmlinux-sha256 {first_vmlinux}\nfinal-link {}\n",
        recipe(version, arch),
        sha256(&dir.join(".config")),
        final_link.join(" "),
    );
    for (name, t) in &timings {
        marker.push_str(&format!("seconds {name}: {:.1}\n", t.as_secs_f64()));
    }
    let tmp = records.join(format!("complete.tmp-{}", unique_suffix()));
    fs::write(&tmp, &marker).unwrap_or_else(|e| panic!("cannot write {}: {e}", tmp.display()));
    fs::rename(&tmp, records.join("complete"))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", records.join("complete").display()));
    let _ = fs::remove_file(&failed_log);
    eprintln!(
        "kslink-tests: built Linux {version} ({}, {debian_version}) in {:.0} s: {}",
        arch.name(),
        started.elapsed().as_secs_f64(),
        dir.display()
    );
}

/// The number of parallel make jobs: the number of CPUs.
fn jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The `SHELL` wrapper of the relink pass, relative to the tree.
const MAKE_SHELL: &str = ".kslink/make-shell";

/// The file that names the absolute path that the tree's build records refer to.
const OBJTREE_FILE: &str = ".kslink/objtree";

/// Rewrites the absolute paths in the build records of `tree`, built for `arch` (the `.cmd`
/// and `.d` files under `KernelArch::absolute_path_dirs`: Kbuild's other records are
/// relative) from the path named in [`OBJTREE_FILE`] to `tree`, which must be canonical,
/// and updates that file. Without this, make in a moved or copied tree rebuilds what they
/// record, and then everything that depends on it.
fn relocate(tree: &Path, arch: KernelArch) {
    let record = tree.join(OBJTREE_FILE);
    let old = read_string(&record).trim().to_string();
    let new = tree.display().to_string();
    if old == new {
        return;
    }
    let (old_prefix, new_prefix) = (format!("{old}/"), format!("{new}/"));
    let records = arch.absolute_path_dirs().iter().flat_map(|dir| {
        let dir = tree.join(dir);
        walk(&dir)
            .into_iter()
            .map(move |entry| (dir.clone(), entry))
    });
    for (dir, (rel, is_dir, _)) in records {
        let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if is_dir || !(name.starts_with('.') && (name.ends_with(".cmd") || name.ends_with(".d"))) {
            continue;
        }
        let path = dir.join(&rel);
        let text =
            fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        if let Some(text) = replace_bytes(&text, old_prefix.as_bytes(), new_prefix.as_bytes()) {
            fs::write(&path, text)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        }
    }
    fs::write(&record, format!("{new}\n"))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", record.display()));
}

/// `text` with every `from` replaced by `to`, or `None` if it has no `from`.
fn replace_bytes(text: &[u8], from: &[u8], to: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    let mut found = false;
    while let Some(at) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to);
        rest = &rest[at + from.len()..];
        found = true;
    }
    out.extend_from_slice(rest);
    found.then_some(out)
}

/// The `SHELL` for make's relink pass: a plain `/bin/sh`, except that for the recipe that
/// runs `scripts/link-vmlinux.sh` it records the recipe, the environment and the recipe's
/// standard error (the script's `set -x` trace under V=1) into `link_dir`.
fn make_shell(link_dir: &Path) -> String {
    let dir = link_dir.display().to_string().replace('\'', r"'\''");
    format!(
        r#"#!/bin/sh
# kslink-tests: make's SHELL for the relink pass; see tests/src/kernel.rs.
for arg in "$@"; do
  case "$arg" in
    *'scripts/link-vmlinux.sh "'*)
      dir='{dir}'
      printf '%s' "$arg" > "$dir/recipe"
      env -0 > "$dir/env"
      /bin/sh "$@" 2> "$dir/trace"
      status=$?
      cat "$dir/trace" >&2
      exit $status
      ;;
  esac
done
exec /bin/sh "$@"
"#
    )
}

/// Every entry under `root` (not following symlinks), as (path relative to `root`, is a
/// directory, size in bytes), directories before their contents.
fn walk(root: &Path) -> Vec<(PathBuf, bool, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let abs = root.join(&rel);
        let entries =
            fs::read_dir(&abs).unwrap_or_else(|e| panic!("cannot list {}: {e}", abs.display()));
        for entry in entries {
            let entry = entry.unwrap_or_else(|e| panic!("cannot list {}: {e}", abs.display()));
            let meta = entry
                .metadata()
                .unwrap_or_else(|e| panic!("cannot stat {}: {e}", entry.path().display()));
            let child = rel.join(entry.file_name());
            if meta.is_dir() {
                out.push((child.clone(), true, 0));
                stack.push(child);
            } else {
                out.push((child, false, meta.len()));
            }
        }
    }
    out
}

/// Source directories kept whole for every architecture: what Kbuild reads beyond the
/// recorded dependencies (generated headers' inputs, host tools, the initramfs list); with
/// [`KernelArch::keep_dirs`].
const COMMON_KEEP_DIRS: &[&str] = &["scripts", "include", "usr", "certs"];

/// Build outputs that do not mean something was built in their directory.
const TRIVIAL_OUTPUTS: &[&str] = &[
    "built-in.a",
    ".built-in.a.cmd",
    "modules.order",
    ".modules.order.cmd",
];

/// Deletes the source files of `root`, built for `arch`, that the built tree does not need
/// (see the module documentation); `extracted` lists the tarball's files. Returns a summary.
fn prune(root: &Path, extracted: &HashSet<PathBuf>, arch: KernelArch) -> String {
    let entries = walk(root);
    let files: Vec<(&PathBuf, u64)> = entries
        .iter()
        .filter(|(_, is_dir, _)| !is_dir)
        .map(|(rel, _, size)| (rel, *size))
        .collect();
    let outputs: Vec<&PathBuf> = files
        .iter()
        .map(|(rel, _)| *rel)
        .filter(|rel| !extracted.contains(*rel))
        .collect();
    let built_dirs: HashSet<&Path> = outputs
        .iter()
        .filter(|rel| {
            !TRIVIAL_OUTPUTS
                .iter()
                .any(|t| rel.file_name().is_some_and(|n| n == *t))
        })
        .filter_map(|rel| rel.parent())
        .collect();

    // Every path named in a Kbuild .cmd or .d file (sources, dependencies, wildcards).
    let prefix = format!("{}/", root.display());
    let mut referenced: HashSet<PathBuf> = HashSet::new();
    for rel in &outputs {
        let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !(name.starts_with('.') && (name.ends_with(".cmd") || name.ends_with(".d"))) {
            continue;
        }
        let Ok(text) = fs::read(root.join(rel)) else {
            continue;
        };
        let text = String::from_utf8_lossy(&text);
        for token in text.split(|c: char| c.is_whitespace() || "\\:=(),;'\"".contains(c)) {
            let token = token.strip_prefix(&prefix).unwrap_or(token);
            if token.is_empty() || token.starts_with('/') {
                continue;
            }
            let path = normalize(Path::new(token));
            if extracted.contains(&path) {
                referenced.insert(path);
            }
        }
    }

    let keep = |rel: &Path| {
        let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
        rel.components().count() == 1
            || ["Makefile", "Kbuild", "Kconfig"]
                .iter()
                .any(|p| name.starts_with(p))
            || COMMON_KEEP_DIRS
                .iter()
                .chain(arch.keep_dirs())
                .any(|d| rel.starts_with(d))
            || referenced.contains(rel)
            || rel.parent().is_some_and(|p| built_dirs.contains(p))
    };
    let (mut kept, mut kept_bytes, mut dropped, mut dropped_bytes) = (0u64, 0u64, 0u64, 0u64);
    for (rel, size) in &files {
        if !extracted.contains(*rel) || keep(rel) {
            kept += 1;
            kept_bytes += size;
        } else {
            let path = root.join(rel);
            fs::remove_file(&path)
                .unwrap_or_else(|e| panic!("cannot remove {}: {e}", path.display()));
            dropped += 1;
            dropped_bytes += size;
        }
    }
    // Directories left empty, deepest first.
    let mut dirs: Vec<&PathBuf> = entries
        .iter()
        .filter(|(_, is_dir, _)| *is_dir)
        .map(|(rel, _, _)| rel)
        .collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in dirs {
        let _ = fs::remove_dir(root.join(d)); // fails, as wanted, unless empty
    }
    format!(
        "kept {kept} files ({:.1} MB), deleted {dropped} source files ({:.1} MB); \
         {} paths referenced by .cmd/.d files, {} directories with build output\n",
        kept_bytes as f64 / 1e6,
        dropped_bytes as f64 / 1e6,
        referenced.len(),
        built_dirs.len()
    )
}

/// `path` without `.` components and with `dir/..` folded (lexically).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The command Kbuild saved for `vmlinux` in `.vmlinux.cmd` (`savedcmd_vmlinux := …` in
/// 6.12, `cmd_vmlinux := …` in 6.1).
fn saved_command(cmd_file: &Path) -> String {
    let text = read_string(cmd_file);
    text.lines()
        .find_map(|l| {
            ["savedcmd_vmlinux", "cmd_vmlinux"].iter().find_map(|key| {
                let rest = l.strip_prefix(key)?;
                // 7.x's target is vmlinux.unstripped.
                let rest = rest.strip_prefix(".unstripped").unwrap_or(rest);
                rest.strip_prefix(" := ")
            })
        })
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no saved command for vmlinux in {}", cmd_file.display()))
}

/// The double-quoted arguments that follow `scripts/link-vmlinux.sh` in `command`.
fn link_script_args(command: &str) -> Option<Vec<String>> {
    let at = command.find("scripts/link-vmlinux.sh")?;
    let mut rest = &command[at + "scripts/link-vmlinux.sh".len()..];
    let mut args = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        let Some(r) = rest.strip_prefix('"') else {
            break;
        };
        let end = r.find('"')?;
        let arg = &r[..end];
        if arg.contains(['$', '`', '\\']) {
            return None; // would need a shell to expand; Kbuild never passes such
        }
        args.push(arg.to_string());
        rest = &r[end + 1..];
    }
    (args.len() >= 3).then_some(args)
}

/// The recorded environment (`env -0` output) without make's bookkeeping.
fn sanitize_env(raw: &[u8]) -> BTreeMap<String, String> {
    const DROP: &[&str] = &[
        "MAKELEVEL",
        "MAKEOVERRIDES",
        "MAKE_TERMOUT",
        "MAKE_TERMERR",
        "PWD",
        "OLDPWD",
        "_",
    ];
    let mut env = BTreeMap::new();
    for entry in raw.split(|b| *b == 0).filter(|e| !e.is_empty()) {
        let entry = String::from_utf8_lossy(entry);
        let Some((k, v)) = entry.split_once('=') else {
            continue;
        };
        if DROP.contains(&k) || (k == "SHELL" && v.ends_with(MAKE_SHELL)) {
            continue;
        }
        let v = if k == "MAKEFLAGS" || k == "MFLAGS" {
            sanitize_makeflags(v)
        } else {
            v.to_string()
        };
        env.insert(k.to_string(), v);
    }
    env
}

/// `MAKEFLAGS` without `-jN`, the jobserver and the `SHELL=` override of the recording pass.
fn sanitize_makeflags(flags: &str) -> String {
    flags
        .split(' ')
        .filter(|w| {
            !(w.is_empty()
                || w.starts_with("-j")
                || w.starts_with("--jobserver")
                || w.starts_with("SHELL="))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A trace word without the single quotes a shell other than dash may add.
fn unquote(word: &str) -> String {
    word.strip_prefix('\'')
        .and_then(|w| w.strip_suffix('\''))
        .unwrap_or(word)
        .to_string()
}

/// The SHA-256 of `path` in hex, from `sha256sum`.
fn sha256(path: &Path) -> String {
    let out = debian::run_checked(
        Command::new("sha256sum").arg(path),
        "install coreutils (`sha256sum`)",
    );
    String::from_utf8_lossy(&out)
        .split_whitespace()
        .next()
        .unwrap_or_else(|| panic!("sha256sum printed nothing for {}", path.display()))
        .to_string()
}

fn read_string(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
