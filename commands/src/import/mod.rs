//! Importing a salon's client list from another booking product (issue 19): Square
//! Appointments, Vagaro, Fresha, Booksy, GlossGenius or a plain spreadsheet, as CSV.
//!
//! Three steps, the first two writing nothing:
//! 1. [`read`] the file ([`sheet`]): encoding, delimiter, which column is which, each row's
//!    values checked (bad rows are listed with their line numbers).
//! 2. [`plan`] it against the clients the salon already has ([`known_clients`]): rows are
//!    de-duplicated by e-mail (its identity, as salon knows clients) and by phone (E.164); a
//!    row matching an existing client fills what that client lacks and never overwrites what
//!    the owner has. The plan says, row by row, what would happen: the preview.
//! 3. [`commit`] the plan: one event per client that changes (`ClientRegistered` or
//!    `ClientUpdated`), all appended in one transaction or none, with source `import`. A plan
//!    with bad rows is refused whole. Importing the same file again changes nothing.
//!
//! Personal data read here never reaches a log line.

pub mod phone;
pub mod sheet;

use crate::bus::{CommandBus, Committed, Pending};
use cqrs_es::persist::PersistenceError;
use domain::client::{Client, ClientChanges, ClientCommand, ClientDetails};
use domain::ids::ClientId;
use domain::metadata::EventMetadata;
use domain::values::{Email, PersonName, Phone};
use futures::StreamExt;
use migrations::db::ReadDb;
use sha2::{Digest, Sha256};
use sqlx::Row as _;
use std::collections::{HashMap, HashSet};

pub use phone::{country, country_for_zone, Country};
pub use sheet::{read, Field, FileError, LineError, Options, Row, Sheet, MAX_BYTES};

/// A client the salon already has.
#[derive(Debug, Clone)]
pub struct Known {
    pub id: ClientId,
    /// `None` when the client was forgotten (their personal data erased).
    pub details: Option<ClientDetails>,
    /// Registered by hand (a `Client` aggregate) rather than only seen in bookings.
    pub registered: bool,
    /// The aggregate's version when read (0 for a client only seen in bookings).
    pub version: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{0} rows cannot be imported as they are; nothing was written. Fix them (each is listed with its line) and import again")]
    BadRows(usize),
    #[error(
        "the clients changed since the preview; nothing was written. Look at the preview again"
    )]
    Changed,
    #[error("event store: {0}")]
    Store(#[from] PersistenceError),
    #[error("read models: {0}")]
    Read(#[from] sqlx::Error),
}

impl ImportError {
    /// Whether the database was unreachable (try again) rather than anything about the file.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Read(e) => migrations::is_unavailable(e),
            Self::Store(PersistenceError::ConnectionError(_)) => true,
            _ => false,
        }
    }
}

/// Every client the salon has: registered ones from the event store (the truth, even before
/// the read models caught up), and those only seen in bookings from the clients read model.
pub async fn known_clients(bus: &CommandBus, read: &ReadDb) -> Result<Vec<Known>, ImportError> {
    let ids = bus
        .store()
        .aggregate_ids(<Client as cqrs_es::Aggregate>::TYPE)
        .await
        .map_err(crate::store::map_sqlx)?;
    let mut known: Vec<Known> = futures::stream::iter(ids)
        .map(|id| async move {
            let loaded = bus.load_fresh::<Client>(&id).await?;
            Ok::<_, PersistenceError>((id, loaded))
        })
        .buffer_unordered(8)
        .filter_map(|r| async move {
            match r {
                Ok((id, loaded)) => {
                    let id = ClientId::parse(&id).ok()?;
                    let c = loaded.state;
                    Some(Ok(Known {
                        id,
                        details: if c.forgotten { None } else { c.details },
                        registered: c.id.is_some() && !c.forgotten,
                        version: loaded.version,
                    }))
                }
                Err(e) => Some(Err(e)),
            }
        })
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let seen: HashSet<ClientId> = known.iter().map(|k| k.id).collect();
    let rows = sqlx::query(
        "SELECT id, name, email, phone, notes FROM rm_clients WHERE registered = 0 AND email <> ''",
    )
    .fetch_all(read.pool())
    .await?;
    for r in rows {
        let id: String = r.try_get("id")?;
        let Ok(id) = ClientId::parse(&id) else {
            continue;
        };
        if seen.contains(&id) {
            continue;
        }
        let phone: Option<String> = r.try_get("phone")?;
        let (Ok(name), Ok(email)) = (
            PersonName::parse(&r.try_get::<String, _>("name")?),
            Email::parse(&r.try_get::<String, _>("email")?),
        ) else {
            continue;
        };
        known.push(Known {
            id,
            details: Some(ClientDetails {
                name,
                email,
                phone: phone.as_deref().and_then(|p| Phone::parse(p).ok()),
                notes: r.try_get("notes")?,
                marketing_consent: None,
            }),
            registered: false,
            version: 0,
        });
    }
    known.sort_by_key(|k| k.id);
    Ok(known)
}

