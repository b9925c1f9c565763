//! The breached-password lookup: Have I Been Pwned's range API at the address the operator gives
//! (`PORTAL_BREACHED_PASSWORDS_URL`, often a mirror), or a sorted file of SHA-1 hashes searched in
//! place (`PORTAL_BREACHED_PASSWORDS_FILE`). A lookup is bounded by `LOOKUP_TIMEOUT`; one that
//! fails or runs out lets the password through and logs a warning: the list is advice, and its
//! mirror going away must not lock anyone out.

use std::{
    io::{self, Read, Seek, SeekFrom},
    path::PathBuf,
    time::Duration,
};

use crate::security::breached::{PasswordSha1, parse_line, range_lists};

/// Longest a lookup may add to a sign-up, change, reset or sign-in.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(1);
/// A range answer is ~40 KiB padded; anything much larger is not one, and is not read on.
const MAX_ANSWER_BYTES: usize = 1 << 20;
/// A line of the hash file is ~50 bytes; a longer one means it is not such a file.
const MAX_LINE_BYTES: usize = 1024;

type LookupError = Box<dyn std::error::Error + Send + Sync>;

/// Where breached passwords are looked up, if anywhere.
#[derive(Debug, Clone, Default)]
pub enum BreachedPasswords {
    /// Neither setting: no password is looked up.
    #[default]
    Off,
    /// The range API under `url` (`{url}/range/{prefix}`), asked with one kept client.
    Range {
        url: String,
        client: reqwest::Client,
    },
    /// A file of `SHA1HEX[:COUNT]` lines sorted by hash, opened for each lookup so a file
    /// replaced by a newer download is read from then on.
    File { path: PathBuf },
}

impl BreachedPasswords {
    /// The range API under `url` (its trailing `/` dropped).
    pub fn range(url: &str) -> Result<Self, reqwest::Error> {
        // No timeout of its own: `lists` bounds the whole lookup, and tells a timeout apart.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // HIBP asks every caller to say who it is.
            .user_agent(concat!("Portal/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self::Range {
            url: url.trim_end_matches('/').to_owned(),
            client,
        })
    }

    pub fn file(path: PathBuf) -> Self {
        Self::File { path }
    }

    pub fn is_on(&self) -> bool {
        !matches!(self, Self::Off)
    }

    /// Whether `password` is on the list. Off, a failure and a lookup past `LOOKUP_TIMEOUT` all
    /// answer no; the last two log one warning naming only the hash's 5-digit prefix.
    pub async fn lists(&self, password: &PasswordSha1) -> bool {
        if !self.is_on() {
            return false;
        }
        let outcome = tokio::time::timeout(LOOKUP_TIMEOUT, self.look_up(password)).await;
        let (listed, outcome) = match outcome {
            Ok(Ok(listed)) => (listed, if listed { "listed" } else { "not_listed" }),
            Ok(Err(error)) => {
                tracing::warn!(
                    prefix = password.prefix(),
                    %error,
                    "breached-password lookup failed: the password is let through"
                );
                (false, "failed")
            }
            Err(_) => {
                tracing::warn!(
                    prefix = password.prefix(),
                    timeout_ms = LOOKUP_TIMEOUT.as_millis() as u64,
                    "breached-password lookup timed out: the password is let through"
                );
                (false, "timed_out")
            }
        };
        metrics::counter!("portal_breached_password_lookups_total", "outcome" => outcome)
            .increment(1);
        listed
    }

    async fn look_up(&self, password: &PasswordSha1) -> Result<bool, LookupError> {
        match self {
            Self::Off => Ok(false),
            Self::Range { url, client } => ask_range(client, url, password).await,
            Self::File { path } => {
                let (path, password) = (path.clone(), password.clone());
                // Seeks and reads block: off the async runtime.
                tokio::task::spawn_blocking(move || {
                    let mut file = std::fs::File::open(&path)?;
                    let len = file.metadata()?.len();
                    Ok(file_lists(&mut file, len, &password)?)
                })
                .await?
            }
        }
    }
}

/// `GET {url}/range/{prefix}` with `Add-Padding: true`: the prefix is all that is sent, and the
/// padded answer's size does not tell which range was asked.
async fn ask_range(
    client: &reqwest::Client,
    url: &str,
    password: &PasswordSha1,
) -> Result<bool, LookupError> {
    let mut response = client
        .get(format!("{url}/range/{}", password.prefix()))
        .header("Add-Padding", "true")
        .send()
        .await?
        .error_for_status()?;
    let mut answer = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        answer.extend_from_slice(&chunk);
        if answer.len() > MAX_ANSWER_BYTES {
            return Err("the range answer is larger than 1 MiB".into());
        }
    }
    Ok(range_lists(
        &String::from_utf8_lossy(&answer),
        password.suffix(),
    ))
}

