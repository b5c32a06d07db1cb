//! Copies the cached test kernel tree of a Linux version (building it first if needed, see
//! `kslink_tests::kernel`) to a new directory, ready for `make` there, and prints its path.
//!
//! ```text
//! kernel-tree 6.12|6.1|7.3 DEST
//! ```
//!
//! Used by `bench/linux.sh`'s documentation and by hand: a tree to relink without touching
//! the cached one.

use std::path::Path;
use std::process::ExitCode;

use kslink_tests::kernel::kernel_tree;
use kslink_tests::KernelVersion;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let version = match args.first().map(String::as_str) {
        Some("6.12") => KernelVersion::V6_12,
        Some("6.1") => KernelVersion::V6_1,
        Some("7.3") => KernelVersion::V7_3,
        _ => {
            eprintln!(
                "usage: kernel-tree 6.12|6.1|7.3 DEST\n\
                 copies the cached tinyconfig kernel tree of that version to DEST (which must \
                 not exist) and prints its path"
            );
            return ExitCode::from(2);
        }
    };
    let Some(dest) = args.get(1) else {
        eprintln!("kernel-tree: which directory? usage: kernel-tree 6.12|6.1|7.3 DEST");
        return ExitCode::from(2);
    };
    let copy = kernel_tree(version).copy_to(Path::new(dest));
    println!("{}", copy.dir.display());
    ExitCode::SUCCESS
}
