//! `kslink-pad`: the pad stage's command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kslink_pad::{run, DEFAULT_SLACK_PER_MILLE, MAX_SLACK_PER_MILLE};

/// Make the frame (a PadSpec) that the final kallsyms table of a single link must fit, from
/// the first table: the one kslink-table built from the predicted symbols.
///
/// Each array's room is its size in TABLE, plus --slack-per-mille of it for the arrays whose
/// size depends on the symbols (kallsyms_names, _markers, _token_table, _offsets or
/// _addresses, _seqs_of_names; the fixed-size _num_syms, _token_index and _relative_base get
/// none). Each --at-least FILE (a PadSpec, or a KallsymsTable such as the final table of the
/// previous build) raises the rooms to at least its sizes. The arrays are laid out as
/// kslink-table lays them out, each aligned to the pointer size; `kslink-table --frame`
/// then lays a table out in the frame.
///
/// The default slack is 0: with an exact prediction the first table already has the final
/// sizes, and slack would only waste bytes and make the linked image differ from the one
/// upstream's three links make. A misprediction is caught when the final table is built
/// (`kslink-table --frame` exits 3) and costs one relink with a frame raised by --at-least
/// to the final table's sizes.
///
/// Examples:
///
///   kslink-pad -o first.pad first.tbl
///
///   kslink-pad --at-least previous-final.tbl -o first.pad first.tbl
///
/// Exit status: 0 on success; 1 when an input cannot be read or does not serve (not an
/// artifact, a corrupt file, the wrong kind of artifact, --at-least sizes of a table with
/// another profile, layout or set of arrays) or the output cannot be written, with nothing
/// written; 2 on a usage error.
#[derive(Parser, Debug)]
#[command(name = "kslink-pad", version, verbatim_doc_comment)]
struct Cli {
    /// Extra room, in thousandths of each array whose size depends on the symbols
    /// (rounded up).
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_SLACK_PER_MILLE,
        value_parser = clap::value_parser!(u32).range(0..=i64::from(MAX_SLACK_PER_MILLE)),
    )]
    slack_per_mille: u32,
    /// Raise every room to at least this PadSpec's room or this KallsymsTable's array size;
    /// may be given several times.
    #[arg(long, value_name = "FILE")]
    at_least: Vec<PathBuf>,
    /// Write the PadSpec here.
    #[arg(short = 'o', long = "output", value_name = "PADSPEC", required = true)]
    output: PathBuf,
    /// The first table: a KallsymsTable artifact from kslink-table -o.
    #[arg(value_name = "TABLE")]
    table: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli.table, cli.slack_per_mille, &cli.at_least, &cli.output) {
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kslink-pad: error: {err}");
            ExitCode::FAILURE
        }
    }
}
