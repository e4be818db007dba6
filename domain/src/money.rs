//! Currencies as ISO 4217 defines them, and amounts shown to people.
//!
//! Amounts travel as integers in the currency's minor unit (cents for USD, yen for JPY, fils
//! for BHD, which has three decimals); only the edges turn them into text. [`CURRENCIES`] lists
//! the active codes with their minor units, so a typo such as `EUD` is refused where it is
//! typed rather than in a payout nobody can add up.

/// (code, minor units, symbol, English name) for every active ISO 4217 currency a salon could
/// price in (funds and precious metals left out).
pub const CURRENCIES: &[(&str, u8, &str, &str)] = &[
    ("AED", 2, "AED", "UAE dirham"),
    ("AFN", 2, "؋", "Afghan afghani"),
    ("ALL", 2, "L", "Albanian lek"),
    ("AMD", 2, "֏", "Armenian dram"),
    ("ANG", 2, "ƒ", "Netherlands Antillean guilder"),
    ("AOA", 2, "Kz", "Angolan kwanza"),
    ("ARS", 2, "ARS", "Argentine peso"),
    ("AUD", 2, "A$", "Australian dollar"),
    ("AWG", 2, "ƒ", "Aruban florin"),
    ("AZN", 2, "₼", "Azerbaijani manat"),
    ("BAM", 2, "KM", "Bosnia and Herzegovina convertible mark"),
    ("BBD", 2, "Bds$", "Barbados dollar"),
    ("BDT", 2, "৳", "Bangladeshi taka"),
    ("BGN", 2, "лв", "Bulgarian lev"),
    ("BHD", 3, "BHD", "Bahraini dinar"),
    ("BIF", 0, "FBu", "Burundian franc"),
    ("BMD", 2, "BD$", "Bermudian dollar"),
    ("BND", 2, "B$", "Brunei dollar"),
    ("BOB", 2, "Bs", "Boliviano"),
    ("BRL", 2, "R$", "Brazilian real"),
    ("BSD", 2, "B$", "Bahamian dollar"),
    ("BTN", 2, "Nu.", "Bhutanese ngultrum"),
    ("BWP", 2, "P", "Botswana pula"),
    ("BYN", 2, "Br", "Belarusian ruble"),
    ("BZD", 2, "BZ$", "Belize dollar"),
    ("CAD", 2, "CA$", "Canadian dollar"),
    ("CDF", 2, "FC", "Congolese franc"),
    ("CHF", 2, "CHF", "Swiss franc"),
    ("CLP", 0, "CLP", "Chilean peso"),
    ("CNY", 2, "CN¥", "Renminbi"),
    ("COP", 2, "COL$", "Colombian peso"),
    ("CRC", 2, "₡", "Costa Rican colón"),
    ("CUP", 2, "CUP", "Cuban peso"),
    ("CVE", 2, "Esc", "Cape Verdean escudo"),
    ("CZK", 2, "Kč", "Czech koruna"),
    ("DJF", 0, "Fdj", "Djiboutian franc"),
    ("DKK", 2, "kr", "Danish krone"),
    ("DOP", 2, "RD$", "Dominican peso"),
    ("DZD", 2, "DA", "Algerian dinar"),
    ("EGP", 2, "E£", "Egyptian pound"),
    ("ERN", 2, "Nfk", "Eritrean nakfa"),
    ("ETB", 2, "Br", "Ethiopian birr"),
    ("EUR", 2, "€", "Euro"),
    ("FJD", 2, "FJ$", "Fiji dollar"),
    ("FKP", 2, "£", "Falkland Islands pound"),
    ("GBP", 2, "£", "Pound sterling"),
    ("GEL", 2, "₾", "Georgian lari"),
    ("GHS", 2, "GH₵", "Ghanaian cedi"),
    ("GIP", 2, "£", "Gibraltar pound"),
    ("GMD", 2, "D", "Gambian dalasi"),
    ("GNF", 0, "FG", "Guinean franc"),
    ("GTQ", 2, "Q", "Guatemalan quetzal"),
    ("GYD", 2, "G$", "Guyanese dollar"),
    ("HKD", 2, "HK$", "Hong Kong dollar"),
    ("HNL", 2, "L", "Honduran lempira"),
    ("HTG", 2, "G", "Haitian gourde"),
    ("HUF", 2, "Ft", "Hungarian forint"),
    ("IDR", 2, "Rp", "Indonesian rupiah"),
    ("ILS", 2, "₪", "Israeli new shekel"),
    ("INR", 2, "₹", "Indian rupee"),
    ("IQD", 3, "IQD", "Iraqi dinar"),
    ("IRR", 2, "IRR", "Iranian rial"),
    ("ISK", 0, "kr", "Icelandic króna"),
    ("JMD", 2, "J$", "Jamaican dollar"),
    ("JOD", 3, "JOD", "Jordanian dinar"),
    ("JPY", 0, "¥", "Japanese yen"),
    ("KES", 2, "KSh", "Kenyan shilling"),
    ("KGS", 2, "сом", "Kyrgyzstani som"),
    ("KHR", 2, "៛", "Cambodian riel"),
    ("KMF", 0, "CF", "Comoro franc"),
    ("KPW", 2, "₩", "North Korean won"),
    ("KRW", 0, "₩", "South Korean won"),
    ("KWD", 3, "KWD", "Kuwaiti dinar"),
    ("KYD", 2, "CI$", "Cayman Islands dollar"),
    ("KZT", 2, "₸", "Kazakhstani tenge"),
    ("LAK", 2, "₭", "Lao kip"),
    ("LBP", 2, "LBP", "Lebanese pound"),
    ("LKR", 2, "Rs", "Sri Lankan rupee"),
    ("LRD", 2, "L$", "Liberian dollar"),
    ("LSL", 2, "L", "Lesotho loti"),
    ("LYD", 3, "LD", "Libyan dinar"),
    ("MAD", 2, "MAD", "Moroccan dirham"),
    ("MDL", 2, "L", "Moldovan leu"),
    ("MGA", 2, "Ar", "Malagasy ariary"),
    ("MKD", 2, "ден", "Macedonian denar"),
    ("MMK", 2, "K", "Myanmar kyat"),
    ("MNT", 2, "₮", "Mongolian tögrög"),
    ("MOP", 2, "MOP$", "Macanese pataca"),
    ("MRU", 2, "UM", "Mauritanian ouguiya"),
    ("MUR", 2, "Rs", "Mauritian rupee"),
    ("MVR", 2, "Rf", "Maldivian rufiyaa"),
    ("MWK", 2, "MK", "Malawian kwacha"),
    ("MXN", 2, "MX$", "Mexican peso"),
    ("MYR", 2, "RM", "Malaysian ringgit"),
    ("MZN", 2, "MT", "Mozambican metical"),
    ("NAD", 2, "N$", "Namibian dollar"),
    ("NGN", 2, "₦", "Nigerian naira"),
    ("NIO", 2, "C$", "Nicaraguan córdoba"),
    ("NOK", 2, "kr", "Norwegian krone"),
    ("NPR", 2, "Rs", "Nepalese rupee"),
    ("NZD", 2, "NZ$", "New Zealand dollar"),
    ("OMR", 3, "OMR", "Omani rial"),
    ("PAB", 2, "B/.", "Panamanian balboa"),
    ("PEN", 2, "S/", "Peruvian sol"),
    ("PGK", 2, "K", "Papua New Guinean kina"),
    ("PHP", 2, "₱", "Philippine peso"),
    ("PKR", 2, "Rs", "Pakistani rupee"),
    ("PLN", 2, "zł", "Polish złoty"),
    ("PYG", 0, "₲", "Paraguayan guaraní"),
    ("QAR", 2, "QR", "Qatari riyal"),
    ("RON", 2, "lei", "Romanian leu"),
    ("RSD", 2, "din", "Serbian dinar"),
    ("RUB", 2, "₽", "Russian ruble"),
    ("RWF", 0, "FRw", "Rwandan franc"),
    ("SAR", 2, "SR", "Saudi riyal"),
    ("SBD", 2, "SI$", "Solomon Islands dollar"),
    ("SCR", 2, "SR", "Seychelles rupee"),
    ("SDG", 2, "SDG", "Sudanese pound"),
    ("SEK", 2, "kr", "Swedish krona"),
    ("SGD", 2, "S$", "Singapore dollar"),
    ("SHP", 2, "£", "Saint Helena pound"),
    ("SLE", 2, "Le", "Sierra Leonean leone"),
    ("SOS", 2, "Sh", "Somali shilling"),
    ("SRD", 2, "Sr$", "Surinamese dollar"),
    ("SSP", 2, "SSP", "South Sudanese pound"),
    ("STN", 2, "Db", "São Tomé and Príncipe dobra"),
    ("SVC", 2, "₡", "Salvadoran colón"),
    ("SYP", 2, "LS", "Syrian pound"),
    ("SZL", 2, "E", "Swazi lilangeni"),
    ("THB", 2, "฿", "Thai baht"),
    ("TJS", 2, "SM", "Tajikistani somoni"),
    ("TMT", 2, "m", "Turkmenistan manat"),
    ("TND", 3, "DT", "Tunisian dinar"),
    ("TOP", 2, "T$", "Tongan paʻanga"),
    ("TRY", 2, "₺", "Turkish lira"),
    ("TTD", 2, "TT$", "Trinidad and Tobago dollar"),
    ("TWD", 2, "NT$", "New Taiwan dollar"),
    ("TZS", 2, "TSh", "Tanzanian shilling"),
    ("UAH", 2, "₴", "Ukrainian hryvnia"),
    ("UGX", 0, "USh", "Ugandan shilling"),
    ("USD", 2, "$", "United States dollar"),
    ("UYU", 2, "$U", "Uruguayan peso"),
    ("UZS", 2, "soʻm", "Uzbekistani sum"),
    ("VES", 2, "Bs.", "Venezuelan bolívar"),
    ("VND", 0, "₫", "Vietnamese đồng"),
    ("VUV", 0, "VT", "Vanuatu vatu"),
    ("WST", 2, "WS$", "Samoan tālā"),
    ("XAF", 0, "FCFA", "Central African CFA franc"),
    ("XCD", 2, "EC$", "East Caribbean dollar"),
    ("XOF", 0, "CFA", "West African CFA franc"),
    ("XPF", 0, "CFPF", "CFP franc"),
    ("YER", 2, "YER", "Yemeni rial"),
    ("ZAR", 2, "R", "South African rand"),
    ("ZMW", 2, "ZK", "Zambian kwacha"),
    ("ZWG", 2, "ZiG", "Zimbabwe gold"),
];

