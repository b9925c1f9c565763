//! The access rules of forward-auth (`PORTAL_ACCESS_RULES`, a TOML file): for a request to a
//! protected app, which policy applies. The first rule whose host and paths match wins; no match
//! means deny. Pure: no I/O, no clock.
//!
//! ```toml
//! [[rule]]
//! host = "wiki.example.com"          # exact, or "*.example.com"; the port is ignored
//! paths = ["/admin/*"]              # optional
//! policy = "two_factor"             # bypass | one_factor | two_factor | deny
//! organizations = ["staff"]          # optional: members of any of these
//! ```

use serde::Deserialize;
use toml::Spanned;

/// What a rule asks of the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Anyone, signed in or not.
    Bypass,
    /// A signed-in person (password, or a passkey).
    OneFactor,
    /// A sign-in that showed a second factor (code, key, passkey, or a remembered browser).
    TwoFactor,
    /// No one.
    Deny,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bypass => "bypass",
            Self::OneFactor => "one_factor",
            Self::TwoFactor => "two_factor",
            Self::Deny => "deny",
        }
    }
}

/// A host a rule names: exact, or every subdomain of a domain (`*.example.com`, not the domain
/// itself). Lower case, without a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    Exact(String),
    SubdomainsOf(String),
}

impl HostPattern {
    fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim().to_ascii_lowercase();
        let valid = |name: &str| {
            !name.is_empty()
                && name.split('.').all(|label| {
                    !label.is_empty()
                        && label
                            .bytes()
                            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
                })
        };
        match text.strip_prefix("*.") {
            Some(domain) if valid(domain) => Ok(Self::SubdomainsOf(domain.to_owned())),
            None if valid(&text) => Ok(Self::Exact(text)),
            _ => Err(format!(
                "host {text:?}: a host name (wiki.example.com) or every subdomain of one (*.example.com)"
            )),
        }
    }

    /// Whether `host` (as the proxy reports it: any case, perhaps with a port) is this one.
    pub fn matches(&self, host: &str) -> bool {
        let host = host_without_port(host).to_ascii_lowercase();
        match self {
            Self::Exact(name) => host == *name,
            Self::SubdomainsOf(domain) => host
                .strip_suffix(domain.as_str())
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
        }
    }

    pub fn as_text(&self) -> String {
        match self {
            Self::Exact(name) => name.clone(),
            Self::SubdomainsOf(domain) => format!("*.{domain}"),
        }
    }
}

/// `host:port` → `host`; `[::1]:8080` → `[::1]`.
pub fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|byte| byte.is_ascii_digit()))
        .map_or(host, |(name, _)| name)
}

/// A path a rule names: exact (`/health`), or a folder and all below it (`/admin/*` covers
/// `/admin`, `/admin/` and `/admin/x/y`), or a prefix (`/api*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPattern {
    Exact(String),
    Folder(String),
    Prefix(String),
}

impl PathPattern {
    fn parse(text: &str) -> Result<Self, String> {
        if !text.starts_with('/') {
            return Err(format!("path {text:?}: starts with /"));
        }
        if text[..text.len() - 1].contains('*') {
            return Err(format!("path {text:?}: a * only at the end"));
        }
        Ok(match text.strip_suffix("/*") {
            Some(folder) => Self::Folder(folder.to_owned()),
            None => match text.strip_suffix('*') {
                Some(prefix) => Self::Prefix(prefix.to_owned()),
                None => Self::Exact(text.to_owned()),
            },
        })
    }

