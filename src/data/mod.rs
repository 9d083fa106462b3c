//! The data layer: the contract of DESIGN.md §3, readers that check every cell, writers, and the
//! typed in-memory history the feature code reads. It never computes features or labels.

pub mod column;
pub mod error;
pub mod history;
mod history_image;
pub mod image;
pub mod import;
pub mod plausible;
pub mod read;
pub mod schema;
pub mod summary;
pub mod write;

pub use error::{DataError, Location, Problem, ProblemKind, Problems};
pub use history::{ByMember, History, Interner, MemberIdx, Sym, NONE};
pub use read::{load, load_with, read_dir, read_dir_with, ReadOptions, ReadOutcome, TableReport};
pub use schema::Table;
