//! copilot-lake: lands Microsoft 365 Copilot interaction history from Microsoft Graph in a
//! date-partitioned Parquet lake.
//!
//! The pipeline, one folder a stage:
//! - [`graph`]: the Graph client (tokens, user listing, interaction paging) and the record model;
//! - [`flatten`]: records into the five Arrow tables, and their schemas;
//! - [`sink`]: Parquet files staged and published through `object_store`;
//! - [`sync`]: the orchestration of one run, from the plan to the committed lake;
//! - [`privacy`]: the content and pseudonymization controls applied before flattening;
//! - [`simulate`]: a Graph simulator for the demo, the tests and users without a tenant.

pub mod cli;
pub mod compact;
pub mod demo;
pub mod failpoint;
pub mod flatten;
pub mod graph;
pub mod privacy;
pub mod simulate;
pub mod sink;
pub mod sync;