/// Whom a row was matched with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// A client the salon already has (their name as the salon has it).
    Existing(String),
    /// An earlier row of the same file.
    Line(u64),
}

/// What becomes of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new client.
    New,
    /// The same client as `with` (by e-mail, or by phone when `by_phone`): the row fills the
    /// fields listed, which the client had empty.
    Merged {
        with: Match,
        by_phone: bool,
        fills: Vec<Field>,
    },
    /// The same client as `with`, who has everything the row says (or more): nothing changes.
    Unchanged { with: Match, by_phone: bool },
    /// Not imported, and why (not an error: the import goes ahead without it).
    Skipped(String),
}

/// One row of the preview.
#[derive(Debug, Clone)]
pub struct RowPlan {
    pub line: u64,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub marketing: Option<bool>,
    pub outcome: Outcome,
}

/// One client the import writes.
#[derive(Debug, Clone)]
pub struct Write {
    pub id: ClientId,
    /// The client's details once imported.
    pub details: ClientDetails,
    pub command: ClientCommand,
    /// The client's version the plan was made on (0: no `Client` events yet).
    pub expected_version: usize,
    /// A new client (rather than one the salon had).
    pub new: bool,
}

/// What an import would do: the preview, and the writes it would make.
#[derive(Debug, Clone)]
pub struct Plan {
    pub sheet: Sheet,
    pub rows: Vec<RowPlan>,
    /// Bad rows: the sheet's, and rows that would make a client without a name.
    pub errors: Vec<LineError>,
    pub writes: Vec<Write>,
}

impl Plan {
    pub fn new_clients(&self) -> usize {
        self.writes.iter().filter(|w| w.new).count()
    }
    pub fn updated_clients(&self) -> usize {
        self.writes.iter().filter(|w| !w.new).count()
    }
    pub fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.rows.iter().filter(|r| f(&r.outcome)).count()
    }
    /// A digest of the writes: a confirmation made on one preview commits only that preview.
    /// Holds no personal data in readable form.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for w in &self.writes {
            h.update(w.id.to_string());
            h.update(w.expected_version.to_le_bytes());
            h.update(serde_json::to_vec(&w.details).unwrap_or_default());
        }
        hex::encode(h.finalize())
    }
}

/// A client being built from the salon's records and the file's rows.
struct Target {
    known: Option<Known>,
    /// The first row that made or matched it.
    first_line: u64,
    details: ClientDetails,
}

impl Target {
    fn name_for_preview(&self) -> Match {
        match &self.known {
            Some(_) => Match::Existing(self.details.name.as_str().to_string()),
            None => Match::Line(self.first_line),
        }
    }
}

/// Fills the empty fields of `details` from `row`; answers which.
fn fill(details: &mut ClientDetails, row: &Row) -> Vec<Field> {
    let mut filled = Vec::new();
    if details.phone.is_none() {
        if let Some(p) = &row.phone {
            details.phone = Some(p.clone());
            filled.push(Field::Phone);
        }
    }
    if details.notes.trim().is_empty() && !row.notes.is_empty() {
        details.notes = row.notes.clone();
        filled.push(Field::Notes);
    }
    if details.marketing_consent.is_none() && row.marketing.is_some() {
        details.marketing_consent = row.marketing;
        filled.push(Field::Marketing);
    }
    filled
}

