//! `PadSpec`: the frame a final table must fit, and the layout arithmetic both sides share.

use serde::{Deserialize, Serialize};

use crate::{ArrayKind, Artifact, ArtifactKind, DataLayout, TableArray};

/// The reserved room of every table array: the frame that the first table is emitted in and
/// the final table must fit, so that no array moves between the link and the patch.
///
/// `arrays` lists every array of the table in table order; each entry's `offset` is where its
/// label sits from the start of the table and its `size` the bytes reserved for its content.
/// The offsets follow from the sizes: each array starts at the end of the previous one's room,
/// rounded up to the pointer size (the `.balign` of the upstream `.S`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PadSpec {
    /// The kernel-version profile of the table the frame was made for.
    pub profile: String,
    /// Byte order and word size of the table.
    pub layout: DataLayout,
    /// Each array's reserved offset and room, in table order.
    pub arrays: Vec<TableArray>,
    /// Bytes from the first array's label to the end of the last array's room.
    pub size: u64,
    /// Symbols of the table the frame was sized from (the predicted count).
    pub num_syms: u32,
    /// The slack the frame adds over that table, in per mille of each variable array.
    pub slack_per_mille: u32,
}

impl Artifact for PadSpec {
    const KIND: ArtifactKind = ArtifactKind::PadSpec;
}

impl PadSpec {
    /// Lays out arrays of the given kinds and rooms, in that order, as the table stage does:
    /// each array starts at the end of the previous one, aligned to the pointer size.
    pub fn lay_out(
        profile: &str,
        layout: DataLayout,
        rooms: &[(ArrayKind, u64)],
        num_syms: u32,
        slack_per_mille: u32,
    ) -> PadSpec {
        let align = u64::from(layout.pointer_bytes);
        let mut offset = 0u64;
        let mut arrays = Vec::with_capacity(rooms.len());
        for &(kind, size) in rooms {
            offset = offset.next_multiple_of(align);
            arrays.push(TableArray { kind, offset, size });
            offset += size;
        }
        PadSpec {
            profile: profile.to_string(),
            layout,
            arrays,
            size: offset,
            num_syms,
            slack_per_mille,
        }
    }

    /// The reserved room of the array of the given kind, if the frame has it.
    pub fn array(&self, kind: ArrayKind) -> Option<&TableArray> {
        self.arrays.iter().find(|array| array.kind == kind)
    }
}
