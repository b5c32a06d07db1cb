//! Prints the path of upstream's `scripts/kallsyms` host tool for a kernel version, building
//! it into the cache first if needed (see `kslink_tests::upstream`).
//!
//! ```text
//! upstream-kallsyms 6.12|6.1
//! ```
//!
//! Used by `bench/table.sh`, so that only the tests crate knows how to build upstream.

use std::process::ExitCode;

use kslink_tests::{upstream_kallsyms, KernelVersion};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let version = match args.as_slice() {
        [v] => KernelVersion::ALL.into_iter().find(|k| k.as_str() == v),
        _ => None,
    };
    let Some(version) = version else {
        let known: Vec<&str> = KernelVersion::ALL.iter().map(|k| k.as_str()).collect();
        eprintln!(
            "usage: upstream-kallsyms VERSION   (VERSION: {})\n\
             prints the path of upstream's scripts/kallsyms for VERSION, building it if needed",
            known.join(", ")
        );
        return ExitCode::from(2);
    };
    println!("{}", upstream_kallsyms(version).display());
    ExitCode::SUCCESS
}
