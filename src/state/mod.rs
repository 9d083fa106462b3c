//! A tenant's online state: the event contract and the fold of events into a history
//! (`events`), where acknowledged events, lists and rules are kept (`store`: the `EventStore`
//! trait, redb behind it), and the tenant itself (`tenant`): its snapshot (history, models, every
//! member's score, swapped whole), its online sign-up state and the events acknowledged since
//! the snapshot. Nothing here knows HTTP; `crate::serve` maps [`StateError`] to status codes.

pub mod dir;
pub mod events;
pub mod export;
pub mod image;
pub mod kept;
pub mod replay;
pub mod shadow;
pub mod snapshot;
pub mod snapshots;
pub mod store;
pub mod tenant;

use std::path::PathBuf;

pub use events::{Event, EventError, Folded};
pub use store::{Appended, EventStore, Logged, PgStore, RedbStore, StoreError};
pub use tenant::{Candidate, Models, Refreshed, Tenant};

/// What can go wrong in a tenant's state, each with what caused it.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    List(#[from] crate::scoring::lists::ListError),
    #[error(transparent)]
    Rules(#[from] crate::scoring::rules::RuleError),
    /// A field of a request whose value makes no sense: `field: why`.
    #[error("{field}: {why}")]
    InvalidField { field: &'static str, why: String },
    #[error("{0}")]
    MissingField(&'static str),
    #[error("member '{0}' is already a member")]
    MemberExists(String),
    #[error("member '{0}' is not known")]
    UnknownMember(String),
    #[error("member '{0}' joined after the scores' as-of time")]
    NotScored(String),
    #[error("this scorer runs without a state folder (--state): events cannot be kept")]
    NoEventStore,
    #[error("no model file at {}", .0.display())]
    UnknownModel(PathBuf),
    /// A model that does not fit or fails its checks; the old one keeps serving.
    #[error("{0}")]
    ModelRefused(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The model failed on a row it should score.
    #[error("scoring: {0}")]
    Score(#[source] crate::model::artefact::ArtefactError),
    #[error("an export named '{0}' exists; set replace to write over it")]
    ExportExists(String),
    #[error("export: {0}")]
    Export(#[source] Box<export::ExportError>),
    #[error("no challenger model is set for this tenant")]
    NoChallenger,
    #[error("a previous request failed while holding the state")]
    Poisoned,
}
