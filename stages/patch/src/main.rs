//! `kslink-patch`: the patch stage's command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser};
use kslink_patch::{patch, read_artifact, Output, PatchError};
use kslink_schema::fsio::AtomicFile;
use kslink_schema::{artifact, KallsymsTable, TableLocation};

/// Write the final kallsyms table over the first one in a linked ELF file, and check it.
///
/// LOCATION (from kslink-locate) says where ELF holds each array of the first table and
/// how much room the frame reserved; FINAL (from kslink-table, built from ELF's own
/// symbols) is written there, each array zero-filled to its room, together with the final
/// value of kallsyms_relative_base (6.1: of each kallsyms_addresses entry) and the addend of
/// every relocation record the link kept for them. Before anything is written, the file
/// must be the one LOCATION was taken from and FINAL must fit. Afterwards the file is read
/// back: the table decoded from it must be FINAL, and every symbol in it must agree with
/// the file's own symbol table.
///
/// With -o, ELF is copied beside OUT, patched, checked, and renamed to OUT: OUT is never
/// half-patched, and a failure leaves it as it was. With --in-place, ELF itself is patched;
/// running the same patch again writes nothing, so an interrupted patch is completed by
/// running it again.
///
/// Examples:
///
///   kslink-patch --location vmlinux.location --table final.table -o vmlinux .tmp_vmlinux
///
///   kslink-patch --location l --table t --report patch.report --in-place vmlinux
///
/// Exit status: 0 on success, 1 when an input cannot be read, the inputs do not belong
/// together, or the patched file fails its check, 2 on a usage error, 3 when the final
/// table does not fit the frame (one line names each array and its shortfall).
#[derive(Parser, Debug)]
#[command(name = "kslink-patch", version, verbatim_doc_comment)]
struct Cli {
    /// Where ELF holds the first table (TableLocation artifact from kslink-locate).
    #[arg(long, value_name = "LOCATION")]
    location: PathBuf,
    /// The final table (KallsymsTable artifact from kslink-table).
    #[arg(long, value_name = "FINAL")]
    table: PathBuf,
    /// Write a PatchReport artifact: arrays written, pad waste, relocations updated,
    /// symbols verified, bytes changed.
    #[arg(long, value_name = "REPORT")]
    report: Option<PathBuf>,
    #[command(flatten)]
    output: OutputArgs,
    /// The linked ELF file.
    #[arg(value_name = "ELF")]
    elf: PathBuf,
}

#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
struct OutputArgs {
    /// Write the patched file here (a patched copy, renamed into place once checked).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: Option<PathBuf>,
    /// Patch ELF itself.
    #[arg(long)]
    in_place: bool,
}

fn run(cli: &Cli) -> Result<(), PatchError> {
    let location: TableLocation = read_artifact(&cli.location)?;
    let table: KallsymsTable = read_artifact(&cli.table)?;
    let output = match &cli.output.output {
        Some(path) => Output::Copy(path),
        None => Output::InPlace,
    };
    let patched = patch(&cli.elf, output, &location, &table)?;
    // The report is written under a temporary name first, so that a report that cannot be
    // written stops the run before the output is renamed into place.
    let report_file = match &cli.report {
        None => None,
        Some(path) => {
            let io_error = |source| PatchError::Io {
                path: path.display().to_string(),
                source,
            };
            let mut file = AtomicFile::create(path).map_err(io_error)?;
            std::io::Write::write_all(&mut file, &artifact::encode(patched.report()))
                .map_err(io_error)?;
            Some((file, path))
        }
    };
    patched.commit()?;
    if let Some((file, path)) = report_file {
        file.commit().map_err(|source| PatchError::Io {
            path: path.display().to_string(),
            source,
        })?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kslink-patch: error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
