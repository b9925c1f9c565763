//! The recovery code: 80 random bits as 16 symbols of Crockford's base32 alphabet (no I, L, O or
//! U, so nothing reads as another symbol), shown as XXXX-XXXX-XXXX-XXXX.

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
pub const SYMBOLS: usize = 16;
/// 16 symbols × 5 bits.
pub const RANDOM_BYTES: usize = 10;

/// Formats 80 random bits as a recovery code.
pub fn format(random: &[u8; RANDOM_BYTES]) -> String {
    let bits = random
        .iter()
        .fold(0u128, |acc, byte| (acc << 8) | u128::from(*byte));
    let symbols: Vec<char> = (0..SYMBOLS)
        .map(|i| ALPHABET[((bits >> (5 * (SYMBOLS - 1 - i))) & 0x1f) as usize] as char)
        .collect();
    symbols
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Reads a code as typed: any case, with or without dashes and spaces; the look-alikes O, I and L
/// are read as 0, 1 and 1. Returns the canonical form that is hashed, or None if it cannot be one.
pub fn normalize(input: &str) -> Option<String> {
    let mut symbols = String::with_capacity(SYMBOLS);
    for c in input.chars().filter(|c| !c.is_whitespace() && *c != '-') {
        let c = match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        symbols.push(c);
    }
    (symbols.len() == SYMBOLS).then_some(symbols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_four_groups_of_four_symbols() {
        let code = format(&[0xff; RANDOM_BYTES]);
        assert_eq!(code, "ZZZZ-ZZZZ-ZZZZ-ZZZZ");
        assert_eq!(format(&[0; RANDOM_BYTES]), "0000-0000-0000-0000");
        let code = format(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(code.len(), 19);
        assert!(code.split('-').all(|group| group.len() == 4));
    }

    #[test]
    fn every_bit_reaches_the_code() {
        let zero = format(&[0; RANDOM_BYTES]);
        for byte in 0..RANDOM_BYTES {
            for bit in 0..8 {
                let mut random = [0; RANDOM_BYTES];
                random[byte] = 1 << bit;
                assert_ne!(format(&random), zero, "byte {byte} bit {bit}");
            }
        }
    }

    #[test]
    fn a_code_is_read_in_any_case_with_or_without_dashes() {
        let code = format(&[7, 1, 200, 33, 90, 5, 250, 18, 64, 3]);
        let canonical = code.replace('-', "");
        assert_eq!(normalize(&code).as_deref(), Some(canonical.as_str()));
        assert_eq!(
            normalize(&code.to_lowercase()).as_deref(),
            Some(canonical.as_str())
        );
        assert_eq!(normalize(&canonical).as_deref(), Some(canonical.as_str()));
        assert_eq!(
            normalize(&format!(" {} ", code.replace('-', " "))).as_deref(),
            Some(canonical.as_str())
        );
    }

    #[test]
    fn look_alike_letters_are_read_as_digits() {
        assert_eq!(
            normalize("oooo-iiii-llll-0000").as_deref(),
            Some("0000111111110000")
        );
    }

    #[test]
    fn anything_else_is_not_a_code() {
        assert_eq!(normalize(""), None);
        assert_eq!(normalize("ABCD-EFGH-JKMN"), None);
        assert_eq!(normalize("ABCD-EFGH-JKMN-PQRS-T"), None);
        assert_eq!(normalize("ABCD-EFGH-JKMN-PQRU"), None);
        assert_eq!(normalize("ÄBCD-EFGH-JKMN-PQRS"), None);
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A code as shown reads back as its symbols, without the dashes.
        #[test]
        fn a_formatted_code_normalizes_to_its_symbols(random in any::<[u8; RANDOM_BYTES]>()) {
            let shown = format(&random);
            prop_assert_eq!(normalize(&shown), Some(shown.replace('-', "")));
        }

        /// Case, dashes and spaces do not matter, nor the look-alikes O, I and L.
        #[test]
        fn case_dashes_spaces_and_look_alikes_do_not_matter(
            random in any::<[u8; RANDOM_BYTES]>(),
            lowercase in any::<bool>(),
            separator in prop_oneof![Just(""), Just(" "), Just("-"), Just(" - ")],
        ) {
            let shown = format(&random);
            let canonical = normalize(&shown);
            let mut typed = shown
                .split('-')
                .collect::<Vec<_>>()
                .join(separator)
                .replace('0', "O")
                .replace('1', "l");
            if lowercase {
                typed = typed.to_lowercase();
            }
            prop_assert_eq!(normalize(&typed), canonical);
        }

        /// Whatever is typed, the result is sixteen symbols of the alphabet, or nothing; it never
        /// panics.
        #[test]
        fn any_input_normalizes_to_sixteen_symbols_or_nothing(input in any::<String>()) {
            if let Some(code) = normalize(&input) {
                prop_assert_eq!(code.len(), SYMBOLS);
                prop_assert!(code.bytes().all(|b| ALPHABET.contains(&b)));
            }
        }
    }
}