/// Whether the sorted hash file `file` (`len` bytes long) lists `password`: a binary search over
/// byte offsets. Each step seeks to the middle, skips to the next line's start and reads that one
/// line, so a lookup reads about 2·log2(lines) short lines however large the file is (HIBP's is
/// tens of GB).
pub fn file_lists<F: Read + Seek>(
    file: &mut F,
    len: u64,
    password: &PasswordSha1,
) -> io::Result<bool> {
    // `low` is always a line start, and the line sought, if listed, starts in low..high.
    let (mut low, mut high) = (0, len);
    while low < high {
        let middle = low + (high - low) / 2;
        // The first line starting at or after `middle`: past the end of the line that holds the
        // byte before it (when that byte is a line end, `middle` itself).
        let start = if middle == low {
            low
        } else {
            line_at(file, middle - 1)?.1
        };
        if start >= high {
            high = middle;
            continue;
        }
        let (line, next) = line_at(file, start)?;
        let listed = parse_line(&line).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the line at byte {start} is not SHA1HEX:COUNT"),
            )
        })?;
        match listed.cmp_to(password) {
            std::cmp::Ordering::Equal => return Ok(listed.is_breach()),
            std::cmp::Ordering::Less => low = next,
            std::cmp::Ordering::Greater => high = start,
        }
    }
    Ok(false)
}

/// The line that holds byte `at`, from `at` to its end (without the `\n`), and where the next
/// line starts (`len` after the last).
fn line_at<F: Read + Seek>(file: &mut F, at: u64) -> io::Result<(Vec<u8>, u64)> {
    file.seek(SeekFrom::Start(at))?;
    let mut line = Vec::new();
    let mut piece = [0u8; 128];
    loop {
        let read = file.read(&mut piece)?;
        if read == 0 {
            let end = at + line.len() as u64;
            return Ok((line, end));
        }
        if let Some(newline) = piece[..read].iter().position(|byte| *byte == b'\n') {
            line.extend_from_slice(&piece[..newline]);
            let next = at + line.len() as u64 + 1;
            return Ok((line, next));
        }
        line.extend_from_slice(&piece[..read]);
        if line.len() > MAX_LINE_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the line at byte {at} is longer than {MAX_LINE_BYTES} bytes"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    /// Sorted `HASH:COUNT` lines for `count` passwords named `password-<n>`, CRLF-ended as HIBP's
    /// file is.
    fn hash_file(count: usize) -> (Vec<u8>, Vec<PasswordSha1>) {
        let mut hashes: Vec<PasswordSha1> = (0..count)
            .map(|n| PasswordSha1::of(&format!("password-{n}")))
            .collect();
        hashes.sort_by(|a, b| a.hex().cmp(b.hex()));
        let text: String = hashes
            .iter()
            .enumerate()
            .map(|(n, hash)| format!("{}:{}\r\n", hash.hex(), n + 1))
            .collect();
        (text.into_bytes(), hashes)
    }

    fn lists(file: &[u8], password: &PasswordSha1) -> bool {
        file_lists(&mut Cursor::new(file), file.len() as u64, password).unwrap()
    }

    #[test]
    fn the_first_and_the_last_line_are_found() {
        let (file, hashes) = hash_file(1000);
        assert!(lists(&file, &hashes[0]));
        assert!(lists(&file, &hashes[999]));
        // Without the last line end too.
        let trimmed = &file[..file.len() - 2];
        assert!(lists(trimmed, &hashes[999]));
        assert!(lists(trimmed, &hashes[0]));
    }

    #[test]
    fn every_listed_hash_is_found_and_others_are_not() {
        let (file, hashes) = hash_file(3000);
        for hash in &hashes {
            assert!(lists(&file, hash), "{hash:?}");
        }
        for n in 0..300 {
            let absent = PasswordSha1::of(&format!("not listed {n}"));
            assert!(!lists(&file, &absent), "{absent:?}");
        }
    }

    #[test]
    fn a_file_of_one_line_and_an_empty_file_answer() {
        let hash = PasswordSha1::of("P@ssw0rd");
        let one = format!("{}:3\n", hash.hex());
        assert!(lists(one.as_bytes(), &hash));
        assert!(!lists(one.as_bytes(), &PasswordSha1::of("other")));
        assert!(!lists(b"", &hash));
    }

    #[test]
    fn a_line_with_a_count_of_0_is_no_breach_and_a_line_without_one_is() {
        let hash = PasswordSha1::of("P@ssw0rd");
        assert!(!lists(format!("{}:0\n", hash.hex()).as_bytes(), &hash));
        assert!(lists(format!("{}\n", hash.hex()).as_bytes(), &hash));
    }

    /// A `Read` that counts what it hands out.
    struct Counting<'a> {
        inner: Cursor<&'a [u8]>,
        read: usize,
    }

    impl Read for Counting<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let read = self.inner.read(buf)?;
            self.read += read;
            Ok(read)
        }
    }

    impl Seek for Counting<'_> {
        fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
            self.inner.seek(to)
        }
    }

    #[test]
    fn a_lookup_reads_a_few_lines_not_the_file() {
        let (file, hashes) = hash_file(100_000);
        let mut counting = Counting {
            inner: Cursor::new(&file),
            read: 0,
        };
        let found = file_lists(&mut counting, file.len() as u64, &hashes[31_337]).unwrap();
        assert!(found);
        eprintln!("{} bytes read of {}", counting.read, file.len());
        // 4.4 MB of lines; about 17 steps of two 128-byte reads each.
        assert!(counting.read < 8 * 1024, "{} bytes read", counting.read);
    }

    #[test]
    fn a_file_that_is_not_a_hash_list_is_an_error() {
        let hash = PasswordSha1::of("P@ssw0rd");
        let text = b"this is not\na list of hashes\n";
        assert!(file_lists(&mut Cursor::new(&text[..]), text.len() as u64, &hash).is_err());
    }
}
