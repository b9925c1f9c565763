//! The client's address (SPEC §4): the TCP peer, or, when the peer is a proxy the operator
//! trusts (PORTAL_TRUSTED_PROXIES), the rightmost hop of its forwarding header that is not itself
//! a trusted proxy. Resolved once per request, in an early layer, so the per-address limit, the
//! audit log and the session list all see the same address.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, HeaderName, header},
    middleware::Next,
    response::Response,
};
use ipnet::IpNet;

pub use app::auth::ClientAddr;

/// The proxies whose forwarding headers are believed: addresses and CIDR blocks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// A comma-separated list such as `127.0.0.1, 10.0.0.0/8, ::1`; empty means none.
    /// A block of every address is refused (review I5): every client could then name itself in
    /// the header, and choose its own limit and the address the audit log records.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                let network = parse_network(item)?;
                if network.prefix_len() == 0 {
                    return Err(format!(
                        "{item:?} trusts every address, so every client could choose its own: name the proxies (like 10.0.0.0/8)"
                    ));
                }
                Ok(network)
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|network| network.contains(&address))
    }
}

fn parse_network(item: &str) -> Result<IpNet, String> {
    item.parse::<IpNet>()
        .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
        .map(|network| network.trunc())
        .map_err(|_| format!("{item:?} is not an address or a CIDR block (like 10.0.0.0/8 or ::1)"))
}

/// Puts the request's `ClientAddr` in its extensions, for every layer and server function after.
pub async fn resolve_client(
    State(trusted): State<Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    if let Some(peer) = peer {
        let address = client_address(peer, request.headers(), &trusted);
        request.extensions_mut().insert(ClientAddr(address));
    }
    next.run(request).await
}

/// The address of the client behind a request that came from `peer`.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return peer;
    }
    rightmost_untrusted(peer, &forwarded_hops(headers), trusted)
}

/// One hop of a forwarding header, as the proxy that added it reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hop {
    Address(IpAddr),
    /// `unknown` or an obfuscated identifier (RFC 7239 §6.2, §6.3).
    Hidden,
    /// An element that is not an address: if it is where the client should be, the proxy that
    /// wrote it cannot be read; anywhere left of that, the client wrote it and it is ignored.
    Malformed,
}

/// Walks from the proxy nearest us outwards, past the proxies we trust, to the first hop we do
/// not: everything left of it was written by the client and may be forged, so it is never read,
/// malformed or not (review L7: one bad element used to void the whole header).
fn rightmost_untrusted(peer: IpAddr, hops: &[Hop], trusted: &TrustedProxies) -> IpAddr {
    let mut nearest = peer;
    for hop in hops.iter().rev() {
        match *hop {
            Hop::Address(address) if trusted.contains(address) => nearest = address,
            Hop::Address(address) => return address,
            // A trusted proxy that does not name its client: the proxy is the nearest known hop.
            Hop::Hidden => return nearest,
            // Where the client's address should be, something else: the proxy is all we know.
            Hop::Malformed => {
                tracing::warn!(
                    proxy = %nearest,
                    "a trusted proxy forwarded a client address that cannot be read; the proxy's is used"
                );
                return nearest;
            }
        }
    }
    // Every hop is a trusted proxy: the request started inside.
    nearest
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The hops of X-Forwarded-For when the request has one, else of Forwarded; an element that
/// cannot be read is a `Malformed` hop. X-Forwarded-For goes first because the common proxies (nginx, Caddy,
/// HAProxy, cloud load balancers) append to it but pass a client's own `Forwarded` through
/// untouched: preferring `Forwarded` would believe a forged one.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Hop> {
    if let Some(hops) = hops_of(headers, &X_FORWARDED_FOR, parse_x_forwarded_for) {
        return hops;
    }
    hops_of(headers, &header::FORWARDED, parse_forwarded).unwrap_or_default()
}

/// The hops of every line of a header, in order (RFC 9110 §5.3: repeated lines are one
/// comma-separated list); a line that is not text is one `Malformed` hop. None without a line.
fn hops_of(
    headers: &HeaderMap,
    name: &HeaderName,
    parse: fn(&str) -> Vec<Hop>,
) -> Option<Vec<Hop>> {
    let mut lines = headers.get_all(name).iter().peekable();
    lines.peek()?;
    Some(
        lines
            .flat_map(|line| match line.to_str() {
                Ok(line) => parse(line),
                Err(_) => vec![Hop::Malformed],
            })
            .collect(),
    )
}

/// `X-Forwarded-For: client, proxy1, proxy2`: each an address, maybe with a port.
pub fn parse_x_forwarded_for(value: &str) -> Vec<Hop> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| parse_node(item).unwrap_or(Hop::Malformed))
        .collect()
}

