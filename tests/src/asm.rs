//! Assembling upstream's `.S` output the way Kbuild would.
//!
//! Upstream's `kallsyms` prints a `.S` file that starts with `#include <asm/bitsperlong.h>`
//! and `#if BITS_PER_LONG == 64`. In a kernel build that header comes from the kernel's own
//! include path and derives `BITS_PER_LONG` from CONFIG_64BIT; here a generated include
//! directory (`<cache>/asm-include/bits<N>/asm/bitsperlong.h`) defines it as 64 or 32 per
//! architecture.
//!
//! x86_64 is assembled with the host's `gcc -c`; the other architectures are preprocessed
//! with `gcc -E -P` and then assembled by their GNU assembler (`as --32` for i386, the cross
//! assemblers from Debian's `binutils-<triple>` packages for the others).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::cache_dir;
use crate::upstream::unique_suffix;

/// A target architecture of the kallsyms object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    /// x86-64 (ELF64, little-endian, RELA); assembled with the host `gcc -c`.
    X86_64,
    /// i386 (ELF32, little-endian, REL); the host's `as --32`.
    I386,
    /// AArch64 (ELF64, little-endian, RELA); `aarch64-linux-gnu-as`.
    Aarch64,
    /// RISC-V 64 (ELF64, little-endian, RELA); `riscv64-linux-gnu-as`.
    Riscv64,
    /// 32-bit ARM, EABI hard-float (ELF32, little-endian, REL); `arm-linux-gnueabihf-as`.
    Arm,
}

impl Arch {
    /// Every supported architecture.
    pub const ALL: [Arch; 5] = [
        Arch::X86_64,
        Arch::I386,
        Arch::Aarch64,
        Arch::Riscv64,
        Arch::Arm,
    ];

    /// A short name: `x86_64`, `i386`, `aarch64`, `riscv64`, `arm`.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::I386 => "i386",
            Arch::Aarch64 => "aarch64",
            Arch::Riscv64 => "riscv64",
            Arch::Arm => "arm",
        }
    }

    /// `BITS_PER_LONG`: 64 or 32.
    pub fn bits(self) -> u32 {
        match self {
            Arch::X86_64 | Arch::Aarch64 | Arch::Riscv64 => 64,
            Arch::I386 | Arch::Arm => 32,
        }
    }

    /// The ELF `e_machine` of objects for this architecture.
    pub fn e_machine(self) -> u16 {
        match self {
            Arch::X86_64 => object::elf::EM_X86_64,
            Arch::I386 => object::elf::EM_386,
            Arch::Aarch64 => object::elf::EM_AARCH64,
            Arch::Riscv64 => object::elf::EM_RISCV,
            Arch::Arm => object::elf::EM_ARM,
        }
    }

    /// The assembler program and its fixed arguments (unused for x86_64, which goes
    /// through `gcc -c`).
    pub fn assembler(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Arch::X86_64 => ("as", &[]),
            Arch::I386 => ("as", &["--32"]),
            Arch::Aarch64 => ("aarch64-linux-gnu-as", &[]),
            Arch::Riscv64 => ("riscv64-linux-gnu-as", &[]),
            Arch::Arm => ("arm-linux-gnueabihf-as", &[]),
        }
    }

    /// The Debian package that provides the assembler.
    pub fn debian_package(self) -> &'static str {
        match self {
            Arch::X86_64 | Arch::I386 => "binutils",
            Arch::Aarch64 => "binutils-aarch64-linux-gnu",
            Arch::Riscv64 => "binutils-riscv64-linux-gnu",
            Arch::Arm => "binutils-arm-linux-gnueabihf",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn runs_ok(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// True if the tools to assemble for `arch` are installed (`gcc` and the arch's assembler).
/// The answer is computed once per process.
pub fn arch_available(arch: Arch) -> bool {
    static AVAILABLE: [OnceLock<bool>; 5] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    let idx = Arch::ALL
        .iter()
        .position(|&a| a == arch)
        .expect("arch in ALL");
    *AVAILABLE[idx].get_or_init(|| {
        let (program, args) = arch.assembler();
        let mut version_args = args.to_vec();
        version_args.push("--version");
        runs_ok("gcc", &["--version"]) && runs_ok(program, &version_args)
    })
}

/// The generated include directory for `arch`: it holds `asm/bitsperlong.h` defining
/// `BITS_PER_LONG` as the arch's word size. Created on first use in the cache directory.
pub fn include_shim(arch: Arch) -> PathBuf {
    let bits = arch.bits();
    let dir = cache_dir().join("asm-include").join(format!("bits{bits}"));
    let asm_dir = dir.join("asm");
    let header = asm_dir.join("bitsperlong.h");
    let text = format!(
        "/* Generated by kslink-tests: stands in for the kernel's <asm/bitsperlong.h>. */\n\
         #ifndef __ASM_BITSPERLONG_H\n\
         #define __ASM_BITSPERLONG_H\n\
         #define BITS_PER_LONG {bits}\n\
         #endif\n"
    );
    if fs::read_to_string(&header).ok().as_deref() != Some(text.as_str()) {
        fs::create_dir_all(&asm_dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", asm_dir.display()));
        let tmp = asm_dir.join(format!("bitsperlong.h.tmp-{}", unique_suffix()));
        fs::write(&tmp, &text).unwrap_or_else(|e| panic!("cannot write {}: {e}", tmp.display()));
        fs::rename(&tmp, &header)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", header.display()));
    }
    dir
}

fn run(cmd: &mut Command, what: &str, hint: &str) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}; {hint}"));
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        // A broken .S can make the assembler complain about every line: keep it readable.
        let shown: String = stderr.lines().take(40).collect::<Vec<_>>().join("\n");
        panic!("{what} failed ({}):\n{shown}", out.status);
    }
}

