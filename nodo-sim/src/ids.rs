//! Identifiers the simulator invents, and the seeded randomness behind them.
//!
//! Everything random in the simulator (payment tokens, the demo catalogue, fault probabilities)
//! comes from a seed, so a run can be replayed exactly: tests pass a fixed seed, the binary
//! derives one from the clock unless told otherwise. The demo catalogue needs identifiers that
//! pass the checks real software applies: Italian IBANs with a correct CIN and mod-97 check
//! digits, and personal fiscal codes (codice fiscale) with a correct check character.

use std::fmt::Write as _;

/// The SplitMix64 finalizer: a bijection on `u64` that scatters consecutive inputs.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A small, fast, seeded pseudo-random generator (SplitMix64). Not for secrets: the simulator
/// only needs reproducible variety.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// A number in `0..n` (`0` when `n` is 0). The modulo bias is irrelevant at these sizes.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// True with probability `percent`/100.
    pub fn percent(&mut self, percent: u8) -> bool {
        self.below(100) < u64::from(percent)
    }

    /// One element of a non-empty slice (`None` for an empty one).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        let n = u64::try_from(items.len()).unwrap_or(u64::MAX);
        usize::try_from(self.below(n))
            .ok()
            .and_then(|i| items.get(i))
    }
}

/// Where payment tokens come from. The Nodo's tokens are 32 hexadecimal digits, so a token is
/// kept as the `u128` those digits spell: no allocation on the hot path, and a token that is
/// not 32 hex digits cannot be one of ours.
pub trait TokenSource: Send + std::fmt::Debug {
    /// A token never returned before by this source.
    fn next_token(&mut self) -> u128;
}

/// Tokens from a seed and a counter: unique for 2^64 tokens (the low half is a bijection of the
/// counter), unpredictable-looking, and the same sequence for the same seed.
#[derive(Debug, Clone)]
pub struct SeededTokens {
    seed: u64,
    counter: u64,
}

impl SeededTokens {
    /// The sequence for `seed`.
    pub fn new(seed: u64) -> Self {
        SeededTokens { seed, counter: 0 }
    }
}

impl TokenSource for SeededTokens {
    fn next_token(&mut self) -> u128 {
        self.counter = self.counter.wrapping_add(1);
        let lo = mix(self.counter ^ self.seed);
        let hi = mix(lo ^ mix(self.seed));
        (u128::from(hi) << 64) | u128::from(lo)
    }
}

/// The token as the Nodo writes it: 32 lower-case hex digits.
pub fn format_token(token: u128) -> String {
    format!("{token:032x}")
}

/// The token a string spells, if it is exactly 32 hex digits (either case).
pub fn parse_token(s: &str) -> Option<u128> {
    if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(s, 16).ok()
}

/// Values of a character in an odd (1st, 3rd, ...) position, for the CIN of an Italian BBAN and
/// the check character of a codice fiscale (the same table serves both): digits `0`–`9` take
/// the values of `A`–`J`.
const ODD: [u32; 26] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
];

/// The check letter shared by the Italian BBAN CIN and the codice fiscale: odd positions through
/// [`ODD`], even positions at face value (`A`=0, `0`=0), sum modulo 26 as a letter. `None` if a
/// character is not an ASCII digit or capital letter.
fn check_letter(s: &str) -> Option<char> {
    let mut sum = 0u32;
    for (i, b) in s.bytes().enumerate() {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A'),
            _ => return None,
        };
        sum += if i % 2 == 0 { ODD[v as usize] } else { v };
    }
    char::from_u32('A' as u32 + sum % 26)
}

/// An Italian IBAN (27 characters) for the bank `abi`, branch `cab` and 12-character account:
/// the CIN letter and the ISO 13616 mod-97 check digits are computed. `None` if the parts do
/// not have the right length or characters.
pub fn italian_iban(abi: &str, cab: &str, account: &str) -> Option<String> {
    let ok = |s: &str, n: usize, letters: bool| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (letters && b.is_ascii_uppercase()))
    };
    if !ok(abi, 5, false) || !ok(cab, 5, false) || !ok(account, 12, true) {
        return None;
    }
    let mut bban = String::with_capacity(23);
    bban.push_str(abi);
    bban.push_str(cab);
    bban.push_str(account);
    let cin = check_letter(&bban)?;
    bban.insert(0, cin);
    // ISO 13616: BBAN, then country code and "00", letters as 10..35, modulo 97.
    let mut r = 0u32;
    for b in bban.bytes().chain(*b"IT00") {
        r = match b {
            b'0'..=b'9' => (r * 10 + u32::from(b - b'0')) % 97,
            _ => (r * 100 + u32::from(b - b'A') + 10) % 97,
        };
    }
    let mut iban = String::with_capacity(27);
    let _ = write!(iban, "IT{:02}{bban}", 98 - r);
    Some(iban)
}

/// Whether an IBAN's mod-97 check digits are right (ISO 13616).
pub fn iban_is_valid(iban: &str) -> bool {
    let b = iban.as_bytes();
    if b.len() < 5 || !b.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let mut r = 0u32;
    for &c in b[4..].iter().chain(&b[..4]) {
        r = match c {
            b'0'..=b'9' => (r * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => (r * 100 + u32::from(c - b'A') + 10) % 97,
            _ => return false,
        };
    }
    r == 1
}

/// Letters of a name part, upper case, ASCII only (accents dropped with their letter, which is
/// what the Agenzia delle Entrate does for the name code as well).
fn letters(s: &str) -> impl Iterator<Item = u8> + '_ {
    s.bytes()
        .filter(u8::is_ascii_alphabetic)
        .map(|b| b.to_ascii_uppercase())
}

