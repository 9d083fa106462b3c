//! The expression languages: the import mappings' language (what a contract column is, in terms
//! of a source row) and the selection language (which members a campaign keeps, and the scoring
//! rules over a model's feature row).
//!
//! Both read their text through one lexer (`lex`) and report one positioned error
//! ([`ExprError`]: a message at a 1-based character column). Neither ever runs what a user typed
//! as code: an expression only computes and compares values.

pub mod error;
pub mod import;
pub mod lex;
pub mod select;

pub use self::error::ExprError;
