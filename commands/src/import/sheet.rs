//! Reading a client list file: its encoding, its delimiter, which column is which, and each
//! row's values checked. Nothing here touches the store.

use super::phone::{self, Country};
use domain::values::{bounded_text, Email, Phone};
use std::fmt;

/// Files larger than this are refused (a salon's list of thousands of clients is well under).
pub const MAX_BYTES: usize = 10 * 1024 * 1024;

/// What a column can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Name,
    FirstName,
    LastName,
    Email,
    Phone,
    Notes,
    Marketing,
}

impl Field {
    pub const ALL: [Field; 7] = [
        Field::Name,
        Field::FirstName,
        Field::LastName,
        Field::Email,
        Field::Phone,
        Field::Notes,
        Field::Marketing,
    ];

    /// Its name in `--map FIELD=COLUMN` and in the panel's form.
    pub fn key(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::Email => "email",
            Field::Phone => "phone",
            Field::Notes => "notes",
            Field::Marketing => "marketing",
        }
    }

    /// Its name for people.
    pub fn label(self) -> &'static str {
        match self {
            Field::Name => "Name",
            Field::FirstName => "First name",
            Field::LastName => "Last name",
            Field::Email => "E-mail",
            Field::Phone => "Phone",
            Field::Notes => "Notes",
            Field::Marketing => "Marketing consent",
        }
    }

    pub fn parse(key: &str) -> Option<Field> {
        let k = squash(key);
        Field::ALL
            .into_iter()
            .find(|f| squash(f.key()) == k)
            .or(match k.as_str() {
                "fullname" => Some(Field::Name),
                "first" | "firstname" => Some(Field::FirstName),
                "last" | "lastname" | "surname" => Some(Field::LastName),
                "mobile" | "phonenumber" => Some(Field::Phone),
                "note" | "memo" => Some(Field::Notes),
                "consent" | "marketingconsent" => Some(Field::Marketing),
                _ => None,
            })
    }

    /// The headers (squashed) that mean this field in the exports of Square Appointments,
    /// Vagaro, Fresha, Booksy, GlossGenius and plain spreadsheets, best first.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::Name => &[
                "name",
                "fullname",
                "clientname",
                "customername",
                "contactname",
                "displayname",
                "client",
                "customer",
            ],
            Field::FirstName => &[
                "firstname",
                "first",
                "givenname",
                "forename",
                "clientfirstname",
                "customerfirstname",
                // Spanish, French, German, Portuguese exports.
                "nombre",
                "prenom",
                "vorname",
                "nome",
            ],
            Field::LastName => &[
                "lastname",
                "last",
                "surname",
                "familyname",
                "clientlastname",
                "customerlastname",
                "apellidos",
                "apellido",
                "nom",
                "nachname",
                "sobrenome",
            ],
            Field::Email => &[
                "email",
                "emailaddress",
                "mail",
                "clientemail",
                "customeremail",
                "primaryemail",
                "emailid",
                "correo",
                "correoelectronico",
                "courriel",
                "adressemail",
                "adresseemail",
            ],
            // A mobile first: it is the number a salon texts reminders to.
            Field::Phone => &[
                "mobilenumber",
                "mobilephone",
                "mobile",
                "mobilephonenumber",
                "cellphone",
                "cell",
                "cellnumber",
                "cellphonenumber",
                "phone",
                "phonenumber",
                "clientphone",
                "customerphone",
                "primaryphone",
                "telephone",
                "tel",
                "contactnumber",
                "homephone",
                "workphone",
                "businessphone",
                "movil",
                "telefonomovil",
                "telefono",
                "portable",
                "handy",
                "telefon",
                "celular",
            ],
            Field::Notes => &[
                "notes",
                "note",
                "memo",
                "clientnotes",
                "customernotes",
                "clientnote",
                "comments",
                "comment",
                "remarks",
                "additionalnotes",
                "notas",
                "remarques",
                "notizen",
            ],
            Field::Marketing => &[
                "emailsubscriptionstatus",
                "acceptsmarketing",
                "acceptsemailmarketing",
                "marketingconsent",
                "emailmarketingconsent",
                "emailmarketing",
                "emailpromotions",
                "marketingemails",
                "acceptsmarketingemails",
                "emailoptin",
                "marketingoptin",
                "optin",
                "emailconsent",
                "newsletter",
                "subscribed",
                "marketing",
            ],
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A header or value with case, accents, spaces and punctuation gone: "E-mail Address" →
/// "emailaddress", "Teléfono" → "telefono".
pub fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            c => c,
        })
        .collect()
}

