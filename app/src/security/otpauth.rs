//! The otpauth URI that authenticator apps read from the QR code (Google Authenticator's Key
//! Uri Format), and the key as people type it by hand.

use url::form_urlencoded;

use crate::validation::encode_component;

/// `otpauth://totp/Issuer:account?secret=…&issuer=Issuer&algorithm=SHA1&digits=6&period=30`
pub fn uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    // The Key Uri Format wants a space as %20 in the label.
    let label = format!("{}:{}", encode_component(issuer), encode_component(account));
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("secret", &base32(secret))
        .append_pair("issuer", issuer)
        .append_pair("algorithm", "SHA1")
        .append_pair("digits", "6")
        .append_pair("period", "30")
        .finish();
    format!("otpauth://totp/{label}?{query}")
}

/// RFC 4648 base32 without padding: the form authenticator apps take.
pub fn base32(secret: &[u8]) -> String {
    totp_rs::Secret::from(secret)
        .to_base32()
        .trim_end_matches('=')
        .to_owned()
}

/// The key in groups of four, easier to type into an app by hand.
pub fn grouped(key: &str) -> String {
    key.as_bytes()
        .chunks(4)
        .map(|group| String::from_utf8_lossy(group).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;

    #[test]
    fn the_uri_carries_every_parameter_and_round_trips_through_a_parser() {
        let secret = b"12345678901234567890";
        let uri = uri("Portal", "alice", secret);
        assert_eq!(
            uri,
            "otpauth://totp/Portal:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Portal&algorithm=SHA1&digits=6&period=30"
        );
        let parsed = Url::parse(&uri).unwrap();
        assert_eq!(parsed.scheme(), "otpauth");
        assert_eq!(parsed.host_str(), Some("totp"));
        assert_eq!(parsed.path(), "/Portal:alice");
        let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        let get = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("secret"), Some("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"));
        assert_eq!(get("issuer"), Some("Portal"));
        assert_eq!(get("algorithm"), Some("SHA1"));
        assert_eq!(get("digits"), Some("6"));
        assert_eq!(get("period"), Some("30"));
        let decoded = totp_rs::Secret::try_from_base32(get("secret").unwrap()).unwrap();
        assert_eq!(decoded.as_ref(), secret);
    }

    #[test]
    fn an_issuer_with_spaces_and_symbols_is_encoded() {
        let uri = uri("Acme & Co", "bob-1", &[0; 20]);
        assert!(
            uri.starts_with("otpauth://totp/Acme%20%26%20Co:bob-1?"),
            "{uri}"
        );
        let parsed = Url::parse(&uri).unwrap();
        let issuer = parsed
            .query_pairs()
            .find(|(k, _)| k == "issuer")
            .unwrap()
            .1
            .into_owned();
        assert_eq!(issuer, "Acme & Co");
    }

    #[test]
    fn a_160_bit_key_is_32_symbols_shown_in_eight_groups() {
        let key = base32(&[0xAB; 20]);
        assert_eq!(key.len(), 32);
        assert_eq!(grouped(&key).split(' ').count(), 8);
        assert_eq!(grouped(&key).replace(' ', ""), key);
    }
}