fn entry(code: &str) -> Option<&'static (&'static str, u8, &'static str, &'static str)> {
    CURRENCIES.iter().find(|(c, ..)| *c == code)
}

/// Whether `code` (upper case) is an active ISO 4217 currency.
pub fn is_known(code: &str) -> bool {
    entry(code).is_some()
}

/// Decimals of the currency's minor unit: 2 for USD and EUR, 0 for JPY, 3 for BHD. Unknown
/// codes (only in events written before codes were checked) count as 2.
pub fn minor_units(code: &str) -> u8 {
    entry(code).map_or(2, |e| e.1)
}

/// The symbol people read before an amount (`$`, `€`, `¥`), or the code where the symbol
/// alone would be ambiguous.
pub fn symbol(code: &str) -> &str {
    entry(code).map_or(code, |e| e.2)
}

/// The currency's English name.
pub fn name(code: &str) -> &str {
    entry(code).map_or(code, |e| e.3)
}

/// An amount in minor units as a plain decimal number in the currency's units, without a
/// symbol or grouping: `9500` USD → `95.00`, `9500` JPY → `9500`, `1500` BHD → `1.500`. For
/// CSV files and forms, which other programs and people type back.
pub fn decimal(amount_minor: i64, code: &str) -> String {
    let units = u32::from(minor_units(code));
    let sign = if amount_minor < 0 { "-" } else { "" };
    let abs = amount_minor.unsigned_abs();
    if units == 0 {
        return format!("{sign}{abs}");
    }
    let scale = 10u64.pow(units);
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = units as usize
    )
}

