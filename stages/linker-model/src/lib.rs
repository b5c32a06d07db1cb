//! kslink's linker model: the symbols a link of given inputs and linker script will define,
//! and the letters `nm` will give them, predicted before the link by GNU ld's or lld's rules
//! ([`kslink_schema::LinkerFlavour`]).
//!
//! [`predict()`] does it all (see [`mod@predict`] for the steps and what cannot be
//! predicted); its parts follow the linker's own order: [`inputs`] and [`archive`] read the
//! command line's files, [`relocatable`] an object's sections and symbols, [`resolve`] picks
//! the members and definitions that are linked, [`linker`] adds what the linker itself
//! creates, [`layout`] places every input section, [`assign`] evaluates the script's
//! assignments and [`text_ranges`] the bounds of the text. The script comes from
//! `kslink-linker-script`, the System.map rules and letters from `kslink-system-map`, and the
//! kallsyms table's labels from the caller, as data ([`TableLabels`]).

#![deny(missing_docs)]

pub mod archive;
pub mod assign;
mod error;
pub mod inputs;
pub mod layout;
pub mod linker;
pub mod predict;
pub mod relocatable;
pub mod resolve;
pub mod text_ranges;

pub use error::PredictError;
pub use predict::{predict, TableLabels};
