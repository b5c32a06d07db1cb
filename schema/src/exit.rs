//! The exit statuses of every kslink process, stage or driver, so that a caller can tell why
//! one failed without reading its message.

/// The input could not be read, made sense of, or linked; or an output could not be written.
pub const FAILURE: u8 = 1;

/// The command line does not make sense (clap's own status for a usage error).
pub const USAGE: u8 = 2;

/// The output does not fit what it must: the final table its frame, or a BTF the linked file
/// (`kslink-btf check`). Distinct from other failures because the cure is known, and the
/// caller acts on it: link again with a frame sized from this table (`kslink-pad
/// --at-least`), or make the BTF the kernel's own way, from a linked file.
pub const MISFIT: u8 = 3;
