//! `kslink-verify`: decodes a kallsyms table and prints it as `/proc/kallsyms` would.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kslink_schema::artifact::{self, ArtifactKind};
use kslink_schema::fsio::{io_reason, AtomicFile, MappedFile};
use kslink_schema::KallsymsTable;
use kslink_verify::{view_artifact, view_elf, write_proc_kallsyms, ElfDecodeOptions};

/// Decode a kallsyms table the way the kernel reads it and list its symbols as
/// /proc/kallsyms does: `ADDR TYPE NAME` in table order.
///
/// FILE is a KallsymsTable artifact (from kslink-table -o), a relocatable object
/// (kslink-table --emit-object, or gcc -c of upstream's .S), or a linked ELF such as vmlinux;
/// in ELF files the arrays are found by their kallsyms_* labels.
///
/// Examples:
///
///   kslink-verify vmlinux > kallsyms.txt
///
///   kslink-verify --check --text-address 0xffffffff81000000 kallsyms.o
///
/// Exit status: 0 on success, 1 if the file cannot be read or its table is inconsistent,
/// 2 on a usage error.
#[derive(Parser, Debug)]
#[command(name = "kslink-verify", version, verbatim_doc_comment)]
struct Cli {
    /// Read offsets as CONFIG_KALLSYMS_ABSOLUTE_PERCPU does (ELF input; default: guess
    /// from the offsets).
    #[arg(long, conflicts_with = "no_absolute_percpu")]
    absolute_percpu: bool,
    /// Read offsets as unsigned (ELF input; default: guess from the offsets).
    #[arg(long)]
    no_absolute_percpu: bool,
    /// Read a 7.x table's offsets as place-relative, as --pc-relative makes them (ELF
    /// input; default: decide from the file).
    #[arg(long, conflicts_with = "no_pc_relative")]
    pc_relative: bool,
    /// Read a 7.x table's offsets as addresses (ELF input; default: decide from the file).
    #[arg(long)]
    no_pc_relative: bool,
    /// The address of `_text` when FILE is a relocatable object (default 0).
    #[arg(long, value_name = "ADDR", value_parser = parse_address)]
    text_address: Option<u64>,
    /// Also check markers, token index and name order against the names.
    #[arg(long)]
    check: bool,
    /// Write the listing here (atomically) instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// The table: an artifact or an ELF file.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

fn parse_address(text: &str) -> Result<u64, String> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    u64::from_str_radix(digits, 16).map_err(|e| format!("{text:?} is not a hex address: {e}"))
}

fn run(cli: &Cli) -> Result<(), String> {
    let shown = cli.file.display();
    // A file changed underneath would at worst decode to garbage, which the checks report.
    let file = MappedFile::open(&cli.file).map_err(|e| format!("{shown}: {}", io_reason(&e)))?;
    let map = file.bytes();
    let table: KallsymsTable;
    let elf;
    let view = match artifact::sniff(map) {
        Some(kind) => {
            let kind = kind.map_err(|e| format!("{shown}: {e}"))?;
            if kind != ArtifactKind::KallsymsTable {
                return Err(format!(
                    "{shown}: holds a {kind} artifact, expected a KallsymsTable or an ELF file"
                ));
            }
            table = artifact::decode(map).map_err(|e| format!("{shown}: {e}"))?;
            view_artifact(&table)
        }
        None => {
            elf = object::File::parse(map)
                .map_err(|e| format!("{shown}: not an ELF file or a kslink artifact: {e}"))?;
            let options = ElfDecodeOptions {
                absolute_percpu: match (cli.absolute_percpu, cli.no_absolute_percpu) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
                text_address: cli.text_address.unwrap_or(0),
                pc_relative: match (cli.pc_relative, cli.no_pc_relative) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
            };
            view_elf(&elf, options)
        }
    }
    .map_err(|e| format!("{shown}: {e}"))?;
    if cli.check {
        view.check().map_err(|e| format!("{shown}: {e}"))?;
    }
    let symbols = view.symbols().map_err(|e| format!("{shown}: {e}"))?;
    match &cli.output {
        Some(path) => {
            let out_shown = path.display();
            let mut out = AtomicFile::create(path).map_err(|e| format!("{out_shown}: {e}"))?;
            write_proc_kallsyms(&symbols, view.pointer_bytes(), &mut out)
                .and_then(|()| out.commit())
                .map_err(|e| format!("{out_shown}: {e}"))
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            write_proc_kallsyms(&symbols, view.pointer_bytes(), &mut out)
                .and_then(|()| out.flush())
                .map_err(|e| format!("standard output: {e}"))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("kslink-verify: error: {message}");
            ExitCode::FAILURE
        }
    }
}
