//! The plan of `kslink link`: the steps a link runs, in order, as data ([`StepKind`],
//! [`ONE_LINK`]), and one function per step that says what it runs, what it reads and what it
//! writes ([`Plan::step`]). The pipeline (`link.rs`) runs the plan and changes it where an
//! outcome asks for more: the table's object for a larger frame, a relink after a misfit.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use crate::link::LinkRequest;
use crate::step::{Action, Installed, Step};

/// A step of a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StepKind {
    /// The final symbols, predicted from the link's inputs (`kslink-collect --predict`).
    Predict,
    /// The first table, and its object (`kslink-table --emit-object`).
    Table,
    /// The frame: the first table's sizes, or a remembered larger one (`kslink-pad`).
    Pad,
    /// The table's object in a frame larger than the first table (`kslink-table --frame`).
    Object,
    /// The one link, with the table's object.
    Link,
    /// The linked file's symbols, and its System.map (`kslink-collect --linked`).
    Collect,
    /// The final table, in the frame (`kslink-table --frame --tokens-from`).
    Final,
    /// Where the frame is in the linked file (`kslink-locate`).
    Locate,
    /// The final table written over the first, read back and checked (`kslink-patch`).
    Patch,
    /// The linked file and its System.map put in place (the driver itself).
    Install,
    /// After a misfit: the final table at its own sizes (`kslink-table`).
    Measure,
    /// After a misfit: a frame that holds it, kept for later builds (`kslink-pad`).
    Remember,
    /// The BTF made from the link's inputs, confirmed against the linked file (`kslink-btf
    /// check`): only with `--btf-view`.
    Btf,
}

use StepKind::*;

/// The steps of a link whose frame is its first table's own and whose final table fits it.
pub const ONE_LINK: [StepKind; 9] = [
    Predict, Table, Pad, Link, Collect, Final, Locate, Patch, Install,
];

/// The steps of `--prepare`: those before the link (and the object step after a pad step
/// whose frame is larger than the first table).
pub const PREPARE: [StepKind; 3] = [Predict, Table, Pad];

/// What runs before the install when the link carries a BTF made from its inputs: the check
/// of the file that would be installed.
pub const BTF: [StepKind; 1] = [Btf];

/// What runs after a pad step whose frame is larger than the first table.
pub const FRAMED: [StepKind; 1] = [Object];

/// What runs in place of a final step whose table outgrew its frame: the frame it needs,
/// then the link again, up to the final table.
pub const RELINK: [StepKind; 6] = [Measure, Remember, Pad, Link, Collect, Final];

impl StepKind {
    /// The step's name: in the journal, the `--json` report and error messages.
    pub fn name(self) -> &'static str {
        match self {
            Predict => "predict",
            Table => "table",
            Pad => "pad",
            Object => "object",
            Link => "link",
            Collect => "collect",
            Final => "final",
            Locate => "locate",
            Patch => "patch",
            Install => "install",
            Measure => "measure",
            Remember => "remember",
            Btf => "btf",
        }
    }
}

/// The files of a link's work directory, by what they hold.
pub(crate) struct WorkFiles {
    /// The predicted symbols (`SymbolSet`).
    pub(crate) predicted: PathBuf,
    /// The first table (`KallsymsTable`).
    pub(crate) first_table: PathBuf,
    /// The first table's object.
    pub(crate) first_object: PathBuf,
    /// The frame (`PadSpec`).
    pub(crate) frame: PathBuf,
    /// The table's object in a larger frame.
    pub(crate) framed_object: PathBuf,
    /// The linked file, patched in place.
    pub(crate) linked: PathBuf,
    /// The linked file's symbols (`SymbolSet`).
    pub(crate) final_symbols: PathBuf,
    /// The linked file's System.map.
    pub(crate) map: PathBuf,
    /// The final table (`KallsymsTable`).
    pub(crate) final_table: PathBuf,
    /// Where the frame is in the linked file (`TableLocation`).
    pub(crate) location: PathBuf,
    /// What the patch wrote (`PatchReport`).
    pub(crate) report: PathBuf,
    /// A frame remembered from a build whose table outgrew the prediction's (`PadSpec`).
    pub(crate) remembered: PathBuf,
    /// Present when the last build's table fitted without the remembered frame.
    pub(crate) expired: PathBuf,
    /// After a misfit: the table the linked file's symbols need (`KallsymsTable`).
    pub(crate) needed: PathBuf,
    /// What the BTF check found (`BtfFit`).
    pub(crate) btf_fit: PathBuf,
}

