//! A table laid out in a frame (a [`PadSpec`]): every array at the offset the frame reserves
//! for it, zero bytes from the end of its content to the end of its room. The first table of
//! a single link is emitted in the frame and linked; the final table, laid out in the same
//! frame, is then written over it without moving any array.

use std::fmt;

use kslink_schema::{ArrayKind, KallsymsTable, PadSpec, TableArray, TextRelocation};

/// An array whose content is larger than the room the frame reserves for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Misfit {
    /// The array.
    pub kind: ArrayKind,
    /// Bytes of its content.
    pub needs: u64,
    /// Bytes the frame reserves for it.
    pub reserves: u64,
}

impl fmt::Display for Misfit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} needs {} bytes but the frame reserves {} ({} short)",
            self.kind.label(),
            self.needs,
            self.reserves,
            self.needs - self.reserves
        )
    }
}

/// Why a table cannot be laid out in a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The frame is not one for tables like this one (another profile, layout or set of
    /// arrays), or not a consistent frame at all: what is wrong.
    Mismatch(String),
    /// Arrays that do not fit their rooms, in table order: the frame is too small for this
    /// table and the link has to be redone with a larger one.
    Misfit(Vec<Misfit>),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Mismatch(what) => f.write_str(what),
            FrameError::Misfit(misfits) => write_misfits(misfits, f),
        }
    }
}

/// The misfits as one line, separated by commas.
pub(crate) fn write_misfits(misfits: &[Misfit], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for (i, misfit) in misfits.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{misfit}")?;
    }
    Ok(())
}

impl std::error::Error for FrameError {}

/// Lays out `table`, as [`crate::BuiltTable::to_artifact`] makes it (arrays back to back),
/// in `frame`: the result's `data` is the whole frame, each array at its reserved offset with
/// its content's size, its room beyond the content zero, and the `_text` relocations moved
/// with their arrays.
///
/// A frame that [`PadSpec::lay_out`] made from this table's own sizes gives the table back
/// unchanged.
pub fn fit_in_frame(table: KallsymsTable, frame: &PadSpec) -> Result<KallsymsTable, FrameError> {
    frame
        .check_layout()
        .map_err(|what| FrameError::Mismatch(format!("not a consistent frame: {what}")))?;
    let kinds: Vec<ArrayKind> = table.arrays.iter().map(|array| array.kind).collect();
    frame
        .check_matches(&table.profile, table.layout, &kinds)
        .map_err(FrameError::Mismatch)?;
    let misfits: Vec<Misfit> = table
        .arrays
        .iter()
        .zip(&frame.arrays)
        .filter(|(content, room)| content.size > room.size)
        .map(|(content, room)| Misfit {
            kind: content.kind,
            needs: content.size,
            reserves: room.size,
        })
        .collect();
    if !misfits.is_empty() {
        return Err(FrameError::Misfit(misfits));
    }

    let mut data = vec![0u8; frame.size as usize];
    let mut arrays = Vec::with_capacity(table.arrays.len());
    for (content, room) in table.arrays.iter().zip(&frame.arrays) {
        let from = content.offset as usize..(content.offset + content.size) as usize;
        let to = room.offset as usize;
        data[to..to + from.len()].copy_from_slice(&table.data[from]);
        arrays.push(TableArray {
            kind: content.kind,
            offset: room.offset,
            size: content.size,
        });
    }
    let text_relocations = table
        .text_relocations
        .iter()
        .map(|relocation| {
            let (content, room) = table
                .arrays
                .iter()
                .zip(&frame.arrays)
                .find(|(content, _)| {
                    (content.offset..content.offset + content.size).contains(&relocation.offset)
                })
                .expect("every relocated field lies in an array");
            TextRelocation {
                offset: relocation.offset - content.offset + room.offset,
                ..*relocation
            }
        })
        .collect();
    Ok(KallsymsTable {
        data,
        arrays,
        text_relocations,
        ..table
    })
}

/// The zero bytes that follow each array's content in a table laid out in `frame` (by
/// [`fit_in_frame`]), in table order: what [`crate::BuiltTable::write_asm_padded`] takes.
pub fn frame_padding(frame: &PadSpec, framed: &KallsymsTable) -> Vec<u64> {
    frame
        .arrays
        .iter()
        .zip(&framed.arrays)
        .map(|(room, content)| room.size - content.size)
        .collect()
}
