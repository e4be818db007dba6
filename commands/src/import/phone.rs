//! Phone numbers as other booking products export them ("(212) 555-0142", "07700 900123",
//! "+44 7700 900123", "0044 …") turned into E.164 with the salon's country as the default.
//!
//! A small table of the countries salons using this product are in, not a full numbering plan:
//! a national number is checked for its country's length, an international one (`+` or the
//! international prefix `00`/`011`) for E.164's 8 to 15 digits.

use domain::values::Phone;
use std::ops::RangeInclusive;

/// What a national number looks like in one country.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Country {
    /// ISO 3166-1 alpha-2.
    pub code: &'static str,
    /// The country calling code, without `+`.
    pub calling: &'static str,
    /// The trunk prefix dialled before national numbers (`0` in most of Europe), dropped.
    pub trunk: Option<char>,
    /// How many digits a national number has, trunk prefix dropped.
    pub digits: RangeInclusive<usize>,
}

const fn c(
    code: &'static str,
    calling: &'static str,
    trunk: Option<char>,
    digits: RangeInclusive<usize>,
) -> Country {
    Country {
        code,
        calling,
        trunk,
        digits,
    }
}

/// The countries known by code; the first is the default.
pub static COUNTRIES: &[Country] = &[
    c("US", "1", None, 10..=10),
    c("CA", "1", None, 10..=10),
    c("PR", "1", None, 10..=10),
    c("GB", "44", Some('0'), 9..=10),
    c("IE", "353", Some('0'), 7..=9),
    c("AU", "61", Some('0'), 9..=9),
    c("NZ", "64", Some('0'), 8..=10),
    c("ZA", "27", Some('0'), 9..=9),
    c("IN", "91", Some('0'), 10..=10),
    c("DE", "49", Some('0'), 6..=13),
    c("FR", "33", Some('0'), 9..=9),
    c("ES", "34", None, 9..=9),
    c("IT", "39", None, 6..=11),
    c("PT", "351", None, 9..=9),
    c("NL", "31", Some('0'), 9..=9),
    c("BE", "32", Some('0'), 8..=9),
    c("LU", "352", None, 6..=11),
    c("CH", "41", Some('0'), 9..=9),
    c("AT", "43", Some('0'), 4..=13),
    c("DK", "45", None, 8..=8),
    c("NO", "47", None, 8..=8),
    c("SE", "46", Some('0'), 7..=10),
    c("FI", "358", Some('0'), 5..=12),
    c("PL", "48", None, 9..=9),
    c("CZ", "420", None, 9..=9),
    c("GR", "30", None, 10..=10),
    c("MX", "52", None, 10..=10),
    c("BR", "55", Some('0'), 10..=11),
    c("AR", "54", Some('0'), 10..=11),
    c("CO", "57", None, 10..=10),
    c("CL", "56", None, 9..=9),
    c("JP", "81", Some('0'), 9..=10),
    c("SG", "65", None, 8..=8),
    c("HK", "852", None, 8..=8),
    c("AE", "971", Some('0'), 8..=9),
    c("IL", "972", Some('0'), 8..=9),
];

/// The country with ISO code `code` (any case), if the table knows it.
pub fn country(code: &str) -> Option<&'static Country> {
    let code = code.trim();
    COUNTRIES.iter().find(|c| c.code.eq_ignore_ascii_case(code))
}

/// The default: the United States.
pub fn default_country() -> &'static Country {
    &COUNTRIES[0]
}

/// The codes the table knows, for messages.
pub fn known_codes() -> String {
    COUNTRIES
        .iter()
        .map(|c| c.code)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The country a salon in time zone `tz` (IANA name) is most likely in; the default when the
/// zone says nothing certain.
pub fn country_for_zone(tz: &str) -> &'static Country {
    let code = match tz {
        "America/Toronto" | "America/Vancouver" | "America/Edmonton" | "America/Winnipeg"
        | "America/Halifax" | "America/St_Johns" | "America/Regina" | "America/Montreal"
        | "America/Moncton" | "America/Whitehorse" => "CA",
        "America/Puerto_Rico" => "PR",
        "Europe/London" | "Europe/Belfast" => "GB",
        "Europe/Dublin" => "IE",
        "Pacific/Auckland" => "NZ",
        "Africa/Johannesburg" => "ZA",
        "Asia/Kolkata" | "Asia/Calcutta" => "IN",
        "Europe/Berlin" => "DE",
        "Europe/Paris" => "FR",
        "Europe/Madrid" | "Atlantic/Canary" | "Africa/Ceuta" => "ES",
        "Europe/Rome" => "IT",
        "Europe/Lisbon" | "Atlantic/Madeira" | "Atlantic/Azores" => "PT",
        "Europe/Amsterdam" => "NL",
        "Europe/Brussels" => "BE",
        "Europe/Luxembourg" => "LU",
        "Europe/Zurich" => "CH",
        "Europe/Vienna" => "AT",
        "Europe/Copenhagen" => "DK",
        "Europe/Oslo" => "NO",
        "Europe/Stockholm" => "SE",
        "Europe/Helsinki" => "FI",
        "Europe/Warsaw" => "PL",
        "Europe/Prague" => "CZ",
        "Europe/Athens" => "GR",
        "America/Mexico_City" | "America/Cancun" | "America/Monterrey" | "America/Tijuana" => "MX",
        "America/Sao_Paulo" | "America/Bahia" | "America/Fortaleza" | "America/Recife" => "BR",
        "America/Argentina/Buenos_Aires" | "America/Buenos_Aires" => "AR",
        "America/Bogota" => "CO",
        "America/Santiago" => "CL",
        "Asia/Tokyo" => "JP",
        "Asia/Singapore" => "SG",
        "Asia/Hong_Kong" => "HK",
        "Asia/Dubai" => "AE",
        "Asia/Jerusalem" | "Asia/Tel_Aviv" => "IL",
        z if z.starts_with("Australia/") => "AU",
        _ => "US",
    };
    country(code).unwrap_or_else(default_country)
}

