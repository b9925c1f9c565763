//! Rules for what people type at sign-up and sign-in: plain functions, shared by the server and
//! the browser, so the same words explain a mistake in both.

use std::borrow::Cow;

/// Usernames are case-insensitive: they are kept in lower case.
pub const USERNAME_LENGTH: std::ops::RangeInclusive<usize> = 3..=32;
/// NIST 800-63B §5.1.1.2: at least 8 characters, and long passphrases allowed.
pub const PASSWORD_LENGTH: std::ops::RangeInclusive<usize> = 8..=128;
/// RFC 5321 §4.5.3.1.3: a path is at most 256 octets, so an address at most 254.
const EMAIL_MAX_LENGTH: usize = 254;

/// A username as accounts are keyed: trimmed and in lowercase, the one place that is done.
/// `Username::parse` also checks the rules a name must meet; `Username::canonical` only folds,
/// for looking a typed name up (one that breaks the rules names no account).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, Cow<'static, str>> {
        normalize_username(raw).map(Self)
    }

    pub fn canonical(raw: &str) -> Self {
        Self(raw.trim().to_ascii_lowercase())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn normalize_username(raw: &str) -> Result<String, Cow<'static, str>> {
    let username = Username::canonical(raw).0;
    if username.is_empty() {
        return Err("Enter a username.".into());
    }
    if !USERNAME_LENGTH.contains(&username.chars().count()) {
        return Err(format!(
            "A username has {} to {} characters.",
            USERNAME_LENGTH.start(),
            USERNAME_LENGTH.end()
        )
        .into());
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
    if !username.chars().all(allowed) {
        return Err("Use only letters a–z, digits, _ and - in a username.".into());
    }
    Ok(username)
}

/// A syntax check only: whether the mailbox exists is shown by the verification email.
pub fn normalize_email(raw: &str) -> Result<String, &'static str> {
    let email = raw.trim();
    if email.is_empty() {
        return Err("Enter an email address.");
    }
    let invalid = "Enter an email address like name@example.com.";
    if email.len() > EMAIL_MAX_LENGTH || email.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid);
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(invalid);
    };
    let domain_ok = domain.contains('.')
        && domain
            .split('.')
            .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'))
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
    if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
        return Err(invalid);
    }
    Ok(email.to_owned())
}

pub fn check_new_password(password: &str) -> Result<(), Cow<'static, str>> {
    let length = password.chars().count();
    if length == 0 {
        return Err("Enter a password.".into());
    }
    if length < *PASSWORD_LENGTH.start() {
        return Err(format!(
            "Use at least {} characters for your password.",
            PASSWORD_LENGTH.start()
        )
        .into());
    }
    if length > *PASSWORD_LENGTH.end() {
        return Err(format!(
            "Use at most {} characters for your password.",
            PASSWORD_LENGTH.end()
        )
        .into());
    }
    Ok(())
}

/// Where a browser goes when the place asked for is not a path on this site.
pub const FALLBACK_PATH: &str = crate::paths::PORTAL;

/// Where to send a browser: `target` if it is a path on this site, else the portal. Every place
/// Portal sends a browser to goes through here (`redirect` below, the server's layers, the key
/// and passkey sign-ins), so a crafted link cannot send anyone to another site (an open
/// redirect).
pub fn safe_next_path(target: &str) -> &str {
    if is_local_path(target) {
        target
    } else {
        FALLBACK_PATH
    }
}

/// Where a browser goes once signed in: the security page when an organization's requirement
/// holds the account (its wizard comes first), else `next` if it is a path on this site, else the
/// portal.
pub fn after_sign_in(held: bool, next: &str) -> &str {
    // The way back to an app (OpenID Connect, forward-auth) sees the hold itself: it keeps where
    // it was going for after the wizard.
    let back_to_app = [
        crate::paths::OIDC_CONTINUE,
        crate::paths::FORWARD_AUTH_CONTINUE,
    ]
    .iter()
    .any(|way| {
        next.strip_prefix(way)
            .is_some_and(|rest| rest.starts_with('?'))
    });
    if held && !back_to_app {
        crate::paths::SECURITY
    } else {
        safe_next_path(next)
    }
}

/// The `rd` (the app's address to return to) of a sign-in link's query, if any. nginx writes it
/// unencoded and last (`rd=https://app/x?a=1&b=2`): an `rd` that starts with a scheme takes the
/// rest of the query whole; an encoded one is decoded.
pub fn rd_of(query: &str) -> Option<String> {
    let query = query.strip_prefix('?').unwrap_or(query);
    let start = if query.starts_with("rd=") {
        3
    } else {
        query.find("&rd=")? + 4
    };
    let value = &query[start..];
    if value.starts_with("https://") || value.starts_with("http://") {
        return Some(value.to_owned());
    }
    let encoded = value.split('&').next().unwrap_or_default();
    let decoded = url_decoded(encoded);
    (!decoded.is_empty()).then_some(decoded)
}