/// Plans the import of `sheet` into a salon that has `known` clients. Pure: nothing is read
/// or written.
pub fn plan(sheet: Sheet, known: Vec<Known>) -> Plan {
    let mut targets: Vec<Target> = Vec::new();
    let mut by_email: HashMap<String, usize> = HashMap::new();
    let mut by_phone: HashMap<String, usize> = HashMap::new();
    let mut forgotten: HashSet<ClientId> = HashSet::new();
    for k in known {
        let Some(details) = k.details.clone() else {
            forgotten.insert(k.id);
            continue;
        };
        let i = targets.len();
        by_email.entry(details.email.identity()).or_insert(i);
        if let Some(p) = &details.phone {
            by_phone.entry(p.as_str().to_string()).or_insert(i);
        }
        targets.push(Target {
            known: Some(k),
            first_line: 0,
            details,
        });
    }
    let mut rows = Vec::new();
    let mut errors = sheet.errors.clone();
    for row in &sheet.rows {
        let email = row.email.as_ref().map(Email::identity);
        let phone = row.phone.as_ref().map(|p| p.as_str().to_string());
        let plan_row = |outcome| RowPlan {
            line: row.line,
            name: row.name.clone(),
            email: row
                .email
                .as_ref()
                .map(|e| e.to_string())
                .unwrap_or_default(),
            phone: phone.clone().unwrap_or_default(),
            marketing: row.marketing,
            outcome,
        };
        if let Some(e) = &row.email {
            if forgotten.contains(&ClientId::for_email(e)) {
                rows.push(plan_row(Outcome::Skipped(
                    "this client's personal data was erased at their request; they are not imported again".into(),
                )));
                continue;
            }
        }
        // The e-mail decides; a phone only matches a row without an e-mail (people sharing a
        // phone, as families do, are still different clients).
        let matched = match (&email, &phone) {
            (Some(e), _) => by_email.get(e).map(|&i| (i, false)),
            (None, Some(p)) => by_phone.get(p).map(|&i| (i, true)),
            (None, None) => None,
        };
        if let Some((i, by_phone_match)) = matched {
            let target = &mut targets[i];
            let with = target.name_for_preview();
            let fills = fill(&mut target.details, row);
            if let Some(p) = &target.details.phone {
                by_phone.entry(p.as_str().to_string()).or_insert(i);
            }
            let outcome = if fills.is_empty() {
                Outcome::Unchanged {
                    with,
                    by_phone: by_phone_match,
                }
            } else {
                Outcome::Merged {
                    with,
                    by_phone: by_phone_match,
                    fills,
                }
            };
            rows.push(plan_row(outcome));
            continue;
        }
        let Some(row_email) = &row.email else {
            rows.push(plan_row(Outcome::Skipped(if row.phone.is_some() {
                "no e-mail, and no client with this phone: salon knows each client by their e-mail"
                    .into()
            } else {
                "no e-mail or phone".into()
            })));
            continue;
        };
        let name = match PersonName::parse(&row.name) {
            Ok(n) => n,
            Err(e) => {
                errors.push(LineError {
                    line: row.line,
                    reason: format!("the name {}", e.message),
                });
                continue;
            }
        };
        let i = targets.len();
        by_email.insert(row_email.identity(), i);
        if let Some(p) = &phone {
            by_phone.entry(p.clone()).or_insert(i);
        }
        targets.push(Target {
            known: None,
            first_line: row.line,
            details: ClientDetails {
                name,
                email: row_email.clone(),
                phone: row.phone.clone(),
                notes: row.notes.clone(),
                marketing_consent: row.marketing,
            },
        });
        rows.push(plan_row(Outcome::New));
    }
    errors.sort_by_key(|e| e.line);
    let mut writes = Vec::new();
    for t in targets {
        match t.known {
            None => writes.push(Write {
                id: t.details.id(),
                command: ClientCommand::Register {
                    details: t.details.clone(),
                },
                details: t.details,
                expected_version: 0,
                new: true,
            }),
            Some(k) if k.details.as_ref() != Some(&t.details) => {
                let Some(before) = k.details.clone() else {
                    continue;
                };
                let command = if k.registered {
                    ClientCommand::Update {
                        changes: ClientChanges {
                            phone: (t.details.phone != before.phone)
                                .then(|| t.details.phone.clone()),
                            notes: (t.details.notes != before.notes)
                                .then(|| t.details.notes.clone()),
                            marketing_consent: (t.details.marketing_consent
                                != before.marketing_consent)
                                .then_some(t.details.marketing_consent),
                            ..ClientChanges::default()
                        },
                        learned: None,
                    }
                } else {
                    // Only seen in bookings so far: registered now, as the owner would by hand.
                    ClientCommand::Register {
                        details: t.details.clone(),
                    }
                };
                writes.push(Write {
                    id: k.id,
                    details: t.details,
                    command,
                    expected_version: k.version,
                    new: false,
                });
            }
            Some(_) => {}
        }
    }
    Plan {
        sheet,
        rows,
        errors,
        writes,
    }
}

