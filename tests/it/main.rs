//! One integration test binary (links once), a module per area.

mod common;
mod generate;
mod import;
mod read;
