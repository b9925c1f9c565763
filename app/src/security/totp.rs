//! Time-based one-time codes (RFC 6238): SHA-1, 6 digits, 30-second steps, the previous, current
//! and next step accepted, and each step accepted at most once (RFC 6238 §5.2).

use crate::unix_time::UnixTime;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Builder};

pub const STEP_SECONDS: i64 = 30;
pub const DIGITS: usize = 6;
/// Steps either side of now that are accepted, for clocks that drift and people who type slowly.
const WINDOW: i64 = 1;

/// The number of a 30-second step since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TotpStep(pub i64);

impl TotpStep {
    pub fn at(now: UnixTime) -> Self {
        Self(now.seconds().div_euclid(STEP_SECONDS))
    }
}

/// What a typed code turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// Right, for this step, which is now spent.
    Accepted(TotpStep),
    /// Right, but for a step already accepted: someone may have seen it.
    Replayed,
    Wrong,
}

/// Reads a code as people type it: spaces and dashes are ignored ("123 456", "123-456").
pub fn parse_code(input: &str) -> Option<String> {
    let digits: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    (digits.len() == DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// The code of `step` for `secret`. HOTP (RFC 4226) with the step as its counter.
pub fn code_at(secret: &[u8], step: TotpStep) -> String {
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS as u8)
        .with_step_duration(STEP_SECONDS as u64)
        .with_secret(secret.to_vec())
        .build_noncompliant();
    totp.generate((step.0 * STEP_SECONDS) as u64).to_string()
}

/// Checks `code` against the steps around `now`. `last_accepted` is the newest step this secret
/// has been accepted for; it and every earlier step are refused.
pub fn check_code(
    secret: &[u8],
    code: &str,
    now: UnixTime,
    last_accepted: Option<TotpStep>,
) -> CodeCheck {
    let Some(code) = parse_code(code) else {
        return CodeCheck::Wrong;
    };
    let current = TotpStep::at(now);
    let mut replayed = false;
    // Newest first, so a code valid for two steps spends the later one.
    for offset in (-WINDOW..=WINDOW).rev() {
        let step = TotpStep(current.0 + offset);
        let matches: bool = code_at(secret, step)
            .as_bytes()
            .ct_eq(code.as_bytes())
            .into();
        if !matches {
            continue;
        }
        if last_accepted.is_some_and(|last| step <= last) {
            replayed = true;
        } else {
            return CodeCheck::Accepted(step);
        }
    }
    if replayed {
        CodeCheck::Replayed
    } else {
        CodeCheck::Wrong
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn the_rfc_6238_sha1_vectors_give_their_last_six_digits() {
        // RFC 6238 Appendix B: (unix time, 8-digit SHA-1 code).
        for (time, code) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(
                code_at(RFC_SECRET, TotpStep::at(UnixTime(time))),
                code[2..],
                "at {time}"
            );
            assert_eq!(
                check_code(RFC_SECRET, &code[2..], UnixTime(time), None),
                CodeCheck::Accepted(TotpStep::at(UnixTime(time)))
            );
        }
    }

    #[test]
    fn the_rfc_4226_hotp_vectors_are_the_codes_of_their_counters() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(code_at(RFC_SECRET, TotpStep(counter as i64)), *code);
        }
    }

    #[test]
    fn the_previous_and_next_steps_are_accepted_and_no_further() {
        let now = UnixTime(1_234_567_890);
        let current = TotpStep::at(now);
        for offset in [-1, 0, 1] {
            let step = TotpStep(current.0 + offset);
            assert_eq!(
                check_code(RFC_SECRET, &code_at(RFC_SECRET, step), now, None),
                CodeCheck::Accepted(step)
            );
        }
        for offset in [-2, 2] {
            let code = code_at(RFC_SECRET, TotpStep(current.0 + offset));
            assert_eq!(check_code(RFC_SECRET, &code, now, None), CodeCheck::Wrong);
        }
    }

    #[test]
    fn a_code_is_accepted_once() {
        let now = UnixTime(1_234_567_890);
        let code = code_at(RFC_SECRET, TotpStep::at(now));
        let CodeCheck::Accepted(step) = check_code(RFC_SECRET, &code, now, None) else {
            panic!("the code is right");
        };
        assert_eq!(
            check_code(RFC_SECRET, &code, now, Some(step)),
            CodeCheck::Replayed
        );
        // Nor later within the window.
        assert_eq!(
            check_code(RFC_SECRET, &code, now + 30, Some(step)),
            CodeCheck::Replayed
        );
    }

    #[test]
    fn a_code_older_than_the_last_accepted_step_is_refused() {
        let now = UnixTime(1_234_567_890);
        let previous = TotpStep(TotpStep::at(now).0 - 1);
        let code = code_at(RFC_SECRET, previous);
        assert_eq!(
            check_code(RFC_SECRET, &code, now, Some(TotpStep::at(now))),
            CodeCheck::Replayed
        );
    }

    #[test]
    fn codes_are_read_with_spaces_and_dashes() {
        assert_eq!(parse_code("123 456").as_deref(), Some("123456"));
        assert_eq!(parse_code(" 123-456 ").as_deref(), Some("123456"));
        assert_eq!(parse_code("12345"), None);
        assert_eq!(parse_code("1234567"), None);
        assert_eq!(parse_code("12a456"), None);
        assert_eq!(parse_code("１２３４５６"), None);
    }

    #[test]
    fn a_wrong_code_is_wrong() {
        let now = UnixTime(1_234_567_890);
        let right = code_at(RFC_SECRET, TotpStep::at(now));
        let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
        assert_eq!(check_code(RFC_SECRET, &wrong, now, None), CodeCheck::Wrong);
        assert_eq!(check_code(RFC_SECRET, "", now, None), CodeCheck::Wrong);
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// However a person spaces or dashes the six digits an app shows, they read as the digits.
        #[test]
        fn six_digits_with_any_spaces_and_dashes_parse_to_the_digits(
            digits in "[0-9]{6}",
            separators in proptest::collection::vec("[ \t\u{a0}-]{0,2}", 7),
        ) {
            let mut typed = separators[0].clone();
            for (digit, separator) in digits.chars().zip(&separators[1..]) {
                typed.push(digit);
                typed.push_str(separator);
            }
            prop_assert_eq!(parse_code(&typed), Some(digits));
        }

        /// Whatever is typed, the code read is six ASCII digits taken from it, or nothing; it
        /// never panics.
        #[test]
        fn any_input_parses_to_six_of_its_digits_or_nothing(input in any::<String>()) {
            if let Some(code) = parse_code(&input) {
                prop_assert_eq!(code.len(), DIGITS);
                prop_assert!(code.bytes().all(|b| b.is_ascii_digit()));
                let kept: String = input
                    .chars()
                    .filter(|c| !c.is_whitespace() && *c != '-')
                    .collect();
                prop_assert_eq!(code, kept);
            }
        }

        /// Anything but six digits among the separators is refused.
        #[test]
        fn a_wrong_number_of_digits_is_refused(digits in "[0-9]{0,5}|[0-9]{7,12}") {
            prop_assert_eq!(parse_code(&digits), None);
        }
    }
}
