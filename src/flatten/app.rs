//! The `app` column: the Copilot app an interaction happened in, from its `appClass`.

/// The prefix of every Copilot `appClass`; the app name follows it.
const APP_CLASS_PREFIX: &str = "IPM.SkypeTeams.Message.Copilot.";

/// The canonical spelling of each app seen in exported histories: the product's own spelling
/// (`PowerPoint`, `OneNote`, `SharePoint`), or the `appClass` suffix where the app is not a
/// product of its own (`BizChat`, `WebChat`, `CoworkChat`). Matched without regard to case,
/// because `Powerpoint` and `PowerPoint` both occur.
const KNOWN_APPS: &[&str] = &[
    "BizChat",
    "CoworkChat",
    "Excel",
    "Forms",
    "Loop",
    "OneNote",
    "Outlook",
    "PowerPoint",
    "SharePoint",
    "Teams",
    "WebChat",
    "Whiteboard",
    "Word",
];

/// Returns the app of an `appClass` such as `IPM.SkypeTeams.Message.Copilot.Powerpoint`
/// (`PowerPoint`), or `None` when the value does not have the Copilot prefix or has nothing
/// after it.
pub fn app_name(app_class: &str) -> Option<&str> {
    let prefix = app_class.get(..APP_CLASS_PREFIX.len())?;
    if !prefix.eq_ignore_ascii_case(APP_CLASS_PREFIX) {
        return None;
    }
    let suffix = app_class[APP_CLASS_PREFIX.len()..].trim();
    if suffix.is_empty() {
        return None;
    }
    // NOTE: an app missing from KNOWN_APPS keeps the spelling of its appClass, so two spellings
    // of a new app stay two values until the app is added to the list.
    let known = KNOWN_APPS.iter().find(|app| app.eq_ignore_ascii_case(suffix));
    Some(known.copied().unwrap_or(suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_app_merge() {
        assert_eq!(app_name("IPM.SkypeTeams.Message.Copilot.Powerpoint"), Some("PowerPoint"));
        assert_eq!(app_name("IPM.SkypeTeams.Message.Copilot.PowerPoint"), Some("PowerPoint"));
        assert_eq!(app_name("ipm.skypeteams.message.copilot.BIZCHAT"), Some("BizChat"));
    }

    #[test]
    fn unknown_apps_keep_their_spelling() {
        assert_eq!(app_name("IPM.SkypeTeams.Message.Copilot.Planner"), Some("Planner"));
    }

    #[test]
    fn other_values_have_no_app() {
        assert_eq!(app_name("IPM.SkypeTeams.Message.Copilot."), None);
        assert_eq!(app_name("IPM.SkypeTeams.Message"), None);
        assert_eq!(app_name("IPM.Note"), None);
        assert_eq!(app_name(""), None);
        // A multi-byte character where the prefix would end must not split a character.
        assert_eq!(app_name("IPM.SkypeTeams.Message.Copilotö"), None);
    }
}
