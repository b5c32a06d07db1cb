//! Real preprocessed kernel linker scripts of other architectures than the test kernels':
//! `arch/arm64/kernel/vmlinux.lds` and `arch/riscv/kernel/vmlinux.lds` of Linux 6.12, for
//! testing that the linker script parser and the prediction handle what those contain.
//!
//! [`kernel_linker_script`] makes one once into the cache (`<cache>/lds-6.12/<arch>.lds`,
//! under the lock `<cache>/lock-lds-6.12`), about a minute: from Debian's
//! `linux-source-6.12` (the one in the cache, or downloaded with `apt-get download`), it
//! extracts the top-level Makefile and Kconfig files, `scripts/`, `include/` and the
//! architecture's directory, runs `make ARCH=<arch> defconfig syncconfig asm-generic` in a
//! separate output directory, and preprocesses `vmlinux.lds.S` as Kbuild's `cpp_lds_S`
//! rule does (`-P -U<arch> -D__ASSEMBLY__ -DLINKER_SCRIPT`, Kbuild's include directories and
//! forced includes), with the host's `gcc -E`: there is no cross compiler, so macros that
//! depend on a compiler's own predefined macros may differ from a real build; the script's
//! form and commands are the kernel's.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache_dir;
use crate::debian::{self, RemoveDirOnDrop};
use crate::lock::FileLock;
use crate::upstream::{unique_suffix, KernelVersion};

/// An architecture whose kernel linker script [`kernel_linker_script`] makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScriptArch {
    /// `arch/arm64`.
    Arm64,
    /// `arch/riscv` (64-bit defconfig).
    Riscv,
}

impl ScriptArch {
    /// Every architecture, made together (the source is unpacked once).
    pub const ALL: [ScriptArch; 2] = [ScriptArch::Arm64, ScriptArch::Riscv];

    /// Kbuild's `ARCH`.
    pub fn name(self) -> &'static str {
        match self {
            ScriptArch::Arm64 => "arm64",
            ScriptArch::Riscv => "riscv",
        }
    }
}

/// The preprocessed `arch/<arch>/kernel/vmlinux.lds` of Linux 6.12 (see the module
/// documentation), made on first use (with the other architectures' scripts).
///
/// # Panics
///
/// If a build tool is missing or a step fails, with the command's output.
pub fn kernel_linker_script(arch: ScriptArch) -> PathBuf {
    let version = KernelVersion::V6_12;
    let cache = cache_dir();
    let dir = cache.join(format!("lds-{version}"));
    let path = |arch: ScriptArch| dir.join(format!("{}.lds", arch.name()));
    if path(arch).is_file() {
        return path(arch);
    }
    let _lock = FileLock::acquire(&cache.join(format!("lock-lds-{version}")));
    if path(arch).is_file() {
        return path(arch);
    }
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let work = cache.join(format!("lds-{version}.tmp-{}", unique_suffix()));
    fs::create_dir_all(&work).unwrap_or_else(|e| panic!("cannot create {}: {e}", work.display()));
    let _cleanup = RemoveDirOnDrop(work.clone());
    eprintln!(
        "kslink-tests: preprocessing Linux {version}'s arm64 and riscv vmlinux.lds into {} \
         (about a minute)",
        dir.display()
    );

    let deb = debian::obtain_deb(version, &cache, &work, "the arm64 and riscv linker scripts");
    let tarball = debian::unpack_tarball(&deb, version, &work.join("pkg"));
    let top = format!("linux-source-{version}");
    let mut patterns = vec![
        format!("{top}/Makefile"),
        format!("{top}/Kconfig"),
        format!("{top}/scripts/*"),
        format!("{top}/include/*"),
        format!("{top}/arch/Kconfig"),
        "*/Kconfig*".to_string(),
    ];
    patterns.extend(
        ScriptArch::ALL
            .iter()
            .map(|a| format!("{top}/arch/{}/*", a.name())),
    );
    debian::run_checked(
        Command::new("tar")
            .arg("-xJf")
            .arg(&tarball)
            .arg("-C")
            .arg(&work)
            .arg("--wildcards")
            .args(&patterns),
        "install tar and xz-utils",
    );
    let src = work.join(&top);
    for arch in ScriptArch::ALL {
        preprocess(
            &src,
            &work.join(format!("build-{}", arch.name())),
            arch,
            &path(arch),
        );
    }
    path(arch)
}

/// Configures `arch` in output directory `out` and preprocesses its `vmlinux.lds.S` into
/// `script`.
fn preprocess(src: &Path, out: &Path, arch: ScriptArch, script: &Path) {
    let a = arch.name();
    for target in ["defconfig", "syncconfig", "asm-generic"] {
        debian::run_checked(
            kbuild(src)
                .arg(format!("ARCH={a}"))
                .arg(format!("O={}", out.display()))
                .arg(target),
            "building the kernel configuration needs make, gcc, flex and bison",
        );
    }
    let include = |base: &Path, rel: &str| format!("-I{}", base.join(rel).display());
    let dir = script.parent().expect("the cache directory");
    let tmp = dir.join(format!(".{a}.lds.tmp-{}", unique_suffix()));
    debian::run_checked(
        Command::new("gcc")
            .current_dir(src)
            .args(["-E", "-P", "-nostdinc", &format!("-U{a}")])
            .args(["-D__KERNEL__", "-D__ASSEMBLY__", "-DLINKER_SCRIPT"])
            .arg(include(src, &format!("arch/{a}/include")))
            .arg(include(out, &format!("arch/{a}/include/generated")))
            .arg(include(src, "include"))
            .arg(include(out, "include"))
            .arg(include(src, &format!("arch/{a}/include/uapi")))
            .arg(include(out, &format!("arch/{a}/include/generated/uapi")))
            .arg(include(src, "include/uapi"))
            .arg(include(out, "include/generated/uapi"))
            .args(["-include", "include/linux/compiler-version.h"])
            .args(["-include", "include/linux/kconfig.h"])
            .arg("-o")
            .arg(&tmp)
            .arg(format!("arch/{a}/kernel/vmlinux.lds.S")),
        "install gcc",
    );
    fs::rename(&tmp, script).unwrap_or_else(|e| panic!("cannot write {}: {e}", script.display()));
}

/// `make` in `src` with a cleared environment (`PATH`, `LC_ALL=C`), so that the user's
/// `ARCH`, `CROSS_COMPILE` or `MAKEFLAGS` cannot change what it does.
fn kbuild(src: &Path) -> Command {
    let mut cmd = Command::new("make");
    cmd.current_dir(src).env_clear().env("LC_ALL", "C").env(
        "PATH",
        std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
    );
    cmd
}
