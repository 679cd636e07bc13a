//! The Microsoft Graph client: access tokens, the request budget and retries, user listing and
//! paging through `getAllEnterpriseInteractions`.

pub mod auth;
pub mod certificate;
pub mod client;
pub mod error;
pub mod interactions;
pub mod model;
pub mod permissions;
pub mod rate;
pub mod retry;
pub mod sanitize;
pub mod users;

pub use client::GraphClient;
pub use error::{GraphError, UserOutcome};
pub use interactions::{InteractionQuery, UserHistory, Window};