/// RFC 7239: `Forwarded: for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711"`. An
/// element without `for` is a proxy that did not name its client.
pub fn parse_forwarded(value: &str) -> Vec<Hop> {
    elements_from_the_right(value)
        .into_iter()
        .map(str::trim)
        .filter(|element| !element.is_empty())
        .map(|element| parse_forwarded_element(element).unwrap_or(Hop::Malformed))
        .collect()
}

/// Splits a `Forwarded` value on the commas outside quoted strings, reading from the right, the
/// end the proxies append to: a quote the client left open swallows only what is left of it,
/// never the proxies' elements.
fn elements_from_the_right(value: &str) -> Vec<&str> {
    let bytes = value.as_bytes();
    let escaped = |at: usize| {
        bytes[..at]
            .iter()
            .rev()
            .take_while(|byte| **byte == b'\\')
            .count()
            % 2
            == 1
    };
    let (mut elements, mut end, mut quoted) = (Vec::new(), value.len(), false);
    for at in (0..bytes.len()).rev() {
        match bytes[at] {
            b'"' if !escaped(at) => quoted = !quoted,
            b',' if !quoted => {
                elements.push(&value[at + 1..end]);
                end = at;
            }
            _ => {}
        }
    }
    elements.push(&value[..end]);
    elements.reverse();
    elements
}

fn parse_forwarded_element(element: &str) -> Option<Hop> {
    let mut client = None;
    for pair in split_unquoted(element, ';')?.into_iter().map(str::trim) {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("for") {
            continue;
        }
        // RFC 7239 §4: a parameter occurs at most once in an element.
        if client.is_some() {
            return None;
        }
        client = Some(parse_node(&unquote(value.trim())?)?);
    }
    Some(client.unwrap_or(Hop::Hidden))
}