/// Appends the plan's events, all in one transaction or none. Refused whole when the plan has
/// bad rows, or when a client changed since the plan was made ([`ImportError::Changed`]).
pub async fn commit(
    bus: &CommandBus,
    plan: &Plan,
    metadata: &EventMetadata,
) -> Result<Committed, ImportError> {
    if !plan.errors.is_empty() {
        return Err(ImportError::BadRows(plan.errors.len()));
    }
    let mut decisions = Vec::with_capacity(plan.writes.len());
    for w in &plan.writes {
        let id = w.id.to_string();
        let loaded = bus.load_fresh::<Client>(&id).await?;
        if loaded.version != w.expected_version {
            return Err(ImportError::Changed);
        }
        let decision = bus
            .decide(&loaded, &id, w.command.clone(), &())
            .await
            .map_err(|_| ImportError::Changed)?;
        decisions.push(decision);
    }
    let pending: Vec<&dyn Pending> = decisions.iter().map(|d| d as &dyn Pending).collect();
    match bus.commit(&pending, metadata).await {
        Ok(c) => Ok(c),
        Err(PersistenceError::OptimisticLockError) => Err(ImportError::Changed),
        Err(e) => Err(e.into()),
    }
}

/// Reads `bytes` and plans them against the salon's clients as they are now.
pub async fn preview(
    bus: &CommandBus,
    read: &ReadDb,
    bytes: &[u8],
    options: &Options,
) -> Result<Plan, ImportError> {
    let sheet = sheet::read(bytes, options)?;
    let known = known_clients(bus, read).await?;
    Ok(plan(sheet, known))
}

