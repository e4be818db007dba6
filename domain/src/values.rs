//! Value types parsed at the edge ("parse, don't validate"): once a string is an `Email`, every
//! layer below can trust it.

use crate::ids::ParseError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A client's email address: trimmed, at most 254 characters, one `@`, a dotted domain
/// (lower-cased), no whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let err = |m: &str| ParseError::new("email", m);
        let s = raw.trim();
        if s.is_empty() {
            return Err(err("is required"));
        }
        if s.len() > 254 {
            return Err(err("is longer than 254 characters"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err("must not contain spaces"));
        }
        let (local, domain) = s.split_once('@').ok_or_else(|| err("must contain @"))?;
        if local.is_empty() || local.len() > 64 || domain.contains('@') {
            return Err(err("is not a valid address"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels
                .iter()
                .any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-'))
        {
            return Err(err("needs a domain such as example.com"));
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The address as it identifies a person: all lower case. (The local part is kept as typed
    /// for sending, but nobody runs two mailboxes that differ only in case.)
    pub fn identity(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number normalised to `+` and digits (E.164 shape). Ten-digit numbers are taken as
/// North American (the salon is in New York) and get `+1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let err = |m: &str| ParseError::new("phone", m);
        let s = raw.trim();
        if s.is_empty() {
            return Err(err("is required"));
        }
        if s.len() > 32 {
            return Err(err("is too long"));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        {
            return Err(err("may contain only digits, spaces, +, -, ( and )"));
        }
        if s.chars().skip(1).any(|c| c == '+') {
            return Err(err("has a + in the wrong place"));
        }
        let digits: String = s.chars().filter(char::is_ascii_digit).collect();
        let international = s.starts_with('+');
        let normalised = match (international, digits.len()) {
            (false, 10) => format!("+1{digits}"),
            (false, 11) if digits.starts_with('1') => format!("+{digits}"),
            (true, 7..=15) => format!("+{digits}"),
            _ => return Err(err("is not a valid phone number")),
        };
        Ok(Self(normalised))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An ISO 4217 currency code, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Currency(String);

impl Currency {
    pub fn usd() -> Self {
        Self("USD".into())
    }
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let s = raw.trim().to_ascii_uppercase();
        if s.len() == 3 && s.chars().all(|c| c.is_ascii_uppercase()) {
            if crate::money::is_known(&s) {
                Ok(Self(s))
            } else {
                Err(ParseError::new(
                    "currency",
                    format!("{raw:?} is not an ISO 4217 currency code"),
                ))
            }
        } else {
            Err(ParseError::new(
                "currency",
                format!("{raw:?} is not a three-letter currency code"),
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Decimals of the minor unit (2 for USD, 0 for JPY, 3 for BHD).
    pub fn minor_units(&self) -> u8 {
        crate::money::minor_units(&self.0)
    }
    /// An amount in this currency's minor units for people: `$95.00`, `¥9,500`.
    pub fn format(&self, amount_minor: i64) -> String {
        crate::money::format(amount_minor, &self.0)
    }
}

impl Default for Currency {
    fn default() -> Self {
        Self::usd()
    }
}

/// An amount of money in integer cents, never negative. The currency travels beside it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Cents(i64);

/// The largest amount we accept: $1,000,000.00. Nothing in a salon costs more, and it keeps sums
/// far from overflow.
pub const MAX_CENTS: i64 = 100_000_000;

impl Cents {
    pub fn new(cents: i64) -> Result<Self, ParseError> {
        if cents < 0 {
            Err(ParseError::new("amount", "must not be negative"))
        } else if cents > MAX_CENTS {
            Err(ParseError::new("amount", "is more than 1,000,000.00"))
        } else {
            Ok(Self(cents))
        }
    }
    /// Parses a decimal amount such as `45`, `45.5` or `45.50` (no more than two decimals).
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let err = || ParseError::new("amount", format!("{raw:?} is not an amount like 45.00"));
        let s = raw.trim().trim_start_matches('$');
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        if whole.is_empty() || !whole.chars().all(|c| c.is_ascii_digit()) || whole.len() > 9 {
            return Err(err());
        }
        if frac.len() > 2 || !frac.chars().all(|c| c.is_ascii_digit()) {
            return Err(err());
        }
        let whole: i64 = whole.parse().map_err(|_| err())?;
        let frac: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().map_err(|_| err())? * 10,
            _ => frac.parse().map_err(|_| err())?,
        };
        Self::new(whole * 100 + frac)
    }
    pub fn get(self) -> i64 {
        self.0
    }
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// Bounded, trimmed free text (names, bios, notes). No control characters but newlines/tabs.
pub fn bounded_text(
    field: &'static str,
    raw: &str,
    min: usize,
    max: usize,
) -> Result<String, ParseError> {
    let s = raw.trim();
    let n = s.chars().count();
    if n < min {
        return Err(if min == 1 {
            ParseError::new(field, "is required")
        } else {
            ParseError::new(field, format!("needs at least {min} characters"))
        });
    }
    if n > max {
        return Err(ParseError::new(
            field,
            format!("is longer than {max} characters"),
        ));
    }
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(ParseError::new(field, "contains control characters"));
    }
    Ok(s.to_string())
}

/// A client's name as they typed it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        bounded_text("name", raw, 1, 100).map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The person a booking is for. Contact details are optional only in the sense that the
/// client may be erased later (issue 8); at booking time all three are required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub name: PersonName,
    pub email: Email,
    pub phone: Phone,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_accepts_and_normalises_domain() {
        assert_eq!(
            Email::parse(" Ada@Example.COM ").unwrap().as_str(),
            "Ada@example.com"
        );
    }

    #[test]
    fn email_rejects_garbage() {
        for bad in [
            "",
            "plain",
            "a@b",
            "a b@c.com",
            "@x.com",
            "a@@x.com",
            "a@.com",
            "a@x..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be rejected");
        }
        assert!(Email::parse(&format!("{}@x.com", "a".repeat(300))).is_err());
    }

    #[test]
    fn phone_normalises_north_american_numbers() {
        assert_eq!(
            Phone::parse("(212) 555-0142").unwrap().as_str(),
            "+12125550142"
        );
        assert_eq!(
            Phone::parse("1-212-555-0142").unwrap().as_str(),
            "+12125550142"
        );
        assert_eq!(
            Phone::parse("+44 20 7946 0958").unwrap().as_str(),
            "+442079460958"
        );
    }

    #[test]
    fn phone_rejects_garbage() {
        for bad in [
            "",
            "12345",
            "call me",
            "+1+2125550142",
            "2125550142999999",
            "555-0142",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn cents_parse_decimal_amounts() {
        assert_eq!(Cents::parse("45").unwrap().get(), 4500);
        assert_eq!(Cents::parse("45.5").unwrap().get(), 4550);
        assert_eq!(Cents::parse("$45.05").unwrap().get(), 4505);
        assert_eq!(Cents::parse("0").unwrap().get(), 0);
        assert_eq!(Cents::parse("45.05").unwrap().to_string(), "45.05");
    }

    #[test]
    fn cents_reject_negative_huge_and_malformed() {
        for bad in ["-1", "1.234", "abc", "", "1e3", "10000000000"] {
            assert!(Cents::parse(bad).is_err(), "{bad} should be rejected");
        }
        assert!(Cents::new(-5).is_err());
        assert!(Cents::new(MAX_CENTS + 1).is_err());
    }

    #[test]
    fn currency_codes() {
        assert_eq!(Currency::parse("usd").unwrap().as_str(), "USD");
        assert!(Currency::parse("US").is_err());
        assert!(Currency::parse("U$D").is_err());
    }

    #[test]
    fn text_bounds() {
        assert!(bounded_text("name", "  ", 1, 10).is_err());
        assert!(bounded_text("name", "abcdefghijk", 1, 10).is_err());
        assert!(bounded_text("name", "a\u{0}b", 1, 10).is_err());
        assert_eq!(bounded_text("name", " Ada ", 1, 10).unwrap(), "Ada");
    }
}