/// `raw` as an E.164 [`Phone`], national numbers read as `country`'s. The error says why, in
/// words (without the number: the caller knows which it was).
pub fn normalise(raw: &str, country: &Country) -> Result<Phone, String> {
    let s = raw.trim();
    // Spreadsheets write extensions as "x12" or "ext. 12": not something a salon texts.
    if s.len() > 40 {
        return Err("is too long for a phone number".into());
    }
    if let Some(bad) = s
        .chars()
        .find(|c| !(c.is_ascii_digit() || " +-().\u{a0}/".contains(*c)))
    {
        return Err(format!(
            "is not a phone number (it contains {bad:?}; only digits, spaces, +, -, ( and ) are read)"
        ));
    }
    if s.chars().skip(1).any(|c| c == '+') {
        return Err("has a + in the wrong place".into());
    }
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let international = if s.starts_with('+') {
        Some(digits.as_str())
    } else if country.calling == "1" {
        digits.strip_prefix("011")
    } else {
        digits.strip_prefix("00")
    };
    let e164 = match international {
        Some(rest) => {
            if rest.starts_with('0') || !(8..=15).contains(&rest.len()) {
                return Err("is not a valid international number".into());
            }
            if rest.starts_with('1') && rest.len() != 11 {
                return Err("is not a valid North American number (+1 and ten digits)".into());
            }
            format!("+{rest}")
        }
        None => {
            let mut national = digits.as_str();
            if country.calling == "1" && national.len() == 11 {
                national = national.strip_prefix('1').unwrap_or(national);
            }
            if let Some(trunk) = country.trunk {
                national = national.strip_prefix(trunk).unwrap_or(national);
            }
            if !country.digits.contains(&national.len()) {
                let (lo, hi) = (country.digits.start(), country.digits.end());
                let expected = if lo == hi {
                    format!("{lo}")
                } else {
                    format!("{lo} to {hi}")
                };
                return Err(format!(
                    "is not a valid {} number ({expected} digits expected; write others with + and the country code)",
                    country.code
                ));
            }
            format!("+{}{national}", country.calling)
        }
    };
    Phone::parse(&e164).map_err(|e| e.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e164(raw: &str, code: &str) -> Result<String, String> {
        normalise(raw, country(code).unwrap()).map(|p| p.as_str().to_string())
    }

    #[test]
    fn north_american_numbers_in_every_usual_spelling() {
        for raw in [
            "(212) 555-0142",
            "212-555-0142",
            "212.555.0142",
            "1 212 555 0142",
            "+1 (212) 555-0142",
            "011 1 212 555 0142",
        ] {
            assert_eq!(e164(raw, "US").as_deref(), Ok("+12125550142"), "{raw}");
        }
    }

    #[test]
    fn national_numbers_take_the_salons_country_and_lose_the_trunk_zero() {
        assert_eq!(e164("07700 900123", "GB").as_deref(), Ok("+447700900123"));
        assert_eq!(e164("612 34 56 78", "ES").as_deref(), Ok("+34612345678"));
        assert_eq!(e164("06 12 34 56 78", "FR").as_deref(), Ok("+33612345678"));
        assert_eq!(e164("0412 345 678", "AU").as_deref(), Ok("+61412345678"));
    }

    #[test]
    fn international_numbers_keep_their_own_country() {
        assert_eq!(
            e164("+44 7700 900123", "US").as_deref(),
            Ok("+447700900123")
        );
        assert_eq!(
            e164("0044 7700 900123", "ES").as_deref(),
            Ok("+447700900123")
        );
        assert_eq!(e164("+1 212 555 0142", "GB").as_deref(), Ok("+12125550142"));
    }

    #[test]
    fn numbers_of_the_wrong_length_or_with_letters_are_refused_with_a_reason() {
        assert!(e164("555-0142", "US").unwrap_err().contains("10 digits"));
        assert!(e164("call me", "US")
            .unwrap_err()
            .contains("not a phone number"));
        assert!(e164("+1 212 555 01", "US").is_err());
        assert!(e164("12 34", "ES").unwrap_err().contains("ES"));
        assert!(e164("+12+34", "US").is_err());
    }

    #[test]
    fn the_country_follows_the_salons_time_zone() {
        assert_eq!(country_for_zone("Europe/Madrid").code, "ES");
        assert_eq!(country_for_zone("Australia/Sydney").code, "AU");
        assert_eq!(country_for_zone("America/Toronto").code, "CA");
        assert_eq!(country_for_zone("America/New_York").code, "US");
        assert_eq!(country_for_zone("Antarctica/Troll").code, "US");
        assert_eq!(country("gb").map(|c| c.calling), Some("44"));
        assert!(country("XX").is_none());
    }
}
