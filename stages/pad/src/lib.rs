//! kslink's pad stage: the frame ([`PadSpec`]) that the final kallsyms table of a single link
//! must fit, made from the first table (the one built from the predicted symbols, before the
//! link).
//!
//! The first table is emitted in the frame and linked; the final table, built from the
//! linked file's own symbols, is laid out in the same frame and written over it. Each array's
//! room is:
//!
//! - its size in the first table,
//! - plus [`slack`](room_with_slack) for the arrays whose size depends on the symbols
//!   ([`ArrayKind::size_depends_on_symbols`]: names, markers, token table, offsets or
//!   addresses, seqs_of_names; `kallsyms_num_syms`, `kallsyms_token_index` and
//!   `kallsyms_relative_base` never change size and get none),
//! - raised to at least the size in each [`Floor`] (`--at-least`: a previous frame, or a
//!   table such as the final table of the previous build).
//!
//! The arrays are then laid out as the table stage lays them out ([`PadSpec::lay_out`]).
//!
//! # Why the default slack is 0
//!
//! With an exact prediction (a non-LTO kernel: the objects' symbols minus what the linker
//! script discards, plus what it assigns, plus the table's labels) the first table already
//! has exactly the final table's sizes. Any slack would then be pure waste, and it would
//! move everything linked after the table, so that the single-linked image would no longer
//! equal the one upstream's three links make. A prediction that misses (LTO, linker-made
//! veneers and thunks) is caught by the table stage (`kslink-table --frame` exits 3, naming
//! each array that is short), and the driver relinks once with a frame raised by
//! `--at-least` to the final table's sizes, and keeps that table to raise the next build's
//! frame. So a misfit costs one relink, never a wrong kernel, while slack would cost bytes
//! and upstream identity on every build. A build that is known to mispredict can ask for
//! slack with `--slack-per-mille`.
//!
//! Predicting more symbols than the link keeps is no guarantee of a fit either: with fewer
//! symbols, compression can pick tokens with longer expansions, so `kallsyms_token_table`
//! can grow (on Debian's 6.12 System.map, dropping every seventh symbol makes it 27 bytes
//! larger), while names, markers, offsets and seqs_of_names only shrink.

#![deny(missing_docs)]

use std::fmt;
use std::path::Path;

use kslink_schema::{
    artifact, artifact::Lookalike, ArrayKind, ArtifactError, ArtifactKind, DataLayout,
    KallsymsTable, PadSpec,
};

/// The slack used when none is asked for: none (see the crate documentation).
pub const DEFAULT_SLACK_PER_MILLE: u32 = 0;

/// The largest slack accepted: ten times an array's size is far beyond any misprediction,
/// and the bound keeps the arithmetic exact.
pub const MAX_SLACK_PER_MILLE: u32 = 10_000;

/// An array's room: `size`, plus `slack_per_mille` thousandths of it (rounded up) when the
/// array's size depends on the symbols.
pub fn room_with_slack(kind: ArrayKind, size: u64, slack_per_mille: u32) -> u64 {
    if kind.size_depends_on_symbols() {
        size + (size * u64::from(slack_per_mille)).div_ceil(1000)
    } else {
        size
    }
}

/// Sizes that a frame's rooms must reach (`--at-least`): another frame's rooms, or a table's
/// array sizes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Floor {
    /// Where the sizes came from, for messages.
    pub source: String,
    /// The profile of the table they are for.
    pub profile: String,
    /// The layout of the table they are for.
    pub layout: DataLayout,
    /// Each array's size, in table order.
    pub sizes: Vec<(ArrayKind, u64)>,
}

impl Floor {
    /// The rooms of a frame.
    pub fn from_frame(frame: &PadSpec, source: &str) -> Floor {
        Floor {
            source: source.to_owned(),
            profile: frame.profile.clone(),
            layout: frame.layout,
            sizes: frame.rooms(),
        }
    }

    /// The array sizes of a table.
    pub fn from_table(table: &KallsymsTable, source: &str) -> Floor {
        Floor {
            source: source.to_owned(),
            profile: table.profile.clone(),
            layout: table.layout,
            sizes: table
                .arrays
                .iter()
                .map(|array| (array.kind, array.size))
                .collect(),
        }
    }

    /// Reads a [`PadSpec`] or [`KallsymsTable`] artifact, told apart by its header. A frame
    /// must be consistent ([`PadSpec::check_layout`]).
    pub fn read(path: &Path) -> Result<Floor, PadError> {
        let shown = path.display().to_string();
        let artifact_error = |source| PadError::Artifact {
            path: shown.clone(),
            source,
        };
        let bytes = std::fs::read(path).map_err(|source| {
            artifact_error(ArtifactError::Io {
                path: path.to_owned(),
                source,
            })
        })?;
        let kind = artifact::sniff(&bytes)
            .ok_or_else(|| ArtifactError::NotAnArtifact(Lookalike::of(&bytes)))
            .and_then(|kind| kind)
            .map_err(artifact_error)?;
        match kind {
            ArtifactKind::PadSpec => {
                let frame: PadSpec = artifact::decode(&bytes).map_err(artifact_error)?;
                frame.check_layout().map_err(|what| PadError::Input {
                    path: shown.clone(),
                    what: format!("not a consistent frame: {what}"),
                })?;
                Ok(Floor::from_frame(&frame, &shown))
            }
            ArtifactKind::KallsymsTable => {
                let table: KallsymsTable = artifact::decode(&bytes).map_err(artifact_error)?;
                Ok(Floor::from_table(&table, &shown))
            }
            other => Err(PadError::Input {
                path: shown,
                what: format!("holds a {other} artifact, expected a PadSpec or a KallsymsTable"),
            }),
        }
    }