/// The salon's default country for phone numbers: the one its time zone is in.
pub async fn salon_country(bus: &CommandBus) -> &'static Country {
    match bus
        .load_fresh::<domain::salon::Salon>(domain::ids::SALON_ID)
        .await
    {
        Ok(s) => country_for_zone(s.state.time_zone.name()),
        Err(_) => phone::default_country(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(text: &str) -> Sheet {
        sheet::read(text.as_bytes(), &Options::default()).unwrap()
    }

    fn known(name: &str, email: &str, phone: Option<&str>, notes: &str) -> Known {
        let details = ClientDetails {
            name: PersonName::parse(name).unwrap(),
            email: Email::parse(email).unwrap(),
            phone: phone.map(|p| Phone::parse(p).unwrap()),
            notes: notes.into(),
            marketing_consent: None,
        };
        Known {
            id: details.id(),
            details: Some(details),
            registered: true,
            version: 1,
        }
    }

    #[test]
    fn duplicates_in_the_file_merge_into_the_first_row() {
        let p = plan(
            sheet(
                "Name,Email,Phone,Notes\n\
                 Ada,ada@example.com,,\n\
                 Ada L.,ADA@example.com,2125550142,Prefers mornings\n\
                 ,,(212) 555-0142,Allergic to lavender\n\
                 Grace,grace@example.com,,\n",
            ),
            vec![],
        );
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert_eq!(p.rows[0].outcome, Outcome::New);
        assert_eq!(
            p.rows[1].outcome,
            Outcome::Merged {
                with: Match::Line(2),
                by_phone: false,
                fills: vec![Field::Phone, Field::Notes]
            }
        );
        assert_eq!(
            p.rows[2].outcome,
            Outcome::Unchanged {
                with: Match::Line(2),
                by_phone: true
            }
        );
        assert_eq!(p.writes.len(), 2);
        let ada = &p.writes[0].details;
        assert_eq!(ada.name.as_str(), "Ada");
        assert_eq!(ada.phone.as_ref().unwrap().as_str(), "+12125550142");
        assert_eq!(ada.notes, "Prefers mornings");
    }

    #[test]
    fn an_existing_client_gets_only_what_they_lack() {
        let p = plan(
            sheet("Name,Email,Phone,Notes,Accepts marketing\nAda King,ada@example.com,2125550142,From Square,yes\n"),
            vec![known("Ada Lovelace", "ada@example.com", None, "Owner's note")],
        );
        assert_eq!(p.writes.len(), 1);
        let w = &p.writes[0];
        assert!(!w.new);
        assert_eq!(w.details.name.as_str(), "Ada Lovelace");
        assert_eq!(w.details.notes, "Owner's note");
        assert_eq!(w.details.phone.as_ref().unwrap().as_str(), "+12125550142");
        assert_eq!(w.details.marketing_consent, Some(true));
        let ClientCommand::Update { changes, .. } = &w.command else {
            panic!("an update expected: {:?}", w.command);
        };
        assert_eq!(changes.notes, None);
        assert_eq!(changes.name, None);
    }

    #[test]
    fn an_existing_client_found_by_phone_takes_a_row_without_email() {
        let p = plan(
            sheet("Name,Email,Phone,Notes\nAda,,212-555-0142,Likes tea\nNobody,,212-555-0199,\n"),
            vec![known(
                "Ada Lovelace",
                "ada@example.com",
                Some("2125550142"),
                "",
            )],
        );
        assert_eq!(
            p.rows[0].outcome,
            Outcome::Merged {
                with: Match::Existing("Ada Lovelace".into()),
                by_phone: true,
                fills: vec![Field::Notes]
            }
        );
        assert!(matches!(p.rows[1].outcome, Outcome::Skipped(_)));
        assert_eq!(p.writes.len(), 1);
    }

    #[test]
    fn the_same_file_against_what_it_made_changes_nothing() {
        let text = "Name,Email,Phone\nAda,ada@example.com,2125550142\n";
        let first = plan(sheet(text), vec![]);
        let made: Vec<Known> = first
            .writes
            .iter()
            .map(|w| Known {
                id: w.id,
                details: Some(w.details.clone()),
                registered: true,
                version: 1,
            })
            .collect();
        let again = plan(sheet(text), made);
        assert!(again.writes.is_empty());
        assert!(matches!(again.rows[0].outcome, Outcome::Unchanged { .. }));
    }

    #[test]
    fn a_row_that_would_make_a_nameless_client_is_a_bad_row() {
        let p = plan(sheet("Name,Email\n,ada@example.com\n"), vec![]);
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].line, 2);
        assert!(p.errors[0].reason.contains("name"));
    }

    #[test]
    fn a_forgotten_client_is_not_imported_again() {
        let email = Email::parse("ada@example.com").unwrap();
        let p = plan(
            sheet("Name,Email\nAda,ada@example.com\n"),
            vec![Known {
                id: ClientId::for_email(&email),
                details: None,
                registered: false,
                version: 3,
            }],
        );
        assert!(p.writes.is_empty());
        assert!(matches!(&p.rows[0].outcome, Outcome::Skipped(why) if why.contains("erased")));
    }
}