    /// `path` must be normalized (`normalize_path`).
    pub fn matches(&self, path: &str) -> bool {
        match self {
            Self::Exact(exact) => path == exact,
            Self::Folder(folder) => {
                path == folder
                    || path
                        .strip_prefix(folder.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            }
            Self::Prefix(prefix) => path.starts_with(prefix.as_str()),
        }
    }

    pub fn as_text(&self) -> String {
        match self {
            Self::Exact(exact) => exact.clone(),
            Self::Folder(folder) => format!("{folder}/*"),
            Self::Prefix(prefix) => format!("{prefix}*"),
        }
    }
}

/// The path a rule is judged on, as the app behind the proxy will read it: the query dropped,
/// percent-encoding decoded, backslashes as slashes, repeated slashes as one, and `.` and `..`
/// segments resolved. Otherwise `/%61dmin/`, `//admin/` or `/x/../admin/` would pass a rule
/// written for `/admin/*` and still reach the admin pages.
pub fn normalize_path(uri: &str) -> String {
    let path = uri.split(['?', '#']).next().unwrap_or_default();
    let decoded: Vec<u8> = percent_decode(path.as_bytes());
    let decoded = String::from_utf8_lossy(&decoded).replace('\\', "/");
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            segment => segments.push(segment),
        }
    }
    let mut normalized = format!("/{}", segments.join("/"));
    if decoded.ends_with('/') && normalized.len() > 1 {
        normalized.push('/');
    }
    normalized
}

/// Every `%XX` decoded, again while any is left (`%2561` is `%61` is `a`).
fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let mut current = bytes.to_vec();
    while let Some(decoded) = crate::validation::percent_decoded(&current) {
        current = decoded;
    }
    current
}

/// One rule, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// 1-based line of its `[[rule]]`, for messages.
    pub line: usize,
    pub host: HostPattern,
    pub paths: Vec<PathPattern>,
    pub policy: Policy,
    /// Slugs: the person must be a member of one of these.
    pub organizations: Vec<String>,
}

impl Rule {
    pub fn matches(&self, host: &str, path: &str) -> bool {
        self.host.matches(host)
            && (self.paths.is_empty() || self.paths.iter().any(|pattern| pattern.matches(path)))
    }
}

