//! `kslink-btf`: the BTF stage's command line.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// BTF in one link: the view of a kernel's link inputs that pahole reads instead of a first
/// linked vmlinux, and the check that the linked file's .BTF fits the file.
///
/// The view is vmlinux.o and the other objects of vmlinux's link, gathered as the script
/// `kslink-btf view-script` writes gathers them: the contents of the kernel's `.data..percpu`
/// and `/DISCARD/` output sections, copied from the tree's preprocessed linker script, so that
/// pahole finds the per-cpu variables where the linked vmlinux has them and no symbol that
/// the link discards. `kslink-btf view` writes it from the objects, as `ld -r` with that
/// script would gather them but without that link: an executable file, its sections at
/// addresses and its debug information relocated, which pahole reads as it reads a linked
/// vmlinux. The kernel's own BTF steps (7.x: gen-btf.sh) then make the .BTF from the view.
///
/// After the link, `kslink-btf check` confirms the .BTF against the linked file: each data
/// section's size, each variable's offset and size against the symbol table, and (with
/// --view) each function of the view that it names against the file's function symbols. A
/// .BTF that does not fit is one line and exit status 3: link the kernel's own way.
///
/// Examples:
///
///   kslink-btf view-script -T arch/x86/kernel/vmlinux.lds -o .tmp_kslink/btf-view.lds
///
///   kslink-btf view -T .tmp_kslink/btf-view.lds -o .tmp_kslink/btf-view vmlinux.o .vmlinux.export.o init/version-timestamp.o
///
///   kslink-btf check --view .tmp_kslink/btf-view --report .tmp_kslink/btf.fit vmlinux.unstripped
///
/// Exit status: 0 on success; 1 when an input cannot be read or an output written (nothing is
/// written then); 2 on a usage error; 3 when the .BTF does not fit the file.
#[derive(Parser, Debug)]
#[command(name = "kslink-btf", version, verbatim_doc_comment)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write the script of the BTF input view from the kernel's preprocessed linker script.
    ViewScript {
        /// The kernel's preprocessed linker script (arch/ARCH/kernel/vmlinux.lds).
        #[arg(short = 'T', long = "script", value_name = "SCRIPT")]
        script: PathBuf,
        /// Write the view's script here.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: PathBuf,
    },
    /// Make the BTF input view from the objects of vmlinux's link, as `ld -r` with the
    /// view's script would gather them: an executable file with the per-cpu section laid
    /// out where the script places it, the other sections after it, the symbols' values and
    /// the debug information relocated to those addresses, and no relocations.
    View {
        /// The view's script, as `kslink-btf view-script` wrote it.
        #[arg(short = 'T', long = "script", value_name = "SCRIPT")]
        script: PathBuf,
        /// Write the view here.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: PathBuf,
        /// Order the view's global symbols as this file's (`ld -r --strip-debug -T SCRIPT`
        /// of the objects), as GNU ld will order them: pahole names a per-cpu variable after
        /// one of the symbols at its address, which one by their order, and GNU ld writes
        /// them in the order of its hash table.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["hidden_first", "order_linker"])]
        symbol_order: Option<PathBuf>,
        /// Order the view's global symbols as ld.lld will: hidden definitions (which it
        /// writes as local symbols) first, then the others, each in link order.
        #[arg(long, conflicts_with = "order_linker")]
        hidden_first: bool,
        /// The objects, in link order (vmlinux.o first); one `ld -r` of them with the view's
        /// script will do as well.
        #[arg(value_name = "OBJECT", required = true)]
        objects: Vec<PathBuf>,
        /// After `--`, GNU ld and its options (the kernel's `$(LD) $(KBUILD_LDFLAGS)`): order
        /// the view's global symbols as that linker will, as --symbol-order does, from the
        /// relocatable link it makes of the objects' symbol skeletons (FILE.order.N.o: each
        /// object's section headers and symbols, without their contents, which that linker
        /// orders as it orders the objects') with `-r --strip-debug -T SCRIPT -o
        /// FILE.order.o` added. It runs while the view's sections are gathered and
        /// relocated; its files are removed once read.
        #[arg(last = true, value_name = "LD ARGS")]
        order_linker: Vec<OsString>,
    },
    /// Check that the .BTF of a linked file fits the file.
    Check {
        /// The file pahole read (the BTF input view): the BTF's functions that are functions
        /// of it must be functions of ELF.
        #[arg(long, value_name = "FILE")]
        view: Option<PathBuf>,
        /// Write the BtfFit artifact here (`kslink show` prints it).
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
        /// Say nothing when the BTF fits (`kslink link`'s btf step: its report says it).
        #[arg(short, long)]
        quiet: bool,
        /// The linked file.
        #[arg(value_name = "ELF")]
        elf: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::ViewScript { script, output } => kslink_btf::write_view_script(script, output),
        Command::View {
            script,
            output,
            symbol_order,
            hidden_first,
            objects,
            order_linker,
        } => {
            let order = match (symbol_order, hidden_first) {
                (Some(file), _) => kslink_btf::SymbolOrderSource::File(file),
                (None, true) => kslink_btf::SymbolOrderSource::HiddenFirst,
                (None, false) if !order_linker.is_empty() => {
                    kslink_btf::SymbolOrderSource::Link(order_linker)
                }
                (None, false) => kslink_btf::SymbolOrderSource::Inputs,
            };
            kslink_btf::write_view(script, order, objects, output)
        }
        Command::Check {
            view,
            report,
            quiet,
            elf,
        } => kslink_btf::check_file(elf, view.as_deref(), report.as_deref()).map(|fit| {
            if !quiet {
                let variables: u32 = fit.sections.iter().map(|s| s.variables).sum();
                println!(
                    "{}: the BTF fits: {} types, {} functions, {} variables in {} sections",
                    fit.file,
                    fit.types,
                    fit.functions,
                    variables,
                    fit.sections.len()
                );
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kslink-btf: error: {err}");
            ExitCode::from(err.exit_status())
        }
    }
}
