//! The start-of-run check of the access token's application permissions (its `roles` claim),
//! so a missing admin consent ends the run with the fix instead of a 403 for every user.

use super::auth::{Secret, claims};
use super::error::GraphError;

/// The application permission that `getAllEnterpriseInteractions` needs.
pub const INTERACTION_PERMISSION: &str = "AiEnterpriseInteraction.Read.All";

/// How the run finds its users, which decides the directory permission it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserListing {
    /// The users are given; no directory read.
    None,
    /// `GET /users` filtered on `assignedLicenses`.
    LicensedUsers,
    /// `GET /groups/{id}/transitiveMembers/microsoft.graph.user`.
    GroupMembers,
}

impl UserListing {
    /// The application permissions that allow the listing, least privileged first, as
    /// Microsoft Graph's v1.0 reference pages for "List users" and "List group transitive
    /// members" give them.
    fn accepted(self) -> &'static [&'static str] {
        match self {
            UserListing::None => &[],
            UserListing::LicensedUsers => {
                &["User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"]
            }
            UserListing::GroupMembers => &[
                "GroupMember.Read.All",
                "Group.Read.All",
                "GroupMember.ReadWrite.All",
                "Group.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
        }
    }

    fn purpose(self) -> &'static str {
        match self {
            UserListing::None => "",
            UserListing::LicensedUsers => {
                "listing the users who hold a license needs it (or pass --user or --users-file)"
            }
            UserListing::GroupMembers => "listing the members of --group needs it (or pass --user or --users-file)",
        }
    }
}

/// Checks the `roles` claim of `token` for the permissions of the run. An opaque token, whose
/// claims cannot be read, passes: Graph itself then answers 403.
pub fn check_roles(token: &Secret, listing: UserListing) -> Result<(), GraphError> {
    let Some(claims) = claims(token.expose()) else {
        tracing::debug!("the access token is not a JWT; skipping the permission check");
        return Ok(());
    };
    let roles = claims.roles;
    let shown = if roles.is_empty() { "none".to_owned() } else { roles.join(", ") };
    let has = |permission: &str| roles.iter().any(|role| role == permission);

    if !has(INTERACTION_PERMISSION) {
        return Err(GraphError::MissingPermission {
            permission: INTERACTION_PERMISSION.to_owned(),
            roles: shown,
            needed_for: "reading Copilot interaction history needs it".to_owned(),
        });
    }
    let accepted = listing.accepted();
    if let Some(least) = accepted.first()
        && !accepted.iter().any(|permission| has(permission))
    {
        return Err(GraphError::MissingPermission {
            permission: (*least).to_owned(),
            roles: shown,
            needed_for: listing.purpose().to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn token(roles: &[&str]) -> Secret {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::json!({ "exp": 1, "roles": roles }).to_string());
        Secret::new(format!("e30.{payload}.sig"))
    }

    #[test]
    fn interaction_permission_is_required() {
        let error = check_roles(&token(&["User.Read.All"]), UserListing::None).expect_err("missing");
        let text = error.to_string();
        assert!(text.contains("lacks the application permission AiEnterpriseInteraction.Read.All"), "{text}");
        assert!(text.contains("its roles: User.Read.All"), "{text}");
        assert!(text.contains("grant admin consent"), "{text}");
        assert!(error.is_fatal_for_run());
    }

    #[test]
    fn listing_needs_a_directory_permission() {
        let only_interactions = token(&[INTERACTION_PERMISSION]);
        assert!(check_roles(&only_interactions, UserListing::None).is_ok());
        let error = check_roles(&only_interactions, UserListing::LicensedUsers).expect_err("no User.Read.All");
        assert!(error.to_string().contains("permission User.Read.All"), "{error}");
        let error = check_roles(&only_interactions, UserListing::GroupMembers).expect_err("no GroupMember.Read.All");
        assert!(error.to_string().contains("permission GroupMember.Read.All"), "{error}");

        let directory = token(&[INTERACTION_PERMISSION, "Directory.Read.All"]);
        assert!(check_roles(&directory, UserListing::LicensedUsers).is_ok());
        assert!(check_roles(&directory, UserListing::GroupMembers).is_ok());
    }

    #[test]
    fn opaque_token_passes() {
        assert!(check_roles(&Secret::new("opaque"), UserListing::LicensedUsers).is_ok());
    }

    #[test]
    fn token_without_roles_names_none() {
        let error = check_roles(&token(&[]), UserListing::None).expect_err("no roles");
        assert!(error.to_string().contains("its roles: none"), "{error}");
    }
}
