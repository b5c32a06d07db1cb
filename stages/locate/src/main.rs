//! `kslink-locate`: the locate stage's command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kslink_locate::{locate_file, read_frame, LocateError, Placement};
use kslink_schema::artifact;

/// Find the arrays of a kallsyms table in a linked ELF file, where its frame put them.
///
/// PADSPEC is the frame the table was linked in (from kslink-pad). Each array is found by
/// its label symbol (kallsyms_names, ...); the labels must lie in one section with file
/// contents, at the frame's offsets from the first, with each array's room inside that
/// section. With --section, the table is taken to start at the start of that section
/// (a section of its own), and labels are optional. Relocation records that the link kept
/// for the table's pointers (ld --emit-relocs, or a position-independent file's dynamic
/// relocations) are listed, so that kslink-patch keeps them consistent.
///
/// The TableLocation artifact written to LOCATION is what kslink-patch reads.
///
/// Examples:
///
///   kslink-locate --frame vmlinux.pad -o vmlinux.location vmlinux
///
///   kslink-locate --frame image.pad --section .kallsyms -o image.location image.elf
///
/// Exit status: 0 on success, 1 when the file cannot be read or does not hold a table of
/// this frame where it should (one line says which array is where), 2 on a usage error.
#[derive(Parser, Debug)]
#[command(name = "kslink-locate", version, verbatim_doc_comment)]
struct Cli {
    /// The frame (PadSpec artifact) the table was linked in, as `kslink-table --frame`
    /// takes it (`--pad` is the old name).
    #[arg(long = "frame", alias = "pad", value_name = "PADSPEC")]
    frame: PathBuf,
    /// The table is at the start of this section, arrays at their frame offsets.
    #[arg(long, value_name = "NAME")]
    section: Option<String>,
    /// Write the TableLocation artifact here (atomically).
    #[arg(short = 'o', long = "output", value_name = "LOCATION", required = true)]
    output: PathBuf,
    /// The linked ELF file (vmlinux).
    #[arg(value_name = "ELF")]
    elf: PathBuf,
}

fn run(cli: &Cli) -> Result<(), LocateError> {
    let frame = read_frame(&cli.frame)?;
    let placement = match &cli.section {
        Some(name) => Placement::Section(name),
        None => Placement::Labels,
    };
    let location = locate_file(&cli.elf, &frame, placement)?;
    artifact::write(&cli.output, &location).map_err(|source| LocateError::Artifact {
        path: cli.output.display().to_string(),
        source,
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kslink-locate: error: {err}");
            ExitCode::FAILURE
        }
    }
}