/// Why a file cannot be read at all (as opposed to a bad row).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is larger than 10 MB; split it into smaller files and import each")]
    TooLarge,
    #[error("this is not a CSV file: {0}")]
    NotCsv(String),
    /// A needed column is missing, or a mapping names a column the file does not have.
    #[error("{0}")]
    Columns(String),
}

/// How to read the file.
#[derive(Debug, Clone)]
pub struct Options {
    /// National phone numbers are this country's.
    pub country: &'static Country,
    /// Columns chosen by hand: a field and the header of its column ("" = do not import it).
    pub overrides: Vec<(Field, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            country: phone::default_country(),
            overrides: Vec::new(),
        }
    }
}

/// One row of the file, its values checked (the name is checked when a client is made of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The line of the file the row starts on (the header is line 1).
    pub line: u64,
    pub name: String,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub notes: String,
    pub marketing: Option<bool>,
}

/// A row that cannot be imported as it is, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    pub reason: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// A file read: how, which columns mean what, and its rows.
#[derive(Debug, Clone)]
pub struct Sheet {
    /// "UTF-8", "UTF-16" or "Windows-1252".
    pub encoding: &'static str,
    pub delimiter: char,
    pub headers: Vec<String>,
    /// Each field and the headers of its columns (several for phones: the first filled wins).
    pub mapping: Vec<(Field, Vec<String>)>,
    /// Columns nothing is imported from.
    pub ignored: Vec<String>,
    pub rows: Vec<Row>,
    pub errors: Vec<LineError>,
    pub country: &'static str,
}

/// The text of the file and its encoding: UTF-8 (with or without BOM), UTF-16 with a BOM, else
/// Windows-1252 (what Excel on Windows saves as "CSV").
pub fn decode(bytes: &[u8]) -> Result<(String, &'static str), FileError> {
    if bytes.len() > MAX_BYTES {
        return Err(FileError::TooLarge);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(FileError::Empty);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Err(FileError::NotCsv(
            "it is a spreadsheet (.xlsx or .numbers); save or export it as CSV first".into(),
        ));
    }
    if bytes.starts_with(b"%PDF") {
        return Err(FileError::NotCsv(
            "it is a PDF; export the client list as CSV instead".into(),
        ));
    }
    let (text, encoding) = if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        let text = std::str::from_utf8(rest).map_err(|_| {
            FileError::NotCsv("it says it is UTF-8 but is not; save it again as CSV UTF-8".into())
        })?;
        (text.to_string(), "UTF-8")
    } else if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        let enc = if bytes[0] == 0xFF {
            encoding_rs::UTF_16LE
        } else {
            encoding_rs::UTF_16BE
        };
        let (text, had_errors) = enc.decode_without_bom_handling(&bytes[2..]);
        if had_errors {
            return Err(FileError::NotCsv(
                "it says it is UTF-16 but is not; save it again as CSV".into(),
            ));
        }
        (text.into_owned(), "UTF-16")
    } else if let Ok(text) = std::str::from_utf8(bytes) {
        (text.to_string(), "UTF-8")
    } else {
        let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
        (text.into_owned(), "Windows-1252")
    };
    if text.contains('\0') {
        return Err(FileError::NotCsv(
            "it holds binary data (an image, a spreadsheet or UTF-16 without its mark); export the client list as CSV".into(),
        ));
    }
    if text.trim().is_empty() {
        return Err(FileError::Empty);
    }
    Ok((text, encoding))
}

/// The delimiter of the header line: comma, semicolon (European Excel) or tab, whichever it
/// has most of outside quotes; comma when it has none.
pub fn sniff_delimiter(text: &str) -> u8 {
    let header = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for c in header.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => counts[0] += 1,
            ';' if !quoted => counts[1] += 1,
            '\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let delimiters = [b',', b';', b'\t'];
    let best = (0..3)
        .max_by_key(|&i| (counts[i], usize::from(i == 0)))
        .unwrap_or(0);
    if counts[best] == 0 {
        b','
    } else {
        delimiters[best]
    }
}

