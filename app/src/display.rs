//! How times and browsers are shown to a person: fixed words, never text from a request.

pub fn format_time(unix: crate::unix_time::UnixTime) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix.seconds())
        .ok()
        .and_then(|at| {
            at.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| "unknown time".into())
}

/// A short name for a user agent: enough for a person to recognise their own browser.
pub fn browser_name(user_agent: Option<&str>) -> String {
    let Some(agent) = user_agent else {
        return "unknown browser".into();
    };
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .into_iter()
    .find(|(token, _)| agent.contains(token))
    .map(|(_, name)| name);
    let system = [
        ("Windows", "Windows"),
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(token, _)| agent.contains(token))
    .map(|(_, name)| name);
    match (browser, system) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(name), None) | (None, Some(name)) => name.to_owned(),
        // Never text from the header itself: anyone can plant a user agent on the owner's
        // activity list with one wrong password.
        (None, None) => "unknown browser".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unix_time::UnixTime;

    #[test]
    fn a_time_is_shown_to_the_minute_in_utc() {
        assert_eq!(format_time(UnixTime(0)), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(UnixTime(1_700_000_000)), "2023-11-14 22:13 UTC");
        assert_eq!(format_time(UnixTime(i64::MAX)), "unknown time");
    }

    #[test]
    fn a_browser_is_named_by_its_product_and_system() {
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(browser_name(Some(chrome)), "Chrome on Windows");
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
        assert_eq!(browser_name(Some(firefox)), "Firefox on Linux");
        assert_eq!(browser_name(Some("curl/8.0")), "unknown browser");
        assert_eq!(browser_name(None), "unknown browser");
    }

    #[test]
    fn no_text_of_the_user_agent_is_ever_shown() {
        let planted = "Your account is locked. Call +1 555 0100";
        assert_eq!(browser_name(Some(planted)), "unknown browser");
        let with_known = "Call +1 555 0100 Firefox/1 Windows";
        assert_eq!(browser_name(Some(with_known)), "Firefox on Windows");
    }
}

/// The address a request came from, or words saying it is not known.
pub fn address_or_unknown(address: Option<String>) -> String {
    address.unwrap_or_else(|| "unknown address".into())
}
