pub mod data;
pub mod expr;
pub mod features;
pub mod generate;
pub mod members;
pub mod model;
pub mod report;
pub mod serve;
