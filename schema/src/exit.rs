//! The exit statuses of every kslink process, stage or driver, so that a caller can tell why
//! one failed without reading its message.

/// The input could not be read, made sense of, or linked; or an output could not be written.
pub const FAILURE: u8 = 1;

/// The command line does not make sense (clap's own status for a usage error).
pub const USAGE: u8 = 2;

/// The final table does not fit the frame it must fill: distinct from other failures because
/// the cure is known (link again with a frame sized from this table, `kslink-pad
/// --at-least`), and the driver acts on it.
pub const MISFIT: u8 = 3;