impl WorkFiles {
    /// The files of the work directory `work`.
    pub(crate) fn in_dir(work: &Path) -> WorkFiles {
        WorkFiles {
            predicted: work.join("predicted.symbols"),
            first_table: work.join("first.table"),
            first_object: work.join("first.o"),
            frame: work.join("frame.pad"),
            framed_object: work.join("kallsyms.o"),
            linked: work.join("linked"),
            final_symbols: work.join("final.symbols"),
            map: work.join("System.map"),
            final_table: work.join("final.table"),
            location: work.join("location"),
            report: work.join("patch.report"),
            remembered: work.join("remembered.pad"),
            expired: work.join("remembered.expired"),
            needed: work.join("needed.table"),
            btf_fit: work.join("btf.fit"),
        }
    }
}

/// What one link runs: the request, its linker script and its work files.
pub(crate) struct Plan<'a> {
    pub(crate) request: &'a LinkRequest,
    pub(crate) script: PathBuf,
    pub(crate) files: WorkFiles,
}

impl Plan<'_> {
    fn stage(&self, name: &str) -> OsString {
        self.request.stages.executable(name).as_os_str().to_owned()
    }

    /// A stage's command: its executable, then `args`.
    fn stage_command<I, A>(&self, name: &str, args: I) -> Vec<OsString>
    where
        I: IntoIterator<Item = A>,
        A: Into<OsString>,
    {
        std::iter::once(self.stage(name))
            .chain(args.into_iter().map(Into::into))
            .collect()
    }

    fn output_name(&self) -> String {
        self.request.output.display().to_string()
    }

    /// The linker's input files: what the link reads that no step makes.
    fn link_inputs(&self) -> impl Iterator<Item = PathBuf> + '_ {
        self.request.linker.input_files().map(PathBuf::from)
    }

    /// True if `arg` of the linker command is an input that defines no symbols, which the
    /// prediction does not read (`--symbol-free`).
    fn is_symbol_free(&self, arg: &OsStr) -> bool {
        self.request
            .symbol_free
            .iter()
            .any(|file| file.as_os_str() == arg)
    }

    /// The steps of this link, as far as they are known before it runs: [`ONE_LINK`], with
    /// [`BTF`] before the install when the request names a BTF view; up to the pad step
    /// when it prepares.
    pub(crate) fn steps(&self) -> VecDeque<StepKind> {
        if self.request.prepare {
            return PREPARE.into();
        }
        let mut steps: VecDeque<StepKind> = ONE_LINK.into();
        if self.request.btf_view.is_some() {
            let install = steps.pop_back();
            steps.extend(BTF);
            steps.extend(install);
        }
        steps
    }

    /// The step `kind`; `framed` says whether the object step made the table's object (the
    /// link takes that one instead of the first table's own).
    pub(crate) fn step(&self, kind: StepKind, framed: bool) -> Step {
        match kind {
            Predict => self.predict(),
            Table => self.table(),
            Pad => self.pad(),
            Object => self.object(),
            Link => self.link(framed),
            Collect => self.collect(),
            Final => self.final_table(),
            Locate => self.locate(),
            Patch => self.patch(),
            Install => self.install(),
            Measure => self.measure(),
            Remember => self.remember(),
            Btf => self.btf(),
        }
    }

    /// Predict, by the rules of the linker that will link.
    fn predict(&self) -> Step {
        let request = self.request;
        let files = &self.files;
        let mut argv = self.stage_command("collect", ["--predict", "-T"]);
        argv.push(self.script.clone().into());
        argv.extend(request.flags.predict_args());
        argv.extend(["--linker".into(), request.linker.flavour().name().into()]);
        argv.extend(request.linker.kind.predict_flag().map(OsString::from));
        argv.extend(["-o".into(), files.predicted.clone().into()]);
        argv.extend(
            request
                .linker
                .inputs
                .iter()
                .filter(|arg| !self.is_symbol_free(arg))
                .cloned(),
        );
        let inputs = self
            .link_inputs()
            .filter(|input| !self.is_symbol_free(input.as_os_str()));
        Step::new(
            Predict,
            "KSYMS",
            format!("{} (predicted)", self.output_name()),
            Action::Command(argv),
        )
        .external(std::iter::once(self.script.clone()).chain(inputs))
        .outputs(&[&files.predicted])
    }

    /// The first table, and its object in its own frame.
    fn table(&self) -> Step {
        let files = &self.files;
        let mut argv = self.stage_command("table", self.request.flags.table_args());
        argv.extend(["-o".into(), files.first_table.clone().into()]);
        argv.extend(["--emit-object".into(), files.first_object.clone().into()]);
        argv.push(files.predicted.clone().into());
        Step::new(
            Table,
            "KSYMS",
            shown(&files.first_object),
            Action::Command(argv),
        )
        .after(&[Predict])
        .outputs(&[&files.first_table, &files.first_object])
    }

    /// The frame: the first table's sizes, or more where a previous build needed more.
    fn pad(&self) -> Step {
        let files = &self.files;
        let mut argv = self.stage_command("pad", None::<OsString>);
        let mut remembered = Vec::new();
        if files.remembered.exists() {
            argv.extend(["--at-least".into(), files.remembered.clone().into()]);
            remembered.push(files.remembered.clone());
        }
        argv.extend([
            "-o".into(),
            files.frame.clone().into(),
            files.first_table.clone().into(),
        ]);
        Step::new(Pad, "PAD", shown(&files.frame), Action::Command(argv))
            .after(&[Table])
            .external(remembered)
            .outputs(&[&files.frame])
    }

    /// The table's object in a frame larger than the first table.
    fn object(&self) -> Step {
        let files = &self.files;
        let mut argv = self.stage_command("table", self.request.flags.table_args());
        argv.extend(["--frame".into(), files.frame.clone().into()]);
        argv.extend(["--emit-object".into(), files.framed_object.clone().into()]);
        argv.push(files.predicted.clone().into());
        Step::new(
            Object,
            "KSYMS",
            shown(&files.framed_object),
            Action::Command(argv),
        )
        .after(&[Pad, Predict])
        .outputs(&[&files.framed_object])
    }

    /// The one link.
    fn link(&self, framed: bool) -> Step {
        let files = &self.files;
        let (object, made_by) = match framed {
            true => (&files.framed_object, Object),
            false => (&files.first_object, Pad),
        };
        let argv = self
            .request
            .linker
            .with_table(object.as_os_str(), files.linked.as_os_str());
        Step::new(Link, "LD", self.output_name(), Action::Command(argv))
            .after(&[made_by])
            .external(self.link_inputs())
            .outputs(&[&files.linked])
    }

    /// The linked file's own symbols.
    fn collect(&self) -> Step {
        let files = &self.files;
        let mut argv = self.stage_command("collect", self.request.flags.linked_args());
        argv.extend([
            "--linked".into(),
            files.linked.clone().into(),
            "-o".into(),
            files.final_symbols.clone().into(),
            "--emit-map".into(),
            files.map.clone().into(),
        ]);
        Step::new(Collect, "NM", shown(&files.map), Action::Command(argv))
            .after(&[Link])
            .outputs(&[&files.final_symbols, &files.map])
    }

    /// The final table, in the frame.
    fn final_table(&self) -> Step {
        let files = &self.files;
        let mut argv = self.stage_command("table", self.request.flags.table_args());
        argv.extend(["--frame".into(), files.frame.clone().into()]);
        // After an exact prediction the first table's compression is the final one's.
        argv.extend(["--tokens-from".into(), files.first_table.clone().into()]);
        argv.extend(["-o".into(), files.final_table.clone().into()]);
        argv.push(files.final_symbols.clone().into());
        Step::new(
            Final,
            "KSYMS",
            shown(&files.final_table),
            Action::Command(argv),
        )
        .after(&[Collect, Pad, Table])
        .outputs(&[&files.final_table])
    }

    /// Where the first table is in the linked file.
    fn locate(&self) -> Step {
        let files = &self.files;
        let argv = self.stage_command(
            "locate",
            [
                "--frame".into(),
                files.frame.clone().into(),
                "-o".into(),
                files.location.clone().into(),
                files.linked.clone().into(),
            ] as [OsString; 5],
        );
        Step::new(Locate, "LOCATE", self.output_name(), Action::Command(argv))
            .after(&[Link, Pad])
            .outputs(&[&files.location])
    }

    /// The final table written there. The patch step reads its result back and checks it,
    /// as the kernel will read it, against the file's own symbols: nothing is left to verify
    /// before install.
    fn patch(&self) -> Step {
        let files = &self.files;
        let argv = self.stage_command(
            "patch",
            [
                "--location".into(),
                files.location.clone().into(),
                "--table".into(),
                files.final_table.clone().into(),
                "--report".into(),
                files.report.clone().into(),
                "--in-place".into(),
                files.linked.clone().into(),
            ] as [OsString; 8],
        );
        Step::new(Patch, "PATCH", self.output_name(), Action::Command(argv))
            .after(&[Locate, Final, Link])
            .outputs(&[&files.linked, &files.report])
            .rewrites(&files.linked, Link)
    }

    /// The linked file and its System.map where the request wants them.
    fn install(&self) -> Step {
        let files = &self.files;
        let request = self.request;
        let map = request.map_path();
        let installed = vec![
            Installed {
                from: files.linked.clone(),
                to: request.output.clone(),
                shared: true,
            },
            // Outputs of other builds in one directory have one System.map.
            Installed {
                from: files.map.clone(),
                to: map.clone(),
                shared: false,
            },
        ];
        Step::new(
            Install,
            "INSTALL",
            self.output_name(),
            Action::Install(installed),
        )
        .after(&[Patch, Collect])
        .names(&files.linked, Patch)
        .outputs(&[&request.output, &map, &files.linked])
    }

    /// The BTF check of the file that will be installed, against the view pahole read.
    fn btf(&self) -> Step {
        let files = &self.files;
        let view = self
            .request
            .btf_view
            .clone()
            .expect("the BTF step is planned only with a view");
        let argv = self.stage_command(
            "btf",
            [
                "check".into(),
                "--quiet".into(),
                "--view".into(),
                view.clone().into(),
                "--report".into(),
                files.btf_fit.clone().into(),
                files.linked.clone().into(),
            ] as [OsString; 7],
        );
        Step::new(Btf, "BTFCHK", self.output_name(), Action::Command(argv))
            .after(&[Patch])
            .external([view])
            .outputs(&[&files.btf_fit])
    }

    /// After a misfit: the table the linked file's symbols need, at its own sizes.
    fn measure(&self) -> Step {
        let files = &self.files;
        let mut argv = self.stage_command("table", self.request.flags.table_args());
        argv.extend([
            "-o".into(),
            files.needed.clone().into(),
            files.final_symbols.clone().into(),
        ]);
        Step::new(
            Measure,
            "KSYMS",
            shown(&files.needed),
            Action::Command(argv),
        )
        .external([files.final_symbols.clone()])
        .outputs(&[&files.needed])
    }

    /// After a misfit: a frame at least as large as the final table needs, kept for the
    /// relink and for later builds.
    fn remember(&self) -> Step {
        let files = &self.files;
        let mut argv = self.stage_command(
            "pad",
            [OsString::from("--at-least"), files.needed.clone().into()],
        );
        let mut inputs = vec![files.needed.clone(), files.first_table.clone()];
        if files.remembered.exists() {
            argv.extend(["--at-least".into(), files.remembered.clone().into()]);
            inputs.push(files.remembered.clone());
        }
        argv.extend([
            "-o".into(),
            files.remembered.clone().into(),
            files.first_table.clone().into(),
        ]);
        Step::new(
            Remember,
            "PAD",
            shown(&files.remembered),
            Action::Command(argv),
        )
        .external(inputs)
        .outputs(&[&files.remembered])
    }
}

/// A path as progress lines show it.
fn shown(path: &Path) -> String {
    path.display().to_string()
}
