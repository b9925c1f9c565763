//! Whether a new password is too easy to guess. NIST 800-63B §5.1.1.2 asks to refuse values that
//! are commonly used, expected or compromised: zxcvbn (Dropbox's estimator, a well-kept port)
//! knows the common passwords, names and words and the patterns people use (dates, sequences,
//! keyboard walks, l33t), and it is told the account's own username and address, which an
//! attacker knows too.

/// zxcvbn's score 3 needs about 10^10 guesses: out of reach online, and slow offline against
/// Argon2id. Scores 0–2 (under 10^8 guesses) are refused.
pub const MINIMUM_SCORE: u8 = 3;
/// zxcvbn's matching grows faster than the input: only this many characters are scored. A
/// password's guessable start is still found; a longer one is judged by it.
const SCORED_CHARS: usize = 64;

/// zxcvbn's verdict on a password: its score (0–4) and, when it is refused, why, in words to show
/// next to the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub score: u8,
    pub problem: Option<String>,
}

/// Scores `password`; `known` are the account's username and address.
pub fn assess(password: &str, known: &[&str]) -> Assessment {
    let scored: String = password.chars().take(SCORED_CHARS).collect();
    let entropy = zxcvbn::zxcvbn(&scored, known);
    let score = u8::from(entropy.score());
    let problem = (score < MINIMUM_SCORE).then(|| explain(entropy.feedback()));
    Assessment { score, problem }
}

/// zxcvbn's warning ("This is a top-100 common password.") and its first suggestion, or a
/// general line when it has neither.
fn explain(feedback: Option<&zxcvbn::feedback::Feedback>) -> String {
    let warning = feedback
        .and_then(|feedback| feedback.warning())
        .map(|warning| warning.to_string());
    let suggestion = feedback
        .and_then(|feedback| feedback.suggestions().first())
        .map(|suggestion| suggestion.to_string());
    let mut words = vec![warning.unwrap_or_else(|| "This password is easy to guess.".to_owned())];
    words.push(
        suggestion
            .unwrap_or_else(|| "Add another word or two. Uncommon words are better.".to_owned()),
    );
    words
        .into_iter()
        .map(|line| {
            let line = line.trim().to_owned();
            if line.ends_with('.') {
                line
            } else {
                format!("{line}.")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_top_common_password_is_refused_with_zxcvbns_reason() {
        let verdict = assess("password1", &[]);
        assert!(verdict.score < MINIMUM_SCORE);
        let problem = verdict.problem.unwrap();
        assert!(problem.contains("common password"), "{problem}");
    }

    #[test]
    fn a_password_made_of_the_username_is_refused() {
        let verdict = assess("alicewonderland2024", &["alicewonderland", "a@example.com"]);
        assert!(verdict.problem.is_some(), "{verdict:?}");
    }

    #[test]
    fn keyboard_walks_and_repeats_are_refused() {
        for weak in ["qwertyuiop", "aaaaaaaaaaaa", "abcdefgh123", "12345678"] {
            assert!(assess(weak, &[]).problem.is_some(), "{weak}");
        }
    }

    #[test]
    fn a_passphrase_of_uncommon_words_is_accepted() {
        for strong in [
            "correct horse battery",
            "benchmark password",
            "my secret password",
            "plum tractor seventy",
        ] {
            let verdict = assess(strong, &[]);
            assert_eq!(verdict.problem, None, "{strong}: {verdict:?}");
            assert!(verdict.score >= MINIMUM_SCORE);
        }
    }

    #[test]
    fn a_long_password_is_scored_quickly() {
        let long = "a1b2c3d4".repeat(16);
        let started = std::time::Instant::now();
        let verdict = assess(&long, &[]);
        // Not a timing test: a guard that the input is cut before zxcvbn's matching.
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert!(verdict.score <= 4);
    }
}