fn is_vowel(b: u8) -> bool {
    matches!(b, b'A' | b'E' | b'I' | b'O' | b'U')
}

/// The three-letter code of a surname or a first name.
fn name_code(s: &str, first_name: bool) -> String {
    let consonants: Vec<u8> = letters(s).filter(|&b| !is_vowel(b)).collect();
    let vowels = letters(s).filter(|&b| is_vowel(b));
    let picked: Vec<u8> = if first_name && consonants.len() >= 4 {
        vec![consonants[0], consonants[2], consonants[3]]
    } else {
        consonants
            .iter()
            .copied()
            .chain(vowels)
            .chain(std::iter::repeat(b'X'))
            .take(3)
            .collect()
    };
    String::from_utf8(picked).unwrap_or_default()
}

/// Sex, for the day field of a codice fiscale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    /// Day as is.
    Male,
    /// Day plus 40.
    Female,
}

/// A personal fiscal code (codice fiscale, 16 characters) with a correct check character, for
/// someone born in `birthplace` (a 4-character cadastral code such as `H501`, Roma). Synthetic
/// people only: real codes also handle homocodes, which a simulator does not need. `None` for
/// an impossible date or a malformed birthplace.
pub fn personal_fiscal_code(
    surname: &str,
    name: &str,
    (year, month, day): (u16, u8, u8),
    sex: Sex,
    birthplace: &str,
) -> Option<String> {
    const MONTHS: &[u8; 12] = b"ABCDEHLMPRST";
    let month_letter = *MONTHS.get(usize::from(month).checked_sub(1)?)?;
    if !(1..=31).contains(&day)
        || birthplace.len() != 4
        || !birthplace
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    {
        return None;
    }
    let day = if sex == Sex::Female { day + 40 } else { day };
    let mut cf = String::with_capacity(16);
    cf.push_str(&name_code(surname, false));
    cf.push_str(&name_code(name, true));
    let _ = write!(
        cf,
        "{:02}{}{:02}{birthplace}",
        year % 100,
        char::from(month_letter),
        day
    );
    let check = check_letter(&cf)?;
    cf.push(check);
    Some(cf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iban_matches_a_known_valid_one() {
        // The textbook Italian example: CIN X, check digits 60.
        assert_eq!(
            italian_iban("05428", "11101", "000000123456").as_deref(),
            Some("IT60X0542811101000000123456")
        );
        assert!(iban_is_valid("IT60X0542811101000000123456"));
        assert!(!iban_is_valid("IT61X0542811101000000123456"));
        assert!(!iban_is_valid("IT60X054281110100000012345"));
        assert_eq!(italian_iban("0542", "11101", "000000123456"), None);
        assert_eq!(italian_iban("05428", "11101", "00000012345a"), None);
    }

    #[test]
    fn generated_ibans_are_valid() {
        let mut rng = Rng::new(7);
        for _ in 0..500 {
            let abi = format!("{:05}", rng.below(100_000));
            let cab = format!("{:05}", rng.below(100_000));
            let account = format!("{:012}", rng.below(1_000_000_000_000));
            let iban = italian_iban(&abi, &cab, &account).expect("well-formed parts");
            assert_eq!(iban.len(), 27);
            assert!(iban_is_valid(&iban), "{iban}");
        }
    }

    #[test]
    fn fiscal_code_matches_known_ones() {
        assert_eq!(
            personal_fiscal_code("Rossi", "Mario", (1980, 1, 1), Sex::Male, "H501").as_deref(),
            Some("RSSMRA80A01H501U")
        );
        // Four consonants in the first name: 1st, 3rd and 4th.
        assert_eq!(name_code("Gianfranco", true), "GFR");
        assert_eq!(name_code("Fo", false), "FOX");
        let f = personal_fiscal_code("Bianchi", "Anna", (1990, 12, 5), Sex::Female, "H501")
            .expect("valid date");
        assert_eq!(&f[..15], "BNCNNA90T45H501");
        assert_eq!(
            personal_fiscal_code("A", "B", (1990, 13, 1), Sex::Male, "H501"),
            None
        );
        assert_eq!(
            personal_fiscal_code("A", "B", (1990, 1, 1), Sex::Male, "H5"),
            None
        );
    }

    #[test]
    fn tokens_are_unique_and_reproducible() {
        let mut a = SeededTokens::new(42);
        let mut b = SeededTokens::new(42);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let t = a.next_token();
            assert_eq!(t, b.next_token());
            assert!(seen.insert(t), "duplicate token");
            let s = format_token(t);
            assert_eq!(s.len(), 32);
            assert_eq!(parse_token(&s), Some(t));
        }
        assert_ne!(
            SeededTokens::new(1).next_token(),
            SeededTokens::new(2).next_token()
        );
        assert_eq!(parse_token("c110729d258c4ab1b765fe902aae41d"), None);
        assert_eq!(parse_token("g110729d258c4ab1b765fe902aae41d6"), None);
        assert_eq!(
            parse_token("C110729D258C4AB1B765FE902AAE41D6"),
            parse_token("c110729d258c4ab1b765fe902aae41d6")
        );
    }

    #[test]
    fn rng_helpers_stay_in_range() {
        let mut r = Rng::new(3);
        for _ in 0..1000 {
            let v = r.range(5, 9);
            assert!((5..=9).contains(&v));
        }
        assert_eq!(r.below(0), 0);
        assert!(!r.percent(0));
        assert!(r.percent(100));
        assert_eq!(r.pick::<u8>(&[]), None);
        assert_eq!(r.pick(&[7]), Some(&7));
    }
}