/// Which columns hold which field: by the products' headers, then the overrides.
fn map_columns(
    headers: &[String],
    overrides: &[(Field, String)],
) -> Result<Vec<(Field, Vec<usize>)>, FileError> {
    let squashed: Vec<String> = headers.iter().map(|h| squash(h)).collect();
    let mut mapping: Vec<(Field, Vec<usize>)> = Vec::new();
    let mut taken = vec![false; headers.len()];
    for (field, header) in overrides {
        let wanted = squash(header);
        let columns = if wanted.is_empty() {
            Vec::new()
        } else {
            let Some(i) = headers
                .iter()
                .position(|h| h.trim() == header.trim())
                .or_else(|| squashed.iter().position(|h| *h == wanted))
            else {
                return Err(FileError::Columns(format!(
                    "there is no column {header:?} for {} in the file; its columns are {}",
                    field.label().to_lowercase(),
                    list(headers)
                )));
            };
            taken[i] = true;
            vec![i]
        };
        mapping.retain(|(f, _)| f != field);
        mapping.push((*field, columns));
    }
    for field in Field::ALL {
        if mapping.iter().any(|(f, _)| *f == field) {
            continue;
        }
        let mut columns = Vec::new();
        for alias in field.aliases() {
            for (i, h) in squashed.iter().enumerate() {
                if !taken[i] && h == alias {
                    taken[i] = true;
                    columns.push(i);
                }
            }
        }
        // Only phones and consent read several columns; the rest take the best one.
        if !matches!(field, Field::Phone | Field::Marketing) {
            for &i in columns.iter().skip(1) {
                taken[i] = false;
            }
            columns.truncate(1);
        }
        mapping.push((field, columns));
    }
    mapping.retain(|(_, c)| !c.is_empty());
    mapping.sort_by_key(|(f, _)| *f);
    let has = |f: Field| mapping.iter().any(|(g, _)| *g == f);
    if !has(Field::Email) {
        return Err(FileError::Columns(format!(
            "no e-mail column was found (salon knows each client by their e-mail); the file's columns are {}. \
             Name the column with a mapping (e.g. email=\"E-mail address\")",
            list(headers)
        )));
    }
    if !has(Field::Name) && !has(Field::FirstName) && !has(Field::LastName) {
        return Err(FileError::Columns(format!(
            "no name column was found (Name, or First Name and Last Name); the file's columns are {}",
            list(headers)
        )));
    }
    Ok(mapping)
}

fn list(headers: &[String]) -> String {
    let shown: Vec<String> = headers
        .iter()
        .filter(|h| !h.trim().is_empty())
        .take(30)
        .map(|h| format!("{:?}", h.trim()))
        .collect();
    if shown.is_empty() {
        "none (the first line is empty)".into()
    } else {
        shown.join(", ")
    }
}

/// An empty cell, or one that says so ("-", "N/A", "none"): nothing to read.
fn placeholder(raw: &str) -> bool {
    matches!(squash(raw).as_str(), "" | "na" | "none" | "null" | "nil")
}

/// A marketing-consent cell: yes, no, or not known.
pub fn consent(raw: &str) -> Option<bool> {
    match squash(raw).as_str() {
        "yes" | "y" | "true" | "1" | "subscribed" | "optedin" | "optin" | "accepted"
        | "accepts" | "agreed" | "granted" | "x" | "on" => Some(true),
        "no" | "n" | "false" | "0" | "unsubscribed" | "notsubscribed" | "optedout" | "optout"
        | "declined" | "denied" | "revoked" | "off" => Some(false),
        _ => None,
    }
}