/// Splits on `separator` where it is not inside a quoted string.
fn split_unquoted(text: &str, separator: char) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (at, character) in text.char_indices() {
        match character {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            _ if character == separator && !quoted => {
                parts.push(&text[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return None;
    }
    parts.push(&text[start..]);
    Some(parts)
}

/// A token as it is, or a quoted string without its quotes and escapes (RFC 9110 §5.6.4).
fn unquote(value: &str) -> Option<String> {
    let Some(inner) = value.strip_prefix('"') else {
        return (!value.is_empty() && !value.contains('"')).then(|| value.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut unquoted = String::with_capacity(inner.len());
    let mut characters = inner.chars();
    while let Some(character) = characters.next() {
        match character {
            '\\' => unquoted.push(characters.next()?),
            '"' => return None,
            _ => unquoted.push(character),
        }
    }
    Some(unquoted)
}

/// RFC 7239 §6 node: `192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]`, `[2001:db8::1]:80`,
/// `unknown` or `_hidden`; a bare IPv6 address is taken too (X-Forwarded-For writes them so).
fn parse_node(node: &str) -> Option<Hop> {
    let address = |address: IpAddr| Some(Hop::Address(address.to_canonical()));
    if let Some(rest) = node.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !after.is_empty() && !is_port(after.strip_prefix(':')?) {
            return None;
        }
        return address(IpAddr::V6(inside.parse::<Ipv6Addr>().ok()?));
    }
    if let Ok(bare) = node.parse::<IpAddr>() {
        return address(bare);
    }
    let name = match node.rsplit_once(':') {
        Some((name, port)) if is_port(port) => name,
        Some(_) => return None,
        None => node,
    };
    if name.eq_ignore_ascii_case("unknown") || is_obfuscated(name) {
        return Some(Hop::Hidden);
    }
    address(IpAddr::V4(name.parse::<Ipv4Addr>().ok()?))
}

fn is_port(port: &str) -> bool {
    let digits = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    (digits && port.parse::<u16>().is_ok()) || is_obfuscated(port)
}

/// RFC 7239 §6.3: `_` then letters, digits, `.`, `_` or `-`.
fn is_obfuscated(text: &str) -> bool {
    text.strip_prefix('_').is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn at(text: &str) -> Hop {
        Hop::Address(ip(text))
    }

    fn trusted(list: &str) -> TrustedProxies {
        TrustedProxies::parse(list).unwrap()
    }

    fn headers(lines: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in lines {
            headers.append(*name, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn trusted_proxies_are_addresses_and_blocks_separated_by_commas() {
        let list = trusted(" 127.0.0.1, 10.0.0.0/8 ,::1,2001:db8::/32");
        for inside in [
            "127.0.0.1",
            "10.200.3.4",
            "::1",
            "2001:db8:ff::9",
            "::ffff:10.0.0.1",
        ] {
            assert!(list.contains(ip(inside)), "{inside}");
        }
        for outside in ["127.0.0.2", "11.0.0.1", "::2", "2001:db9::1"] {
            assert!(!list.contains(ip(outside)), "{outside}");
        }
        assert_eq!(trusted(""), TrustedProxies::default());
        assert!(!trusted("").contains(ip("127.0.0.1")));
        // Host bits are dropped: the block is what is meant.
        assert!(trusted("10.1.2.3/8").contains(ip("10.9.9.9")));
    }

    #[test]
    fn a_bad_trusted_proxy_is_refused_with_its_text() {
        for bad in [
            "localhost",
            "10.0.0.0/33",
            "1.2.3",
            "::1/129",
            "10.0.0.1:80",
        ] {
            let error = TrustedProxies::parse(bad).unwrap_err();
            assert!(error.contains(bad), "{error}");
        }
    }

    /// Trusting every address lets every client choose its own (review I5).
    #[test]
    fn trusting_every_address_is_refused() {
        for everyone in [
            "0.0.0.0/0",
            "::/0",
            "127.0.0.1, 0.0.0.0/0",
            "::ffff:0.0.0.0/0",
        ] {
            let error = TrustedProxies::parse(everyone).unwrap_err();
            assert!(error.contains("every address"), "{everyone}: {error}");
        }
    }

    /// Behind an appending proxy, what the client wrote is left of the proxy's hop: a malformed
    /// element there changes nothing (review L7).
    #[test]
    fn a_malformed_hop_left_of_the_client_is_ignored() {
        let proxies = trusted("127.0.0.1, 10.0.0.0/8");
        let from = |lines: &[(&'static str, &str)]| {
            client_address(ip("127.0.0.1"), &headers(lines), &proxies)
        };
        assert_eq!(
            from(&[("x-forwarded-for", "garbage, 203.0.113.9")]),
            ip("203.0.113.9")
        );
        assert_eq!(
            from(&[("x-forwarded-for", "garbage, 203.0.113.9, 10.0.0.5")]),
            ip("203.0.113.9")
        );
        assert_eq!(
            from(&[
                ("x-forwarded-for", "garbage"),
                ("x-forwarded-for", "203.0.113.9")
            ]),
            ip("203.0.113.9")
        );
        assert_eq!(
            from(&[("forwarded", "for=garbage, for=203.0.113.9")]),
            ip("203.0.113.9")
        );
        // An unterminated quote the client wrote does not swallow the proxies' elements.
        assert_eq!(
            from(&[("forwarded", "for=\"1.2.3.4, for=203.0.113.9")]),
            ip("203.0.113.9")
        );
        assert_eq!(
            from(&[(
                "forwarded",
                "for=\"[2001:db8::1]\", for=203.0.113.9;proto=https"
            )]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn x_forwarded_for_lists_addresses_with_or_without_ports() {
        assert_eq!(
            parse_x_forwarded_for("203.0.113.7, 2001:db8::1,198.51.100.2:8080, [2001:db8::2]:443"),
            vec![
                at("203.0.113.7"),
                at("2001:db8::1"),
                at("198.51.100.2"),
                at("2001:db8::2")
            ]
        );
        assert_eq!(
            parse_x_forwarded_for("unknown, 192.0.2.1"),
            vec![Hop::Hidden, at("192.0.2.1")]
        );
        assert_eq!(
            parse_x_forwarded_for("::ffff:192.0.2.1"),
            vec![at("192.0.2.1")]
        );
        assert_eq!(parse_x_forwarded_for(" , "), vec![]);
    }

    #[test]
    fn a_malformed_x_forwarded_for_element_is_marked() {
        for bad in [
            "example.com",
            "203.0.113.7, nonsense",
            "1.2.3.4:99999",
            "1.2.3.4:",
            "[2001:db8::1",
            "[2001:db8::1]x",
            "[1.2.3.4]",
            "\"1.2.3.4\"",
            "_",
        ] {
            assert_eq!(
                parse_x_forwarded_for(bad).last(),
                Some(&Hop::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn forwarded_reads_the_for_of_each_element() {
        assert_eq!(
            parse_forwarded("for=192.0.2.60;proto=http;by=203.0.113.43"),
            vec![at("192.0.2.60")]
        );
        assert_eq!(
            parse_forwarded("For=\"[2001:db8:cafe::17]:4711\", for=198.51.100.17:80"),
            vec![at("2001:db8:cafe::17"), at("198.51.100.17")]
        );
        // Quoted values may hold the separators and escapes.
        assert_eq!(
            parse_forwarded("for=\"192.0.2.43\";by=\"a,b;c\", for=\"\\[2001:db8::9\\]\""),
            vec![at("192.0.2.43"), at("2001:db8::9")]
        );
    }

    #[test]
    fn forwarded_hidden_clients_are_hops_without_an_address() {
        assert_eq!(
            parse_forwarded("for=unknown, for=_hidden, for=\"_SEVKISEK:_port\", proto=https"),
            vec![Hop::Hidden, Hop::Hidden, Hop::Hidden, Hop::Hidden]
        );
    }

    #[test]
    fn a_malformed_forwarded_element_is_marked() {
        for bad in [
            "for=\"192.0.2.1",
            "for=[2001:db8::1]x",
            "for",
            "for=192.0.2.1;for=192.0.2.2",
            "for=\"\"",
            "for=",
            "for=2001:db8::1:99999x",
            "for=\"192.0.2.1\"x",
            "for=host.example",
        ] {
            assert_eq!(parse_forwarded(bad), vec![Hop::Malformed], "{bad}");
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let forged = headers(&[
            ("x-forwarded-for", "203.0.113.7"),
            ("forwarded", "for=203.0.113.8"),
        ]);
        assert_eq!(
            client_address(ip("192.0.2.1"), &forged, &trusted("")),
            ip("192.0.2.1")
        );
        assert_eq!(
            client_address(ip("192.0.2.1"), &forged, &trusted("127.0.0.1")),
            ip("192.0.2.1")
        );
        assert_eq!(
            client_address(ip("::ffff:192.0.2.1"), &forged, &trusted("")),
            ip("192.0.2.1")
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_hop_is_the_client() {
        let proxies = trusted("127.0.0.1, 10.0.0.0/8");
        let from = |lines: &[(&'static str, &str)]| {
            client_address(ip("127.0.0.1"), &headers(lines), &proxies)
        };
        assert_eq!(
            from(&[("x-forwarded-for", "203.0.113.7")]),
            ip("203.0.113.7")
        );
        // The client wrote the first entry; the proxies the rest.
        assert_eq!(
            from(&[("x-forwarded-for", "1.1.1.1, 203.0.113.7, 10.0.0.5")]),
            ip("203.0.113.7")
        );
        assert_eq!(
            from(&[("x-forwarded-for", "2001:db8::5")]),
            ip("2001:db8::5")
        );
        assert_eq!(
            from(&[(
                "forwarded",
                "for=1.1.1.1, for=\"[2001:db8::5]:1234\";proto=https"
            )]),
            ip("2001:db8::5")
        );
        // Repeated lines are one list, in order.
        assert_eq!(
            from(&[
                ("x-forwarded-for", "1.1.1.1, 203.0.113.7"),
                ("x-forwarded-for", "10.0.0.5")
            ]),
            ip("203.0.113.7")
        );
        // X-Forwarded-For wins: common proxies pass a client's Forwarded through.
        assert_eq!(
            from(&[
                ("forwarded", "for=6.6.6.6"),
                ("x-forwarded-for", "203.0.113.7")
            ]),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn what_a_trusted_proxy_cannot_tell_falls_back_to_the_nearest_known_hop() {
        let proxies = trusted("127.0.0.1, 10.0.0.0/8");
        let from = |lines: &[(&'static str, &str)]| {
            client_address(ip("127.0.0.1"), &headers(lines), &proxies)
        };
        assert_eq!(from(&[]), ip("127.0.0.1"), "no header");
        assert_eq!(
            from(&[("x-forwarded-for", "203.0.113.7, garbage")]),
            ip("127.0.0.1")
        );
        assert_eq!(
            from(&[("forwarded", "for=\"unterminated")]),
            ip("127.0.0.1")
        );
        assert_eq!(
            from(&[("x-forwarded-for", "1.1.1.1, unknown, 10.0.0.5")]),
            ip("10.0.0.5")
        );
        assert_eq!(
            from(&[("forwarded", "for=1.1.1.1, for=_hidden")]),
            ip("127.0.0.1")
        );
        // Every hop is trusted: the leftmost, where the request started.
        assert_eq!(
            from(&[("x-forwarded-for", "10.0.0.9, 10.0.0.5")]),
            ip("10.0.0.9")
        );
        let mut not_text = HeaderMap::new();
        not_text.insert(
            "x-forwarded-for",
            axum::http::HeaderValue::from_bytes(b"\xff1.2.3.4").unwrap(),
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), &not_text, &proxies),
            ip("127.0.0.1")
        );
    }
}
