//! `PadSpec`: the frame a final table must fit, and the layout arithmetic both sides share.

use serde::{Deserialize, Serialize};

use crate::{ArrayKind, Artifact, ArtifactKind, DataLayout, TableArray};

/// The reserved room of every table array: the frame that the first table is emitted in and
/// the final table must fit, so that no array moves between the link and the patch.
///
/// `arrays` lists every array of the table in table order; each entry's `offset` is where its
/// label sits from the start of the table and its `size` the bytes reserved for its content.
/// The offsets follow from the sizes: each array starts at the end of the previous one's room,
/// rounded up to the profile's alignment ([`PadSpec::array_alignment`], the `.balign` of the
/// upstream `.S`).
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
    /// The largest room a frame may reserve for one array: `kallsyms_markers` holds 32-bit
    /// offsets into `kallsyms_names`, so no array of a valid table is larger, and rooms this
    /// small cannot overflow the layout arithmetic.
    pub const MAX_ROOM: u64 = u32::MAX as u64;

    /// The profiles whose generator aligns every array to 4 bytes on every target (7.x's
    /// `\t.balign 4`); the others align to the pointer size (6.x's `ALGN`). The table stage's
    /// profiles say the same (a test there checks it).
    pub const FOUR_BYTE_ALIGNED_PROFILES: &'static [&'static str] = &["linux-7.3"];

    /// What every array of a table of `profile` for a target of `layout` is aligned to, in
    /// bytes.
    pub fn array_alignment(profile: &str, layout: DataLayout) -> u64 {
        if Self::FOUR_BYTE_ALIGNED_PROFILES.contains(&profile) {
            4
        } else {
            u64::from(layout.pointer_bytes)
        }
    }

    /// Lays out arrays of the given kinds and rooms, in that order, as the table stage does:
    /// each array starts at the end of the previous one, aligned to
    /// [`PadSpec::array_alignment`].
    pub fn lay_out(
        profile: &str,
        layout: DataLayout,
        rooms: &[(ArrayKind, u64)],
        num_syms: u32,
        slack_per_mille: u32,
    ) -> PadSpec {
        let align = Self::array_alignment(profile, layout);
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

    /// Checks that the frame is one that [`PadSpec::lay_out`] makes: a pointer size of 4 or
    /// 8, every array once, no room over [`PadSpec::MAX_ROOM`], each offset where the rooms
    /// before it put it, and `size` the end of the last room. A frame read from a file is
    /// checked before use, so that a hand-made or foreign one cannot make a stage lay arrays
    /// over each other. The error says what is wrong, for a message about the frame's file.
    pub fn check_layout(&self) -> Result<(), String> {
        if !matches!(self.layout.pointer_bytes, 4 | 8) {
            return Err(format!(
                "the frame has {}-byte pointers; tables have 4- or 8-byte ones",
                self.layout.pointer_bytes
            ));
        }
        for (i, array) in self.arrays.iter().enumerate() {
            if self.arrays[..i]
                .iter()
                .any(|other| other.kind == array.kind)
            {
                return Err(format!("{} is reserved twice", array.kind.label()));
            }
            if array.size > Self::MAX_ROOM {
                return Err(format!(
                    "{} reserves {} bytes, more than any table can need ({})",
                    array.kind.label(),
                    array.size,
                    Self::MAX_ROOM
                ));
            }
        }
        let expected = PadSpec::lay_out(
            &self.profile,
            self.layout,
            &self.rooms(),
            self.num_syms,
            self.slack_per_mille,
        );
        for (array, expected) in self.arrays.iter().zip(&expected.arrays) {
            if array.offset != expected.offset {
                return Err(format!(
                    "{} is at offset {}, but the rooms before it put it at {}",
                    array.kind.label(),
                    array.offset,
                    expected.offset
                ));
            }
        }
        if self.size != expected.size {
            return Err(format!(
                "the frame is {} bytes, but its rooms end at {}",
                self.size, expected.size
            ));
        }
        Ok(())
    }

    /// Each array's kind and room, in table order: what [`PadSpec::lay_out`] takes.
    pub fn rooms(&self) -> Vec<(ArrayKind, u64)> {
        self.arrays
            .iter()
            .map(|array| (array.kind, array.size))
            .collect()
    }

    /// Checks that a table of the given profile, layout and arrays (in table order) can be
    /// laid out in this frame: the same profile, the same layout, the same arrays in the same
    /// order. The error says what differs, as "the frame ...; this table ...".
    pub fn check_matches(
        &self,
        profile: &str,
        layout: DataLayout,
        kinds: &[ArrayKind],
    ) -> Result<(), String> {
        if self.profile != profile {
            return Err(format!(
                "the frame was made for a {} table; this table is {profile}",
                self.profile
            ));
        }
        if self.layout != layout {
            return Err(format!(
                "the frame was made for {}; this table has {layout}",
                self.layout
            ));
        }
        if !self
            .arrays
            .iter()
            .map(|array| array.kind)
            .eq(kinds.iter().copied())
        {
            let labels = |kinds: &mut dyn Iterator<Item = ArrayKind>| {
                kinds.map(ArrayKind::label).collect::<Vec<_>>().join(" ")
            };
            return Err(format!(
                "the frame reserves {}; this table has {} (other generator options?)",
                labels(&mut self.arrays.iter().map(|array| array.kind)),
                labels(&mut kinds.iter().copied())
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAYOUT: DataLayout = DataLayout {
        pointer_bytes: 8,
        big_endian: false,
    };

    fn frame() -> PadSpec {
        PadSpec::lay_out(
            "linux-6.12",
            LAYOUT,
            &[
                (ArrayKind::NumSyms, 4),
                (ArrayKind::Names, 13),
                (ArrayKind::Markers, 4),
            ],
            3,
            0,
        )
    }

    #[test]
    fn lay_out_aligns_each_array_to_the_pointer_size() {
        let frame = frame();
        let offsets: Vec<u64> = frame.arrays.iter().map(|a| a.offset).collect();
        assert_eq!(offsets, [0, 8, 24]);
        assert_eq!(frame.size, 28);
        assert_eq!(frame.check_layout(), Ok(()));
    }

    #[test]
    fn lay_out_aligns_7x_arrays_to_4_bytes_on_64_bit_targets() {
        let frame = PadSpec::lay_out(
            "linux-7.3",
            LAYOUT,
            &[
                (ArrayKind::NumSyms, 4),
                (ArrayKind::Names, 13),
                (ArrayKind::Markers, 4),
            ],
            3,
            0,
        );
        let offsets: Vec<u64> = frame.arrays.iter().map(|a| a.offset).collect();
        assert_eq!(offsets, [0, 4, 20]);
        assert_eq!(frame.size, 24);
        assert_eq!(frame.check_layout(), Ok(()));
        let mut as_6_12 = frame.clone();
        as_6_12.profile = "linux-6.12".into();
        assert!(as_6_12
            .check_layout()
            .unwrap_err()
            .contains("kallsyms_names is at offset 4"));
    }

    #[test]
    fn check_layout_rejects_frames_lay_out_does_not_make() {
        let mut moved = frame();
        moved.arrays[2].offset = 32;
        assert!(moved
            .check_layout()
            .unwrap_err()
            .contains("kallsyms_markers"));
        let mut short = frame();
        short.size = 24;
        assert!(short
            .check_layout()
            .unwrap_err()
            .contains("rooms end at 28"));
        let mut twice = frame();
        twice.arrays[1].kind = ArrayKind::NumSyms;
        assert!(twice.check_layout().unwrap_err().contains("twice"));
        let mut huge = frame();
        huge.arrays[2].size = u64::MAX;
        assert!(huge.check_layout().unwrap_err().contains("more than"));
        let mut odd = frame();
        odd.layout.pointer_bytes = 3;
        assert!(odd.check_layout().is_err());
    }

    #[test]
    fn check_matches_names_what_differs() {
        let frame = frame();
        let kinds = [ArrayKind::NumSyms, ArrayKind::Names, ArrayKind::Markers];
        assert_eq!(frame.check_matches("linux-6.12", LAYOUT, &kinds), Ok(()));
        assert!(frame
            .check_matches("linux-6.1", LAYOUT, &kinds)
            .unwrap_err()
            .contains("linux-6.1"));
        let small = DataLayout {
            pointer_bytes: 4,
            big_endian: true,
        };
        assert!(frame
            .check_matches("linux-6.12", small, &kinds)
            .unwrap_err()
            .contains("4-byte pointers, big-endian"));
        assert!(frame
            .check_matches("linux-6.12", LAYOUT, &kinds[..2])
            .unwrap_err()
            .contains("kallsyms_markers"));
    }
}
