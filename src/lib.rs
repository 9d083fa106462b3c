pub mod data;
pub mod generate;