    /// Checks that the sizes are for tables like `table`: the same profile, layout and
    /// arrays in the same order.
    fn check_matches(&self, table: &KallsymsTable, table_source: &str) -> Result<(), PadError> {
        let mismatch = |what: String| {
            Err(PadError::Input {
                path: self.source.clone(),
                what,
            })
        };
        if self.profile != table.profile {
            return mismatch(format!(
                "sizes of a {} table cannot raise the frame of {table_source}, a {} table",
                self.profile, table.profile
            ));
        }
        if self.layout != table.layout {
            return mismatch(format!(
                "sizes of a table with {} cannot raise the frame of {table_source}, which has {}",
                self.layout, table.layout
            ));
        }
        if !self
            .sizes
            .iter()
            .map(|&(kind, _)| kind)
            .eq(table.arrays.iter().map(|array| array.kind))
        {
            let labels = |kinds: &mut dyn Iterator<Item = ArrayKind>| {
                kinds.map(ArrayKind::label).collect::<Vec<_>>().join(" ")
            };
            return mismatch(format!(
                "sizes of {} cannot raise the frame of {table_source}, which has {} \
                 (other generator options?)",
                labels(&mut self.sizes.iter().map(|&(kind, _)| kind)),
                labels(&mut table.arrays.iter().map(|array| array.kind))
            ));
        }
        Ok(())
    }
}

/// The frame for `table` (read from `table_source`, named in messages): each array's room is
/// its size plus [`room_with_slack`]'s slack, raised to each floor's size.
pub fn pad_spec(
    table: &KallsymsTable,
    table_source: &str,
    slack_per_mille: u32,
    floors: &[Floor],
) -> Result<PadSpec, PadError> {
    for floor in floors {
        floor.check_matches(table, table_source)?;
    }
    let mut rooms = Vec::with_capacity(table.arrays.len());
    for (i, array) in table.arrays.iter().enumerate() {
        let room = floors.iter().map(|floor| floor.sizes[i].1).fold(
            room_with_slack(array.kind, array.size, slack_per_mille),
            u64::max,
        );
        if room > PadSpec::MAX_ROOM {
            return Err(PadError::Input {
                path: table_source.to_owned(),
                what: format!(
                    "{} would need a room of {room} bytes, more than any table can need ({})",
                    array.kind.label(),
                    PadSpec::MAX_ROOM
                ),
            });
        }
        rooms.push((array.kind, room));
    }
    Ok(PadSpec::lay_out(
        &table.profile,
        table.layout,
        &rooms,
        table.num_syms,
        slack_per_mille,
    ))
}

/// Why no frame was made; each a single line that names the file at fault.
#[derive(Debug)]
pub enum PadError {
    /// An artifact could not be read or written, or is not of the kind expected.
    Artifact {
        /// The file.
        path: String,
        /// Why.
        source: ArtifactError,
    },
    /// An input was read but does not serve: what is wrong with it.
    Input {
        /// The file.
        path: String,
        /// What is wrong.
        what: String,
    },
}

impl fmt::Display for PadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // An I/O error of an artifact names its file already.
            PadError::Artifact {
                source: source @ ArtifactError::Io { .. },
                ..
            } => write!(f, "{source}"),
            PadError::Artifact { path, source } => write!(f, "{path}: {source}"),
            PadError::Input { path, what } => write!(f, "{path}: {what}"),
        }
    }
}

impl std::error::Error for PadError {}

/// Reads the first table from `table_path` and the floors from `at_least`, and writes the
/// frame to `output` (atomically: on any error, `output` is left as it was).
pub fn run(
    table_path: &Path,
    slack_per_mille: u32,
    at_least: &[impl AsRef<Path>],
    output: &Path,
) -> Result<PadSpec, PadError> {
    let table_source = table_path.display().to_string();
    let table: KallsymsTable = artifact::read(table_path).map_err(|source| PadError::Artifact {
        path: table_source.clone(),
        source,
    })?;
    let floors = at_least
        .iter()
        .map(|path| Floor::read(path.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    let frame = pad_spec(&table, &table_source, slack_per_mille, &floors)?;
    artifact::write(output, &frame).map_err(|source| PadError::Artifact {
        path: output.display().to_string(),
        source,
    })?;
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_goes_to_the_arrays_that_depend_on_the_symbols_only() {
        assert_eq!(room_with_slack(ArrayKind::Names, 1000, 0), 1000);
        assert_eq!(room_with_slack(ArrayKind::Names, 1000, 25), 1025);
        assert_eq!(room_with_slack(ArrayKind::Names, 1001, 1), 1003);
        assert_eq!(room_with_slack(ArrayKind::SeqsOfNames, 3, 1), 4);
        assert_eq!(room_with_slack(ArrayKind::TokenIndex, 512, 500), 512);
        assert_eq!(room_with_slack(ArrayKind::NumSyms, 4, 500), 4);
        assert_eq!(room_with_slack(ArrayKind::RelativeBase, 8, 500), 8);
        assert_eq!(
            room_with_slack(ArrayKind::Offsets, PadSpec::MAX_ROOM, MAX_SLACK_PER_MILLE),
            PadSpec::MAX_ROOM * 11
        );
    }
}
