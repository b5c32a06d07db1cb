//! Writes the frame of exactly a table's own size (see `kslink_tests::exact_frame`).
//!
//! ```text
//! exact-frame TABLE PADSPEC
//! ```
//!
//! Used by `bench/patch.sh` to locate a kernel's table, which upstream linked in a frame of
//! exactly its size.

use std::path::Path;
use std::process::ExitCode;

use kslink_schema::{artifact, KallsymsTable};
use kslink_tests::exact_frame;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [table, pad] = args.as_slice() else {
        eprintln!(
            "usage: exact-frame TABLE PADSPEC\n\
             writes the PadSpec of exactly the KallsymsTable's own array sizes"
        );
        return ExitCode::from(2);
    };
    let result = artifact::read::<KallsymsTable>(Path::new(table))
        .and_then(|table| artifact::write(Path::new(pad), &exact_frame(&table)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("exact-frame: error: {err}");
            ExitCode::FAILURE
        }
    }
}