/// Assembles `s_file` (upstream's `.S` output) for `arch` into the relocatable object `out`.
///
/// x86_64: `gcc -c -I<shim> s_file -o out` (with `-x assembler-with-cpp`, so the file
/// name need not end in `.S`). Others: `gcc -E -P -I<shim> s_file` into a
/// temporary file, then the arch's assembler (see [`Arch::assembler`]).
///
/// # Panics
///
/// If a tool is missing (check [`arch_available`] first) or fails.
pub fn assemble(s_file: &Path, arch: Arch, out: &Path) {
    let shim = include_shim(arch);
    let hint = format!(
        "install gcc and {} (`apt-get install gcc {}`)",
        arch.debian_package(),
        arch.debian_package()
    );
    if arch == Arch::X86_64 {
        run(
            Command::new("gcc")
                .arg("-c")
                .arg("-x")
                .arg("assembler-with-cpp")
                .arg("-I")
                .arg(&shim)
                .arg(s_file)
                .arg("-o")
                .arg(out),
            &format!("gcc -c {}", s_file.display()),
            &hint,
        );
        return;
    }
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let pre = dir.join(format!(
        ".{}.{}.pre.s",
        out.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        unique_suffix()
    ));
    let guard = RemoveOnDrop(pre.clone());
    run(
        Command::new("gcc")
            .arg("-E")
            .arg("-P")
            .arg("-x")
            .arg("assembler-with-cpp")
            .arg("-I")
            .arg(&shim)
            .arg(s_file)
            .arg("-o")
            .arg(&pre),
        &format!("gcc -E -P {}", s_file.display()),
        &hint,
    );
    let (program, args) = arch.assembler();
    run(
        Command::new(program)
            .args(args)
            .arg(&pre)
            .arg("-o")
            .arg(out),
        &format!("{program} {}", s_file.display()),
        &hint,
    );
    drop(guard);
}

/// Writes `s_text` to a temporary `.S` beside `out` and assembles it (see [`assemble`]).
pub fn assemble_source(s_text: &[u8], arch: Arch, out: &Path) {
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let s_file = dir.join(format!(
        ".{}.{}.S",
        out.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        unique_suffix()
    ));
    let guard = RemoveOnDrop(s_file.clone());
    fs::write(&s_file, s_text).unwrap_or_else(|e| panic!("cannot write {}: {e}", s_file.display()));
    assemble(&s_file, arch, out);
    drop(guard);
}

/// Removes a file when dropped (also when a panic unwinds).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}