/// Reads a client list. A file that cannot be read at all is an error; bad rows are listed in
/// the sheet's `errors` with their line numbers.
pub fn read(bytes: &[u8], options: &Options) -> Result<Sheet, FileError> {
    let (text, encoding) = decode(bytes)?;
    // One kind of line ending, so that lines are counted right: Windows' CRLF and old Macs' CR
    // become LF, inside quoted notes too.
    let text = if text.contains('\n') {
        text.replace("\r\n", "\n")
    } else {
        text.replace('\r', "\n")
    };
    let delimiter = sniff_delimiter(&text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let headers: Vec<String> = match records.next() {
        Some(Ok(r)) => r
            .iter()
            .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
            .collect(),
        Some(Err(e)) => return Err(FileError::NotCsv(e.to_string())),
        None => return Err(FileError::Empty),
    };
    let mapping = map_columns(&headers, &options.overrides)?;
    let columns = |f: Field| -> &[usize] {
        mapping
            .iter()
            .find(|(g, _)| *g == f)
            .map_or(&[], |(_, c)| c.as_slice())
    };
    // Lines by byte offset: the reader's own count leaves out empty lines.
    let breaks: Vec<usize> = text
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b == b'\n')
        .map(|(i, _)| i)
        .collect();
    // A record's start may be reported at the empty lines before it: skip those.
    let line_at = |byte: u64| {
        let mut at = byte as usize;
        while text.as_bytes().get(at) == Some(&b'\n') {
            at += 1;
        }
        breaks.partition_point(|&i| i < at) as u64 + 1
    };
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| line_at(p.byte()));
                return Err(FileError::NotCsv(format!(
                    "line {line} cannot be read: {e}"
                )));
            }
        };
        let line = record.position().map_or(0, |p| line_at(p.byte()));
        if record.iter().all(|v| v.trim().is_empty()) {
            continue;
        }
        let first = |f: Field| -> String {
            columns(f)
                .iter()
                .filter_map(|&i| record.get(i))
                .map(str::trim)
                .find(|v| !v.is_empty())
                .unwrap_or("")
                .to_string()
        };
        let mut reasons = Vec::new();
        let mut name = first(Field::Name);
        if name.is_empty() {
            name = [first(Field::FirstName), first(Field::LastName)]
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
        }
        let raw_email = first(Field::Email);
        let email = if placeholder(&raw_email) {
            None
        } else {
            match Email::parse(&raw_email) {
                Ok(e) => Some(e),
                Err(e) => {
                    reasons.push(format!("the e-mail {raw_email:?} {}", e.message));
                    None
                }
            }
        };
        // Spreadsheets keep leading zeros with a quote ('0770…) or a formula (="0770…").
        let raw_phone = first(Field::Phone);
        let raw_phone = raw_phone
            .trim_start_matches('\'')
            .trim_start_matches("=\"")
            .trim_end_matches('"')
            .to_string();
        let phone = if placeholder(&raw_phone) {
            None
        } else {
            match phone::normalise(&raw_phone, options.country) {
                Ok(p) => Some(p),
                Err(why) => {
                    reasons.push(format!("the phone {raw_phone:?} {why}"));
                    None
                }
            }
        };
        let notes = match bounded_text("notes", &first(Field::Notes), 0, 2000) {
            Ok(n) => n,
            Err(e) => {
                reasons.push(format!("the notes {}", e.message));
                String::new()
            }
        };
        let marketing = consent(&first(Field::Marketing));
        if reasons.is_empty() {
            rows.push(Row {
                line,
                name,
                email,
                phone,
                notes,
                marketing,
            });
        } else {
            errors.push(LineError {
                line,
                reason: reasons.join("; "),
            });
        }
    }
    let used: Vec<usize> = mapping
        .iter()
        .flat_map(|(_, c)| c.iter().copied())
        .collect();
    let ignored = headers
        .iter()
        .enumerate()
        .filter(|(i, h)| !used.contains(i) && !h.trim().is_empty())
        .map(|(_, h)| h.clone())
        .collect();
    let mapping = mapping
        .into_iter()
        .map(|(f, c)| (f, c.into_iter().map(|i| headers[i].clone()).collect()))
        .collect();
    Ok(Sheet {
        encoding,
        delimiter: char::from(delimiter),
        headers,
        mapping,
        ignored,
        rows,
        errors,
        country: options.country.code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(text: &str) -> Sheet {
        read(text.as_bytes(), &Options::default()).unwrap()
    }

    fn mapped(s: &Sheet, f: Field) -> Vec<&str> {
        s.mapping
            .iter()
            .find(|(g, _)| *g == f)
            .map(|(_, c)| c.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    #[test]
    fn square_headers_are_recognised() {
        let s = sheet(
            "Reference ID,First Name,Last Name,Email Address,Phone Number,Memo,Email Subscription Status,Creation Source\n\
             X1,Ada,Lovelace,ada@example.com,(212) 555-0142,Prefers mornings,Subscribed,Appointments\n",
        );
        assert_eq!(mapped(&s, Field::FirstName), ["First Name"]);
        assert_eq!(mapped(&s, Field::Email), ["Email Address"]);
        assert_eq!(mapped(&s, Field::Phone), ["Phone Number"]);
        assert_eq!(mapped(&s, Field::Notes), ["Memo"]);
        assert_eq!(mapped(&s, Field::Marketing), ["Email Subscription Status"]);
        assert_eq!(s.ignored, ["Reference ID", "Creation Source"]);
        let row = &s.rows[0];
        assert_eq!(row.line, 2);
        assert_eq!(row.name, "Ada Lovelace");
        assert_eq!(row.phone.as_ref().unwrap().as_str(), "+12125550142");
        assert_eq!(row.notes, "Prefers mornings");
        assert_eq!(row.marketing, Some(true));
    }

    #[test]
    fn vagaro_headers_prefer_the_cell_phone_and_fall_back_to_home() {
        let s = sheet(
            "First Name,Last Name,Email,Home Phone,Cell Phone,Notes,Email Promotions\n\
             Ada,Lovelace,ada@example.com,212-555-0100,212-555-0142,,No\n\
             Grace,Hopper,grace@example.com,212-555-0199,,,\n",
        );
        assert_eq!(mapped(&s, Field::Phone), ["Cell Phone", "Home Phone"]);
        assert_eq!(s.rows[0].phone.as_ref().unwrap().as_str(), "+12125550142");
        assert_eq!(s.rows[0].marketing, Some(false));
        assert_eq!(s.rows[1].phone.as_ref().unwrap().as_str(), "+12125550199");
        assert_eq!(s.rows[1].marketing, None);
    }

    #[test]
    fn fresha_booksy_and_glossgenius_headers_are_recognised() {
        let fresha = sheet("First Name,Last Name,Email,Mobile Number,Accepts marketing\nA,B,a@b.co,2125550142,yes\n");
        assert_eq!(mapped(&fresha, Field::Phone), ["Mobile Number"]);
        assert_eq!(fresha.rows[0].marketing, Some(true));
        let booksy = sheet("Full Name,Email,Phone\nAda Lovelace,a@b.co,2125550142\n");
        assert_eq!(mapped(&booksy, Field::Name), ["Full Name"]);
        assert_eq!(booksy.rows[0].name, "Ada Lovelace");
        let gloss = sheet("NAME,E-MAIL,PHONE,Marketing Consent\nAda,a@b.co,,false\n");
        assert_eq!(mapped(&gloss, Field::Email), ["E-MAIL"]);
        assert_eq!(gloss.rows[0].marketing, Some(false));
    }

    #[test]
    fn a_mapping_by_hand_wins_over_the_guess() {
        let options = Options {
            overrides: vec![
                (Field::Email, "Work mail".into()),
                (Field::Notes, String::new()),
            ],
            ..Options::default()
        };
        let s = read(
            b"Name,Email,Work mail,Notes\nAda,home@example.com,work@example.com,secret\n",
            &options,
        )
        .unwrap();
        assert_eq!(
            s.rows[0].email.as_ref().unwrap().as_str(),
            "work@example.com"
        );
        assert_eq!(s.rows[0].notes, "");
        assert_eq!(s.ignored, ["Email", "Notes"]);
        let wrong = Options {
            overrides: vec![(Field::Email, "Nope".into())],
            ..Options::default()
        };
        let err = read(b"Name,Email\nAda,a@b.co\n", &wrong).unwrap_err();
        assert!(err.to_string().contains("\"Nope\""), "{err}");
    }

    #[test]
    fn semicolons_and_tabs_are_sniffed() {
        assert_eq!(sniff_delimiter("Name;Email;Notes\n"), b';');
        assert_eq!(sniff_delimiter("Name\tEmail\n"), b'\t');
        assert_eq!(sniff_delimiter("\"Last; First\",Email\n"), b',');
        let s = sheet("Nombre;Email;Teléfono\nRenée;renee@example.com;\n");
        assert_eq!(s.delimiter, ';');
        assert_eq!(
            s.rows[0].email.as_ref().unwrap().as_str(),
            "renee@example.com"
        );
    }

    #[test]
    fn windows_1252_is_read_when_the_bytes_are_not_utf8() {
        let s = read(
            b"Name,Email\nRen\xe9e Dupr\xe9,renee@example.com\n",
            &Options::default(),
        )
        .unwrap();
        assert_eq!(s.encoding, "Windows-1252");
        assert_eq!(s.rows[0].name, "Renée Dupré");
    }

    #[test]
    fn utf8_with_a_bom_and_utf16_are_read() {
        let s = read(
            "\u{feff}Name,Email\nRenée,r@example.com\n".as_bytes(),
            &Options::default(),
        )
        .unwrap();
        assert_eq!((s.encoding, s.headers[0].as_str()), ("UTF-8", "Name"));
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in "Name\tEmail\r\nRenée\tr@example.com\r\n".encode_utf16() {
            utf16.extend(unit.to_le_bytes());
        }
        let s = read(&utf16, &Options::default()).unwrap();
        assert_eq!((s.encoding, s.delimiter), ("UTF-16", '\t'));
        assert_eq!(s.rows[0].name, "Renée");
    }

    #[test]
    fn bad_rows_are_reported_with_their_line_and_reason() {
        let s = sheet(
            "Name,Email,Phone,Notes\nAda,ada@example.com,,\"two\nlines\"\nBob,bob@,,\nCy,cy@example.com,555-01,\n",
        );
        assert_eq!(s.rows.len(), 1);
        assert_eq!(s.errors.len(), 2);
        assert_eq!(s.errors[0].line, 4, "the quoted notes span lines 2 and 3");
        assert!(
            s.errors[0].reason.contains("e-mail \"bob@\""),
            "{}",
            s.errors[0]
        );
        assert_eq!(s.errors[1].line, 5);
        assert!(s.errors[1].reason.contains("phone"), "{}", s.errors[1]);
    }

    #[test]
    fn placeholders_and_spreadsheet_quoting_are_read_as_people_mean_them() {
        let o = Options {
            country: phone::country("GB").unwrap(),
            ..Options::default()
        };
        let s = read(
            "Name,Email,Phone\nAda,N/A,'07700 900123\nBob,bob@example.com,\"=\"\"07700 900124\"\"\"\nCy,cy@example.com,-\n".as_bytes(),
            &o,
        )
        .unwrap();
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        assert_eq!(s.rows[0].email, None);
        assert_eq!(s.rows[0].phone.as_ref().unwrap().as_str(), "+447700900123");
        assert_eq!(s.rows[1].phone.as_ref().unwrap().as_str(), "+447700900124");
        assert_eq!(s.rows[2].phone, None);
    }

    #[test]
    fn line_numbers_hold_with_windows_line_endings() {
        let s = sheet("Name,Email\r\nAda,ada@example.com\r\n\r\nBob,bob@\r\n");
        assert_eq!(s.rows[0].line, 2);
        assert_eq!(s.errors[0].line, 4);
    }

    #[test]
    fn unreadable_files_say_why() {
        let o = Options::default();
        assert_eq!(read(b"", &o).unwrap_err(), FileError::Empty);
        assert_eq!(read(b" \n\r\n", &o).unwrap_err(), FileError::Empty);
        assert!(matches!(
            read(b"PK\x03\x04xx", &o),
            Err(FileError::NotCsv(_))
        ));
        assert!(matches!(
            read(b"\x89PNG\r\n\x1a\n\0\0", &o),
            Err(FileError::NotCsv(_))
        ));
        let big = vec![b'a'; MAX_BYTES + 1];
        assert_eq!(read(&big, &o).unwrap_err(), FileError::TooLarge);
        let no_email = read(b"Name,Phone\nAda,2125550142\n", &o).unwrap_err();
        assert!(
            no_email.to_string().contains("no e-mail column"),
            "{no_email}"
        );
        let no_name = read(b"Email,Phone\na@b.co,2125550142\n", &o).unwrap_err();
        assert!(no_name.to_string().contains("no name column"), "{no_name}");
    }

    #[test]
    fn consent_words() {
        for yes in ["Yes", "TRUE", "Subscribed", "opted in", "1"] {
            assert_eq!(consent(yes), Some(true), "{yes}");
        }
        for no in ["no", "Unsubscribed", "Opted out", "0", "FALSE"] {
            assert_eq!(consent(no), Some(false), "{no}");
        }
        for unknown in ["", "Unknown", "pending", "maybe"] {
            assert_eq!(consent(unknown), None, "{unknown}");
        }
    }
}
