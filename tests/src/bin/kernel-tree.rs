//! Copies the cached test kernel tree of a Linux version and architecture (building it first
//! if needed, see `kslink_tests::kernel`) to a new directory, ready for `make` there, and
//! prints its path.
//!
//! ```text
//! kernel-tree 6.12|6.1|7.3 DEST [x86_64|arm64|i386]
//! ```
//!
//! Used by `bench/linux.sh`'s documentation and by hand: a tree to relink without touching
//! the cached one.

use std::path::Path;
use std::process::ExitCode;

use kslink_tests::kernel::{kernel_tree_for, KernelArch};
use kslink_tests::KernelVersion;

const USAGE: &str = "usage: kernel-tree 6.12|6.1|7.3 DEST [x86_64|arm64|i386]\n\
                     copies the cached tinyconfig kernel tree of that version (and \
                     architecture, default x86_64) to DEST (which must not exist) and prints \
                     its path";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let version = match args.first().map(String::as_str) {
        Some("6.12") => KernelVersion::V6_12,
        Some("6.1") => KernelVersion::V6_1,
        Some("7.3") => KernelVersion::V7_3,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let Some(dest) = args.get(1) else {
        eprintln!("kernel-tree: which directory? {USAGE}");
        return ExitCode::from(2);
    };
    let arch = match args.get(2).map(String::as_str) {
        None | Some("x86_64") => KernelArch::X86_64,
        Some("arm64") => KernelArch::Arm64,
        Some("i386") => KernelArch::I386,
        Some(other) => {
            eprintln!("kernel-tree: no test kernel for {other}; {USAGE}");
            return ExitCode::from(2);
        }
    };
    let copy = kernel_tree_for(version, arch).copy_to(Path::new(dest));
    println!("{}", copy.dir.display());
    ExitCode::SUCCESS
}
