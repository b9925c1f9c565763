//! Whether a password is on a list of breached ones, judged by its SHA-1 as Have I Been Pwned
//! lists them (NIST 800-63B §5.1.1.2: refuse values "obtained from previous breach corpuses").
//! The pure half: the hash and its halves, a range answer read, a line of a hash file read and
//! compared. The lookups themselves are `breached_passwords`.

use std::cmp::Ordering;

use sha1::{Digest, Sha1};

/// Hex digits of the hash that leave the server: HIBP's k-anonymity range. Each range holds
/// hundreds of hashes, so the mirror cannot tell which one was asked about.
pub const PREFIX_DIGITS: usize = 5;
/// A SHA-1 in hex.
const HASH_DIGITS: usize = 40;

/// The SHA-1 of a password, in uppercase hex as HIBP lists it. It stands for the password (an
/// unsalted fast hash), so it is kept only while one lookup runs, and `Debug` shows only the
/// prefix, which is all that is ever sent or logged.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordSha1(String);

impl PasswordSha1 {
    pub fn of(password: &str) -> Self {
        Self(hex::encode_upper(Sha1::digest(password.as_bytes())))
    }

    /// The first five digits: what the range API is asked for, and what a log line may name.
    pub fn prefix(&self) -> &str {
        &self.0[..PREFIX_DIGITS]
    }

    /// The other 35 digits, which the range answer lists.
    pub fn suffix(&self) -> &str {
        &self.0[PREFIX_DIGITS..]
    }

    pub fn hex(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordSha1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PasswordSha1({}…)", self.prefix())
    }
}

/// Whether a range answer (`SUFFIX:COUNT` lines) lists `suffix` as seen at least once. The
/// padding that `Add-Padding: true` asks for comes as lines with a count of 0: those are no
/// breach.
pub fn range_lists(answer: &str, suffix: &str) -> bool {
    answer.lines().any(|line| {
        let (listed, count) = line.trim().split_once(':').unwrap_or((line.trim(), "1"));
        listed.eq_ignore_ascii_case(suffix) && count.trim().parse::<u64>().is_ok_and(|n| n > 0)
    })
}

/// One line of a hash file: the 40 hex digits and, when the line has one, the count after a
/// colon (HIBP's downloaded "ordered by hash" file: `SHA1HEX:COUNT`, CRLF line ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedHash<'a> {
    pub hash: &'a [u8],
    pub count: Option<u64>,
}

impl ListedHash<'_> {
    /// Listed without a count, or seen at least once.
    pub fn is_breach(&self) -> bool {
        self.count != Some(0)
    }

    /// This line's place against `hash` in the file's order (by hash, upper or lower case alike:
    /// digits sort before letters in both).
    pub fn cmp_to(&self, hash: &PasswordSha1) -> Ordering {
        let listed = self.hash.iter().map(u8::to_ascii_uppercase);
        listed.cmp(hash.hex().bytes())
    }
}

/// A line of a hash file (without its line end), or None when it is not `SHA1HEX[:COUNT]`.
pub fn parse_line(line: &[u8]) -> Option<ListedHash<'_>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let (hash, count) = match line.iter().position(|byte| *byte == b':') {
        Some(colon) => (&line[..colon], Some(&line[colon + 1..])),
        None => (line, None),
    };
    if hash.len() != HASH_DIGITS || !hash.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let count = match count {
        Some(digits) => Some(std::str::from_utf8(digits).ok()?.trim().parse().ok()?),
        None => None,
    };
    Some(ListedHash { hash, count })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_hibps_uppercase_sha1_split_after_five_digits() {
        // HIBP's documented example: "P@ssw0rd" is 21BD12DC183F740EE76F27B78EB39C8AD972A757.
        let hash = PasswordSha1::of("P@ssw0rd");
        assert_eq!(hash.hex(), "21BD12DC183F740EE76F27B78EB39C8AD972A757");
        assert_eq!(hash.prefix(), "21BD1");
        assert_eq!(hash.suffix(), "2DC183F740EE76F27B78EB39C8AD972A757");
    }

    #[test]
    fn debug_shows_the_prefix_and_nothing_more() {
        let shown = format!("{:?}", PasswordSha1::of("P@ssw0rd"));
        assert_eq!(shown, "PasswordSha1(21BD1…)");
    }

    #[test]
    fn a_range_answer_lists_a_suffix_seen_at_least_once() {
        let answer = "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n\
                      2DC183F740EE76F27B78EB39C8AD972A757:52579\r\n\
                      FFFFF3CC5B5E1CE95A1AE1BA2E3DAE2BC0B:0\r\n";
        assert!(range_lists(answer, "2DC183F740EE76F27B78EB39C8AD972A757"));
        assert!(range_lists(answer, "2dc183f740ee76f27b78eb39c8ad972a757"));
        assert!(!range_lists(answer, "1111111111111111111111111111111111A"));
    }

    #[test]
    fn a_padding_line_with_a_count_of_0_is_no_breach() {
        let answer = "FFFFF3CC5B5E1CE95A1AE1BA2E3DAE2BC0B:0\r\n";
        assert!(!range_lists(answer, "FFFFF3CC5B5E1CE95A1AE1BA2E3DAE2BC0B"));
    }

    #[test]
    fn a_file_line_reads_with_or_without_its_count() {
        let with = parse_line(b"21BD12DC183F740EE76F27B78EB39C8AD972A757:52579\r").unwrap();
        assert_eq!(with.count, Some(52579));
        assert!(with.is_breach());
        let without = parse_line(b"21bd12dc183f740ee76f27b78eb39c8ad972a757").unwrap();
        assert_eq!(without.count, None);
        assert_eq!(
            without.cmp_to(&PasswordSha1::of("P@ssw0rd")),
            Ordering::Equal
        );
        assert!(
            !parse_line(b"21BD12DC183F740EE76F27B78EB39C8AD972A757:0")
                .unwrap()
                .is_breach()
        );
        for bad in [
            &b""[..],
            b"21BD12DC183F740EE76F27B78EB39C8AD972A75",
            b"21BD12DC183F740EE76F27B78EB39C8AD972A75Z:1",
            b"21BD12DC183F740EE76F27B78EB39C8AD972A757:many",
        ] {
            assert_eq!(parse_line(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
