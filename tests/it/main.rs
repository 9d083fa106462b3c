//! One integration test binary (links once), a module per area.

mod agreement;
mod audience;
mod benefits;
mod challenger;
mod cli;
mod common;
mod diagnose;
mod drift;
mod export;
mod features;
mod floors;
mod gangs;
mod generate;
mod import;
mod members;
#[cfg(feature = "gbm")]
mod model;
mod read;
mod replay;
mod replicas;
mod report;
mod rules;
mod serve;
mod serve_live;
mod start_image;
mod trust;
