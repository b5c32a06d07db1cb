//! Prints the path of Debian's 6.12.117 amd64 vmlinux in the cache, fetching it first if
//! needed (see `kslink_tests::debian_vmlinux`).
//!
//! ```text
//! debian-vmlinux
//! ```
//!
//! Used by `bench/patch.sh`, so that only the tests crate knows how to get it.

use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args().len() > 1 {
        eprintln!(
            "usage: debian-vmlinux\n\
             prints the path of Debian's 6.12.117 amd64 vmlinux, fetching it into the cache if needed"
        );
        return ExitCode::from(2);
    }
    println!("{}", kslink_tests::debian_vmlinux().display());
    ExitCode::SUCCESS
}