/// A query value's `%XX` and `+` decoded (invalid UTF-8 replaced).
fn url_decoded(value: &str) -> String {
    let bytes = value.as_bytes();
    let hex = |at: usize| bytes.get(at).and_then(|&byte| (byte as char).to_digit(16));
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match (bytes[at], hex(at + 1), hex(at + 2)) {
            (b'%', Some(high), Some(low)) => {
                decoded.push((high * 16 + low) as u8);
                at += 3;
            }
            (b'+', ..) => {
                decoded.push(b' ');
                at += 1;
            }
            (byte, ..) => {
                decoded.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// The way back to the app at `rd` (a full URL) after signing in: forward-auth's
/// `/auth/continue`, which checks `rd` against the access rules.
pub fn forward_auth_continue(rd: &str) -> String {
    format!(
        "{}?rd={}",
        crate::paths::FORWARD_AUTH_CONTINUE,
        encode_component(rd)
    )
}

/// Whether `target` is a path on this site, however a browser, a proxy or a later redirect reads
/// it. Only visible ASCII: a browser drops tabs and newlines inside a URL (`/\t/host` is
/// `//host`), and a `Location` header carries nothing else. No backslash: a browser reads it as
/// `/`. The path (before `?` or `#`) starts with one `/` and has no empty segment (`//host` is
/// another host; `/x/..//host` becomes `//host`), and so does each percent-decoding of it
/// (`/%2F/host`, `/%5Chost`, `/%09/host`): a browser keeps those in the path, but a proxy or a
/// redirect that echoes the path may decode them. Portal's own paths never need any of it.
pub fn is_local_path(target: &str) -> bool {
    if !target.bytes().all(|byte| byte.is_ascii_graphic()) || target.contains('\\') {
        return false;
    }
    let end = target.find(['?', '#']).unwrap_or(target.len());
    let mut path = target.as_bytes()[..end].to_vec();
    loop {
        let plain = path.first() == Some(&b'/')
            && !path.windows(2).any(|pair| pair == b"//")
            && !path
                .iter()
                .any(|&byte| byte == b'\\' || byte == b' ' || byte.is_ascii_control());
        if !plain {
            return false;
        }
        match percent_decoded(&path) {
            Some(decoded) => path = decoded,
            None => return true,
        }
    }
}

/// `bytes` with each `%XX` decoded; None when there is none (each decoding is shorter, so
/// decoding again and again ends).
pub fn percent_decoded(bytes: &[u8]) -> Option<Vec<u8>> {
    let hex = |at: usize| bytes.get(at).and_then(|&byte| (byte as char).to_digit(16));
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match (bytes[at], hex(at + 1), hex(at + 2)) {
            (b'%', Some(high), Some(low)) => {
                decoded.push((high * 16 + low) as u8);
                at += 3;
            }
            (byte, ..) => {
                decoded.push(byte);
                at += 1;
            }
        }
    }
    (decoded.len() < bytes.len()).then_some(decoded)
}

/// Sends the browser to `target` once the server function answers (Leptos' redirect), if it is
/// a path on this site, else to the portal. Server functions redirect only through here.
#[cfg(feature = "ssr")]
pub fn redirect(target: &str) {
    leptos_axum::redirect(safe_next_path(target));
}

/// Spellings of another site, or of no path at all, that an attacker puts where Portal takes a
/// place to go (`next`, a page's path, `__page`): scheme-relative and backslashed hosts (a
/// browser reads `\\` as `/`), a decimal IP, tabs and newlines (a browser drops them inside a
/// URL), leading whitespace, schemes, the same percent-encoded once or twice, dot segments that
/// leave an empty segment. One list, so the helper's unit tests and the server's class test
/// (`server/tests/integration/hardening/redirects.rs`) try the same ones.
pub const OFF_SITE_TARGETS: [&str; 36] = [
    "",
    "//evil.example/x",
    "//3627734734/x",
    "///evil.example/x",
    "//evil%2Eexample/x",
    "/\\evil.example/x",
    "/\\/evil.example/x",
    "/\\\\evil.example/x",
    "\\\\evil.example/x",
    "\\/evil.example/x",
    "/\t/evil.example/x",
    "/\n/evil.example/x",
    "/\r/evil.example/x",
    "/\r\n/evil.example/x",
    "/%09/evil.example/x",
    "/%0A/evil.example/x",
    "/%0d%0a/evil.example/x",
    "/%2F/evil.example/x",
    "/%2f%2fevil.example/x",
    "%2F%2Fevil.example/x",
    "/%5Cevil.example/x",
    "/%5c/evil.example/x",
    "/%252F/evil.example/x",
    "/x/..//evil.example/x",
    "/.%2F%2Fevil.example/x",
    " //evil.example/x",
    "\t//evil.example/x",
    "\u{0}//evil.example/x",
    "/\u{3000}/evil.example/x",
    "https://evil.example/x",
    "https:evil.example/x",
    "HTTPS://evil.example/x",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/x\r\nLocation: https://evil.example/x",
    "/x\u{7f}//evil.example/x",
];

/// Percent-encodes all but RFC 3986's unreserved characters: safe in a path segment, a query
/// value or an otpauth label.
pub fn encode_component(part: &str) -> String {
    part.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A character that shows nothing of itself or changes how its neighbours show: control characters
/// (a terminal runs ESC sequences) and the zero-width and bidirectional formatting characters
/// (which make one text read as another).
pub fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// `text` with its invisible characters written as escapes (`\u{1b}`), for a terminal; all other
/// text, any script, prints as it is.
pub fn escape_invisible(text: &str) -> String {
    text.chars()
        .map(|c| {
            if is_invisible(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercased_and_trimmed() {
        assert_eq!(normalize_username("  Alice_01 ").unwrap(), "alice_01");
        assert_eq!(normalize_username("bob-smith").unwrap(), "bob-smith");
    }

    #[test]
    fn usernames_outside_the_rules_are_refused() {
        assert_eq!(normalize_username(""), Err("Enter a username.".into()));
        assert_eq!(
            normalize_username("ab"),
            Err("A username has 3 to 32 characters.".into())
        );
        assert!(normalize_username("ab").is_err());
        assert!(normalize_username(&"a".repeat(33)).is_err());
        assert!(normalize_username(&"a".repeat(32)).is_ok());
        assert!(normalize_username("al ice").is_err());
        assert!(normalize_username("alice@home").is_err());
        assert!(normalize_username("ålice").is_err());
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert_eq!(normalize_email(" a@example.com ").unwrap(), "a@example.com");
        assert!(normalize_email("A.B+tag@sub.example.org").is_ok());
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@localhost",
            "a b@example.com",
            "a@ex..com",
            "a@-x.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn passwords_have_8_to_128_characters() {
        assert_eq!(check_new_password(""), Err("Enter a password.".into()));
        assert_eq!(
            check_new_password("1234567"),
            Err("Use at least 8 characters for your password.".into())
        );
        assert_eq!(
            check_new_password(&"x".repeat(129)),
            Err("Use at most 128 characters for your password.".into())
        );
        assert!(check_new_password("1234567").is_err());
        assert!(check_new_password("12345678").is_ok());
        assert!(check_new_password(&"é".repeat(128)).is_ok());
        assert!(check_new_password(&"x".repeat(129)).is_err());
    }

    #[test]
    fn components_are_percent_encoded_but_for_unreserved_characters() {
        assert_eq!(encode_component("/portal?x=1"), "%2Fportal%3Fx%3D1");
        assert_eq!(encode_component("Acme & Co"), "Acme%20%26%20Co");
        assert_eq!(encode_component("a-b_c.d~e"), "a-b_c.d~e");
    }

    #[test]
    fn rd_is_read_encoded_or_as_nginx_writes_it() {
        assert_eq!(
            rd_of("rd=https%3A%2F%2Fapp.test%2Fx%3Fa%3D1%26b%3D2").as_deref(),
            Some("https://app.test/x?a=1&b=2")
        );
        assert_eq!(
            rd_of("rd=https://app.test/x?a=1&b=2").as_deref(),
            Some("https://app.test/x?a=1&b=2")
        );
        assert_eq!(
            rd_of("?notice=x&rd=http://app.test/").as_deref(),
            Some("http://app.test/")
        );
        assert_eq!(rd_of("next=%2Fportal"), None);
        assert_eq!(rd_of("xrd=https://a"), None);
        assert_eq!(rd_of("rd="), None);
    }

    #[test]
    fn a_held_account_goes_to_the_wizard_unless_it_is_on_its_way_back_to_an_app() {
        assert_eq!(after_sign_in(true, "/portal"), "/settings/security");
        assert_eq!(
            after_sign_in(true, "/auth/continuex?rd=a"),
            "/settings/security"
        );
        assert_eq!(
            after_sign_in(true, "/auth/continue?rd=a"),
            "/auth/continue?rd=a"
        );
        assert_eq!(
            after_sign_in(true, "/oauth2/continue?request=a"),
            "/oauth2/continue?request=a"
        );
        assert_eq!(after_sign_in(false, "/org/acme"), "/org/acme");
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next_path("/settings/security"), "/settings/security");
        assert_eq!(safe_next_path("/portal?tab=1"), "/portal?tab=1");
        for hostile in [
            "",
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
            "/a\r\nSet-Cookie: x",
        ] {
            assert_eq!(safe_next_path(hostile), "/portal", "{hostile:?}");
        }
    }

    #[test]
    fn no_spelling_of_another_site_is_followed() {
        for hostile in OFF_SITE_TARGETS {
            assert_eq!(safe_next_path(hostile), "/portal", "{hostile:?}");
        }
    }

    #[test]
    fn the_paths_portal_sends_itself_to_are_followed() {
        for local in [
            "/portal",
            "/settings/security?notice=key-added",
            "/login?next=%2Fsettings%2Fsecurity%3Ftab%3D1",
            "/login?next=%2F%2Fevil.example",
            "/org/acme-co?notice=invited",
            "/login?__path=%2Fapi%2Flogin&__err=eyJ4Ijp9",
            "/org/caf%C3%A9",
            "/settings/security#keys",
        ] {
            assert_eq!(safe_next_path(local), local);
        }
    }

    #[test]
    fn invisible_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(
            escape_invisible("Acme\u{1b}[2J\u{202e} Café 日本"),
            "Acme\\u{1b}[2J\\u{202e} Café 日本"
        );
        assert_eq!(escape_invisible("a\nb"), "a\\nb");
        assert!(!is_invisible('é') && !is_invisible(' '));
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A name of 3 to 32 of a–z, 0–9, _ and -, in any case and with spaces around, is
        /// accepted as its lowercase self.
        #[test]
        fn a_name_of_allowed_characters_is_accepted_in_lowercase(
            name in "[a-zA-Z0-9_-]{3,32}",
            before in "[ \t]{0,3}",
            after in "[ \t]{0,3}",
        ) {
            prop_assert_eq!(
                normalize_username(&format!("{before}{name}{after}")),
                Ok(name.to_ascii_lowercase())
            );
        }

        /// Whatever is typed, an accepted name is 3 to 32 of a–z, 0–9, _ and -; it never panics.
        #[test]
        fn an_accepted_name_is_3_to_32_allowed_characters(raw in any::<String>()) {
            if let Ok(name) = normalize_username(&raw) {
                prop_assert!(USERNAME_LENGTH.contains(&name.len()), "{:?}", name);
                prop_assert!(
                    name.bytes().all(|b| b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || b == b'_'
                        || b == b'-'),
                    "{:?}",
                    name
                );
            }
        }

        /// Wherever `next` points, the sign-in goes to a path on this site: one leading '/', never
        /// '//' or '/\' (another host to a browser), no control characters; it never panics.
        #[test]
        fn the_next_path_always_stays_on_this_site(next in any::<String>()) {
            let path = safe_next_path(&next);
            prop_assert!(path.starts_with('/'), "{:?}", path);
            prop_assert!(!path.starts_with("//") && !path.starts_with("/\\"), "{:?}", path);
            prop_assert!(!path.chars().any(|c| c.is_control() || c == '\\'), "{:?}", path);
            prop_assert!(path == next || path == "/portal", "{:?}", path);
        }

        /// The same for paths built to look like the tricks an attacker would try.
        #[test]
        fn a_next_path_made_of_slashes_and_backslashes_stays_on_this_site(
            next in "[/\\\\ \t\r\n%a-z.:@]{0,12}",
        ) {
            let path = safe_next_path(&next);
            prop_assert!(path.starts_with('/'), "{:?}", path);
            prop_assert!(!path.starts_with("//") && !path.starts_with("/\\"), "{:?}", path);
            prop_assert!(!path.chars().any(|c| c.is_control() || c == '\\'), "{:?}", path);
        }
    }
}

/// The most characters of a name given to a second factor ("YubiKey", "Work phone").
pub const FACTOR_NAME_LENGTH: usize = 40;

/// A second factor's name as typed, trimmed; `empty` says what to type when there is nothing.
pub fn factor_name(typed: &str, empty: &'static str) -> Result<String, Cow<'static, str>> {
    let name = typed.trim();
    if name.is_empty() {
        return Err(empty.into());
    }
    if name.chars().count() > FACTOR_NAME_LENGTH || name.chars().any(is_invisible) {
        return Err(format!("Use up to {FACTOR_NAME_LENGTH} printable characters.").into());
    }
    Ok(name.to_owned())
}