/// The rules, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    pub rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rule: Vec<Spanned<RuleFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    host: Spanned<String>,
    #[serde(default)]
    paths: Vec<Spanned<String>>,
    policy: Policy,
    #[serde(default)]
    organizations: Vec<Spanned<String>>,
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl Rules {
    /// The rules of a file's text, or the first error as "line N: reason".
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: RulesFile = toml::from_str(text).map_err(|error| {
            let line = error.span().map_or(1, |span| line_of(text, span.start));
            format!("line {line}: {}", error.message())
        })?;
        let at = |span: std::ops::Range<usize>, reason: String| {
            format!("line {}: {reason}", line_of(text, span.start))
        };
        let mut rules = Vec::new();
        for spanned in file.rule {
            let line = line_of(text, spanned.span().start);
            let rule = spanned.into_inner();
            let host = HostPattern::parse(rule.host.get_ref())
                .map_err(|reason| at(rule.host.span(), reason))?;
            let paths = rule
                .paths
                .iter()
                .map(|path| {
                    PathPattern::parse(path.get_ref()).map_err(|reason| at(path.span(), reason))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut organizations = Vec::new();
            for slug in &rule.organizations {
                let valid = !slug.get_ref().is_empty()
                    && slug.get_ref().bytes().all(|byte| {
                        byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-'
                    });
                if !valid {
                    return Err(at(
                        slug.span(),
                        format!(
                            "organization {:?}: an organization's slug (lower case, digits, -)",
                            slug.get_ref()
                        ),
                    ));
                }
                organizations.push(slug.get_ref().clone());
            }
            if !organizations.is_empty() && matches!(rule.policy, Policy::Bypass | Policy::Deny) {
                return Err(format!(
                    "line {line}: organizations mean nothing with policy {:?}: use one_factor or two_factor",
                    rule.policy.as_str()
                ));
            }
            rules.push(Rule {
                line,
                host,
                paths,
                policy: rule.policy,
                organizations,
            });
        }
        Ok(Self { rules })
    }

    /// The rule for a request to `host` (perhaps with a port) at `uri` (path and query, as the
    /// proxy reports it), or None: deny.
    pub fn rule_for(&self, host: &str, uri: &str) -> Option<&Rule> {
        let path = normalize_path(uri);
        self.rules.iter().find(|rule| rule.matches(host, &path))
    }

    /// Whether some rule names this host: where Portal may send a browser back to.
    pub fn names_host(&self, host: &str) -> bool {
        self.rules.iter().any(|rule| rule.host.matches(host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[[rule]]
host = "wiki.example.com"
paths = ["/admin/*"]
policy = "two_factor"
organizations = ["staff"]

[[rule]]
host = "wiki.example.com"
paths = ["/public*", "/health"]
policy = "bypass"

[[rule]]
host = "*.example.com"
policy = "one_factor"
"#;

    #[test]
    fn the_first_matching_rule_wins_and_no_match_is_deny() {
        let rules = Rules::parse(EXAMPLE).unwrap();
        let policy = |host: &str, uri: &str| rules.rule_for(host, uri).map(|rule| rule.policy);
        assert_eq!(
            policy("wiki.example.com", "/admin/users?x=1"),
            Some(Policy::TwoFactor)
        );
        assert_eq!(
            policy("WIKI.example.com:8443", "/admin"),
            Some(Policy::TwoFactor)
        );
        assert_eq!(
            policy("wiki.example.com", "/publication"),
            Some(Policy::Bypass)
        );
        assert_eq!(policy("wiki.example.com", "/health"), Some(Policy::Bypass));
        assert_eq!(
            policy("wiki.example.com", "/health/x"),
            Some(Policy::OneFactor)
        );
        assert_eq!(policy("a.b.example.com", "/"), Some(Policy::OneFactor));
        assert_eq!(policy("example.com", "/"), None);
        assert_eq!(policy("evil-example.com", "/"), None);
        assert_eq!(policy("wiki.example.com.evil.net", "/"), None);
        assert!(rules.names_host("grafana.example.com:443"));
        assert!(!rules.names_host("example.org"));
    }

    #[test]
    fn encoded_doubled_and_dotted_paths_meet_the_rule_of_the_path_they_reach() {
        let rules = Rules::parse(EXAMPLE).unwrap();
        for sneaky in [
            "/%61dmin/x",
            "/%2561dmin/x",
            "//admin/x",
            "/x/../admin/x",
            "/./admin",
            "/admin%2Fx",
            "\\admin\\x",
            "/public/../admin/x",
        ] {
            assert_eq!(
                rules
                    .rule_for("wiki.example.com", sneaky)
                    .map(|rule| rule.policy),
                Some(Policy::TwoFactor),
                "{sneaky}"
            );
        }
    }

    #[test]
    fn a_bad_file_is_refused_with_its_line_and_reason() {
        for (text, line, words) in [
            (
                "[[rule]]\nhost = \"a.example\"\npolicy = \"maybe\"\n",
                3,
                "unknown variant",
            ),
            ("[[rule]]\nhost = \"a.example\"\n", 1, "policy"),
            ("[[rule]]\nhost = \"a b\"\npolicy = \"deny\"\n", 2, "host"),
            (
                "[[rule]]\nhost = \"a.example\"\npaths = [\"admin\"]\npolicy = \"deny\"\n",
                3,
                "starts with /",
            ),
            (
                "[[rule]]\nhost = \"a.example\"\npolicy = \"bypass\"\norganizations = [\"staff\"]\n",
                1,
                "organizations mean nothing",
            ),
            (
                "[[rule]]\nhost = \"a.example\"\npolicy = \"deny\"\ncolour = \"red\"\n",
                4,
                "unknown field",
            ),
            ("[[rule]\n", 1, ""),
        ] {
            let error = Rules::parse(text).unwrap_err();
            assert!(
                error.starts_with(&format!("line {line}:")),
                "{text:?} → {error}"
            );
            assert!(error.contains(words), "{text:?} → {error}");
        }
    }
}
