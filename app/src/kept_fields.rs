//! What a form without JavaScript keeps when its post fails, so the page it returns to shows what
//! was typed: the policy, in one place, for the server layer that keeps and the field that shows.

/// What a browser without JavaScript typed into a form that came back with an error (never a
/// password, code or token), so the page it returns to shows it again.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeptFields(pub Vec<(String, String)>);

/// The fields a failed form may keep: the names of the text inputs that show a kept value
/// (`components::Field`), none of them a secret. Anything else a post carries stays out of
/// the session, so no one can park data in the database through a failing form (review L1).
pub const KEPT_FIELD_NAMES: [&str; 3] = ["username", "email", "name"];
/// A longer value is no valid username, email address or organization name.
pub const MAX_KEPT_VALUE_BYTES: usize = 256;
/// What one failed form may add to a session, at most.
pub const MAX_KEPT_BYTES: usize = 4 * 1024;
// Each name is kept once, so the list and the value limit bound the total.
const _: () = assert!(KEPT_FIELD_NAMES.len() * (16 + MAX_KEPT_VALUE_BYTES) <= MAX_KEPT_BYTES);

/// The first value of each keepable field, when it is short enough.
pub fn fields_to_keep(fields: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut kept: Vec<(String, String)> = Vec::new();
    for (name, value) in fields {
        let keepable = KEPT_FIELD_NAMES.contains(&name.as_str())
            && value.len() <= MAX_KEPT_VALUE_BYTES
            && !kept.iter().any(|(seen, _)| *seen == name);
        if keepable {
            kept.push((name, value));
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn no_secret_is_a_keepable_field() {
        for secret in [
            "password",
            "code",
            "recovery_code",
            "token",
            "__page",
            "__err",
        ] {
            assert!(!KEPT_FIELD_NAMES.contains(&secret), "{secret}");
        }
    }

    #[test]
    fn a_failed_form_keeps_the_first_short_value_of_each_known_field() {
        let long = "x".repeat(MAX_KEPT_VALUE_BYTES + 1);
        let posted = fields(&[
            ("password", "secret"),
            ("username", "alice"),
            ("junk", "y"),
            ("__page", "/login"),
            ("email", &long),
            ("email", "a@example.com"),
            ("username", "mallory"),
            ("code", "123456"),
            ("name", "Acme"),
        ]);
        assert_eq!(
            fields_to_keep(posted),
            fields(&[
                ("username", "alice"),
                ("email", "a@example.com"),
                ("name", "Acme")
            ])
        );
    }

    #[test]
    fn a_flood_of_fields_keeps_at_most_one_of_each() {
        let posted: Vec<(String, String)> = (0..1000)
            .map(|i| {
                (
                    KEPT_FIELD_NAMES[i % 3].to_owned(),
                    "z".repeat(MAX_KEPT_VALUE_BYTES),
                )
            })
            .collect();
        let kept = fields_to_keep(posted);
        let bytes: usize = kept
            .iter()
            .map(|(name, value)| name.len() + value.len())
            .sum();
        assert_eq!(kept.len(), KEPT_FIELD_NAMES.len());
        assert!(bytes <= MAX_KEPT_BYTES, "{bytes}");
    }
}
