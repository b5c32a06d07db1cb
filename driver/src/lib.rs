//! The kslink driver: links an image that carries a kallsyms table once, where upstream
//! Linux links it three times.
//!
//! [`link::link`] runs the steps: predict the final symbols from the link inputs, build the
//! first table and a frame for it, link once with the table's object, read the linked file's
//! own symbols, build the final table in the frame, find the frame in the linked file and
//! write the final table over the first (read back and checked), and install. Every step but the link and the
//! install is a stage executable ([`stages`]) exchanging artifact files (`kslink-schema`), so
//! any of them can be replaced; every finished step is recorded ([`journal`]), so an
//! interrupted build resumes where it stopped. [`demo`] runs the embedded example.

#![deny(missing_docs)]

pub mod demo;
mod error;
pub mod interrupt;
pub mod journal;
pub mod link;
pub mod linker;
pub mod plan;
pub mod progress;
pub mod show;
pub mod stages;
mod step;