/// An amount in minor units for people: the currency's symbol, thousands grouped, its own
/// decimals: `$95.00`, `€1,250.00`, `¥9,500`, `BHD 1.500`.
pub fn format(amount_minor: i64, code: &str) -> String {
    let plain = decimal(amount_minor.abs(), code);
    let (whole, fraction) = match plain.split_once('.') {
        Some((w, f)) => (w.to_string(), Some(f.to_string())),
        None => (plain, None),
    };
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let number = match fraction {
        Some(f) => format!("{grouped}.{f}"),
        None => grouped,
    };
    let sign = if amount_minor < 0 { "-" } else { "" };
    let symbol = symbol(code);
    // A symbol made of letters reads better apart from the number ("BHD 1.500", "kr 95.00").
    if symbol.chars().last().is_some_and(char::is_alphabetic) {
        format!("{sign}{symbol} {number}")
    } else {
        format!("{sign}{symbol}{number}")
    }
}

/// Parses an amount typed in the currency's units (`95`, `95.5`, `95.50`; `9500` for JPY) into
/// minor units. No more decimals than the currency has; a leading symbol or code and grouping
/// commas are ignored.
pub fn parse_amount(raw: &str, code: &str) -> Result<i64, String> {
    let units = u32::from(minor_units(code));
    let text: String = raw
        .trim()
        .trim_start_matches(code)
        .trim_start_matches(symbol(code))
        .trim()
        .chars()
        .filter(|c| *c != ',')
        .collect();
    let bad = || {
        if units == 0 {
            format!("{raw:?} is not an amount like 9500 ({code} has no decimals)")
        } else {
            format!(
                "{raw:?} is not an amount like 45.{} ({code} has {units} decimals)",
                "0".repeat(units as usize)
            )
        }
    };
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text.as_str(), ""),
    };
    if whole.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !fraction.chars().all(|c| c.is_ascii_digit())
        || fraction.len() > units as usize
        || whole.len() > 12
    {
        return Err(bad());
    }
    let scale = 10i64.pow(units);
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let fraction: i64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<width$}", width = units as usize)
            .parse()
            .map_err(|_| bad())?
    };
    Ok(whole * scale + fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_follow_iso_4217() {
        assert_eq!(minor_units("USD"), 2);
        assert_eq!(minor_units("EUR"), 2);
        assert_eq!(minor_units("JPY"), 0);
        assert_eq!(minor_units("BHD"), 3);
    }

    #[test]
    fn amounts_are_formatted_with_the_currencys_own_decimals() {
        assert_eq!(format(9500, "USD"), "$95.00");
        assert_eq!(format(125_000, "EUR"), "€1,250.00");
        assert_eq!(format(9500, "JPY"), "¥9,500");
        assert_eq!(format(1500, "BHD"), "BHD 1.500");
        assert_eq!(format(5, "USD"), "$0.05");
        assert_eq!(format(-2500, "USD"), "-$25.00");
        assert_eq!(format(0, "GBP"), "£0.00");
    }

    #[test]
    fn decimals_for_files_have_no_symbol_or_grouping() {
        assert_eq!(decimal(123_456, "USD"), "1234.56");
        assert_eq!(decimal(9500, "JPY"), "9500");
        assert_eq!(decimal(1, "BHD"), "0.001");
    }

    #[test]
    fn typed_amounts_become_minor_units_in_the_currencys_precision() {
        assert_eq!(parse_amount("95", "USD"), Ok(9500));
        assert_eq!(parse_amount("95.5", "USD"), Ok(9550));
        assert_eq!(parse_amount("$1,250.00", "USD"), Ok(125_000));
        assert_eq!(parse_amount("€95", "EUR"), Ok(9500));
        assert_eq!(parse_amount("9500", "JPY"), Ok(9500));
        assert_eq!(parse_amount("1.5", "BHD"), Ok(1500));
        assert!(parse_amount("95.50", "JPY").is_err());
        assert!(parse_amount("1.2345", "BHD").is_err());
        assert!(parse_amount("abc", "USD").is_err());
        assert!(parse_amount("", "USD").is_err());
        assert!(parse_amount("-5", "USD").is_err());
    }

    #[test]
    fn codes_outside_iso_4217_are_unknown() {
        assert!(is_known("USD"));
        assert!(!is_known("EUD"));
        assert!(!is_known("usd"));
    }

    #[test]
    fn the_list_has_each_code_once_in_order() {
        for pair in CURRENCIES.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} then {}", pair[0].0, pair[1].0);
        }
    }
}
