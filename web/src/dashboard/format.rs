//! Words, money and times as the dashboard shows them.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// Integer cents as money: `$85.00` for dollars, `85.00 EUR` otherwise.
pub fn money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    let amount = format!("{}.{:02}", c / 100, c % 100);
    match currency {
        "USD" => format!("{sign}${amount}"),
        "EUR" => format!("{sign}€{amount}"),
        "GBP" => format!("{sign}£{amount}"),
        other => format!("{sign}{amount} {other}"),
    }
}

/// Cents as a plain decimal for CSV (`85.00`).
pub fn decimal(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}{}.{:02}", c / 100, c % 100)
}

fn parse(ts: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(ts).ok()
}

/// An instant in the salon's time zone: `Tue 3 Dec 2026, 10:30`.
pub fn when(ts: &str, tz: Tz) -> String {
    parse(ts)
        .map(|t| {
            t.with_timezone(&tz)
                .format("%a %-d %b %Y, %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| ts.to_string())
}

/// Only the time of day: `10:30`.
pub fn clock(ts: &str, tz: Tz) -> String {
    parse(ts)
        .map(|t| t.with_timezone(&tz).format("%H:%M").to_string())
        .unwrap_or_else(|| ts.to_string())
}

/// An instant in the salon's zone as RFC 3339 (CSV).
pub fn local_rfc3339(ts: &str, tz: Tz) -> String {
    parse(ts)
        .map(|t| t.with_timezone(&tz).to_rfc3339())
        .unwrap_or_else(|| ts.to_string())
}

/// The UTC instant of local midnight starting `day` in `tz` (the earliest, around DST).
pub fn midnight(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.with_timezone(&Utc)
        }
        // Midnight skipped by a DST change: one hour later exists.
        chrono::LocalResult::None => tz
            .from_local_datetime(&(naive + chrono::Duration::hours(1)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| naive.and_utc()),
    }
}

/// A booking status in words.
pub fn status(s: &str) -> &'static str {
    match s {
        "requested" => "Requested",
        "held" => "Waiting for deposit",
        "confirmed" => "Confirmed",
        "completed" => "Completed",
        "no_show" => "No-show",
        "cancelled" => "Cancelled",
        _ => "Unknown",
    }
}

/// A deposit state in words.
pub fn deposit(s: &str) -> &'static str {
    match s {
        "none" => "No deposit",
        "pending" => "Deposit due",
        "paid" => "Deposit paid",
        "refunded" => "Deposit refunded",
        _ => "Unknown",
    }
}

/// Who did it, as a sentence's subject.
pub fn actor(a: &str) -> String {
    match a {
        "client" => "The client".into(),
        "owner" => "The owner".into(),
        "partner" => "The partner".into(),
        "stripe" => "Stripe".into(),
        "system" => "Salon itself".into(),
        other => {
            if let Some(email) = other.strip_prefix("owner:") {
                format!("The owner ({email})")
            } else if let Some(name) = other.strip_prefix("token:") {
                format!("The integration \u{201c}{name}\u{201d}")
            } else if let Some(name) = other.strip_prefix("calendar:") {
                format!("The calendar \u{201c}{name}\u{201d}")
            } else {
                other.to_string()
            }
        }
    }
}

/// Through which path, after "through".
pub fn source(s: &str) -> &'static str {
    match s {
        "spa" => "the booking site",
        "panel" => "the owner's panel",
        "api" => "the API",
        "webhook" => "a webhook",
        "intake" => "the intake",
        "cli" => "the command line",
        "job" => "a background job",
        "import" => "a client list import",
        _ => "an unknown path",
    }
}

/// An audit sentence made for people: ids of stylists and services become their names, other
/// ids are shortened to their first eight characters, and instants and dates are written in the
/// salon's time zone. The stored sentence (and the CSV) keep the full ids.
pub fn humanize(
    sentence: &str,
    names: &std::collections::HashMap<String, String>,
    tz: Tz,
) -> String {
    sentence
        .split(' ')
        .map(|word| {
            let core = word.trim_end_matches(['.', ',', ';', ':', ')']);
            let rest = &word[core.len()..];
            let (open, core) = match core.strip_prefix('(') {
                Some(c) => ("(", c),
                None => ("", core),
            };
            let shown = if let Some(name) = names.get(core) {
                name.clone()
            } else if uuid::Uuid::parse_str(core).is_ok() && core.len() == 36 {
                core[..8].to_string()
            } else if let Ok(t) = DateTime::parse_from_rfc3339(core) {
                t.with_timezone(&tz)
                    .format("%a %-d %b %Y, %H:%M")
                    .to_string()
            } else if let Ok(d) = NaiveDate::parse_from_str(core, "%Y-%m-%d") {
                d.format("%a %-d %b %Y").to_string()
            } else {
                return word.to_string();
            };
            format!("{open}{shown}{rest}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What an audit entry is about, in words: `Booking cdd8601e`, `Amara Diallo's day, Sat 5 Dec
/// 2026`, `Service Retwist`.
pub fn subject(
    aggregate_type: &str,
    id: &str,
    names: &std::collections::HashMap<String, String>,
) -> String {
    if aggregate_type == "StylistDay" {
        if let Some((stylist, day)) = id.split_once(':') {
            let who = names
                .get(stylist)
                .map(String::as_str)
                .unwrap_or("A stylist");
            let day = NaiveDate::parse_from_str(day, "%Y-%m-%d")
                .map(|d| d.format("%a %-d %b %Y").to_string())
                .unwrap_or_else(|_| day.to_string());
            return format!("{who}\u{2019}s day, {day}");
        }
    }
    let shown = match names.get(id) {
        Some(name) => name.clone(),
        None if id.len() == 36 => id[..8].to_string(),
        None => id.to_string(),
    };
    format!("{aggregate_type} {shown}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_like_money() {
        assert_eq!(money(8500, "USD"), "$85.00");
        assert_eq!(money(5, "EUR"), "€0.05");
        assert_eq!(money(123456, "CHF"), "1234.56 CHF");
        assert_eq!(decimal(-250), "-2.50");
    }

    #[test]
    fn sentences_read_like_sentences() {
        let tz: Tz = "America/New_York".parse().expect("tz");
        let names = std::collections::HashMap::from([(
            "c44e923e-60e5-58b4-a805-a80b72143357".to_string(),
            "Amara Diallo".to_string(),
        )]);
        assert_eq!(
            humanize(
                "Booking cdd8601e-ced1-54c4-8636-3c46db279ca0 requested by Ada for 2026-12-05T20:30:00Z.",
                &names,
                tz
            ),
            "Booking cdd8601e requested by Ada for Sat 5 Dec 2026, 15:30."
        );
        assert_eq!(
            humanize(
                "Weekly hours of stylist c44e923e-60e5-58b4-a805-a80b72143357 changed",
                &names,
                tz
            ),
            "Weekly hours of stylist Amara Diallo changed"
        );
        assert_eq!(
            subject(
                "StylistDay",
                "c44e923e-60e5-58b4-a805-a80b72143357:2026-12-05",
                &names
            ),
            "Amara Diallo\u{2019}s day, Sat 5 Dec 2026"
        );
    }

    #[test]
    fn midnight_is_local() {
        let tz: Tz = "America/New_York".parse().expect("tz");
        let day = NaiveDate::from_ymd_opt(2026, 7, 1).expect("date");
        assert_eq!(midnight(day, tz).to_rfc3339(), "2026-07-01T04:00:00+00:00");
    }
}
