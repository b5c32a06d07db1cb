//! Frames for tests and benchmarks, until the pad stage makes them.

use kslink_schema::{KallsymsTable, PadSpec};

/// A frame of exactly `table`'s own array sizes, each array at the offset the table stage
/// gives it: what `kslink-pad` makes with no slack, and the frame a kernel linked by
/// upstream's `scripts/link-vmlinux.sh` holds its table in.
pub fn exact_frame(table: &KallsymsTable) -> PadSpec {
    let rooms: Vec<_> = table
        .arrays
        .iter()
        .map(|array| (array.kind, array.size))
        .collect();
    PadSpec::lay_out(&table.profile, table.layout, &rooms, table.num_syms, 0)
}
