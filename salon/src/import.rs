//! `salon import clients FILE.csv`: a client list from Square Appointments, Vagaro, Fresha,
//! Booksy, GlossGenius or a spreadsheet (see `commands::import`). Without `--commit` it only
//! prints the preview; with it, the whole import is written in one transaction, or nothing.
//! Exits with status 1 when the file has bad rows (listed with their lines) or cannot be read.

use crate::app;
use anyhow::{anyhow, bail, Context};
use clap::Subcommand;
use commands::import::{self, Field, Match, Options, Outcome, Plan};
use domain::metadata::{EventMetadata, Source};
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Import clients from a CSV export (Square, Vagaro, Fresha, Booksy, GlossGenius or any
    /// spreadsheet with name and e-mail columns). Prints a preview and writes nothing unless
    /// --commit is given. Rows are matched with the salon's clients by e-mail (and by phone for
    /// rows without one): a match only fills what the client lacks.
    Clients {
        /// The CSV file (UTF-8, UTF-16 or Windows-1252; comma, semicolon or tab separated)
        file: PathBuf,
        /// Write the import (all of it, or nothing when a row is bad)
        #[arg(long)]
        commit: bool,
        /// Country of phone numbers written without a country code (ISO code such as US, GB,
        /// ES); default: the salon's, from its time zone
        #[arg(long)]
        country: Option<String>,
        /// Take a field from a named column, e.g. --map email="E-mail address"; an empty
        /// column leaves the field out (--map notes=). Fields: name, first_name, last_name,
        /// email, phone, notes, marketing
        #[arg(long = "map", value_name = "FIELD=COLUMN")]
        map: Vec<String>,
        /// How many rows the preview shows
        #[arg(long, default_value_t = 10)]
        rows: usize,
        /// Why (recorded in the audit trail; default: the file's name)
        #[arg(long)]
        reason: Option<String>,
    },
}

/// `FIELD=COLUMN` pairs.
pub fn parse_mappings(map: &[String]) -> anyhow::Result<Vec<(Field, String)>> {
    map.iter()
        .map(|m| {
            let (field, column) = m.split_once('=').ok_or_else(|| {
                anyhow!("--map {m:?}: write FIELD=COLUMN, e.g. email=\"E-mail address\"")
            })?;
            let f = Field::parse(field).ok_or_else(|| {
                anyhow!(
                    "--map {m:?}: no field {field:?}; fields are {}",
                    Field::ALL.map(Field::key).join(", ")
                )
            })?;
            Ok((f, column.trim().trim_matches('"').to_string()))
        })
        .collect()
}

pub async fn run(url: &str, command: ImportCommand) -> anyhow::Result<()> {
    let ImportCommand::Clients {
        file,
        commit,
        country,
        map,
        rows,
        reason,
    } = command;
    let overrides = parse_mappings(&map)?;
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let store = app::open_store(url).await?;
    let read = projections::ReadDb::connect(url).await?;
    let result = async {
        let bus = commands::CommandBus::new(store.clone(), migrations::LogSignal::default());
        let country = match &country {
            Some(code) => import::country(code).ok_or_else(|| {
                anyhow!(
                    "--country {code:?}: not a country this import knows; known: {}",
                    import::phone::known_codes()
                )
            })?,
            None => import::salon_country(&bus).await,
        };
        let options = Options { country, overrides };
        let plan = import::preview(&bus, &read, &bytes, &options)
            .await
            .map_err(|e| anyhow!("{}: {}", file.display(), sentence(&e.to_string())))?;
        print!("{}", render(&plan, rows));
        if !plan.errors.is_empty() {
            bail!(
                "{} bad row(s): nothing was written. Fix them in the file and run again.",
                plan.errors.len()
            );
        }
        if !commit {
            println!("This was a preview: nothing was written. Run again with --commit to import.");
            return Ok(());
        }
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let meta = EventMetadata::new("cli", Source::Import)
            .with_request_id(uuid::Uuid::new_v4().to_string())
            .with_reason(reason.or(Some(format!("client list import: {name}"))));
        let committed = import::commit(&bus, &plan, &meta)
            .await
            .map_err(|e| anyhow!("{}", sentence(&e.to_string())))?;
        println!(
            "Imported: {} new client(s), {} existing client(s) completed ({} events). \
             The panel and the API show them once a server's projections have caught up.",
            plan.new_clients(),
            plan.updated_clients(),
            committed.events
        );
        Ok(())
    }
    .await;
    read.close().await;
    store.close().await;
    result
}

fn sentence(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => format!("{}{}", f.to_uppercase(), c.as_str()),
        None => String::new(),
    }
}

/// What happens to a row, in words.
pub fn outcome_text(o: &Outcome) -> String {
    let with = |m: &Match, by_phone: bool| {
        let how = if by_phone {
            "same phone"
        } else {
            "same e-mail"
        };
        match m {
            Match::Existing(name) => format!("your client {name} ({how})"),
            Match::Line(l) => format!("line {l} ({how})"),
        }
    };
    match o {
        Outcome::New => "new client".into(),
        Outcome::Merged {
            with: m,
            by_phone,
            fills,
        } => format!(
            "merged into {}: adds {}",
            with(m, *by_phone),
            fills
                .iter()
                .map(|f| f.label().to_lowercase())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Outcome::Unchanged { with: m, by_phone } => {
            format!("already there as {}: nothing to add", with(m, *by_phone))
        }
        Outcome::Skipped(why) => format!("skipped: {why}"),
    }
}

/// The preview as the CLI prints it.
pub fn render(plan: &Plan, first_rows: usize) -> String {
    let s = &plan.sheet;
    let mut out = String::new();
    let delimiter = match s.delimiter {
        ';' => "semicolon",
        '\t' => "tab",
        _ => "comma",
    };
    let _ = writeln!(
        out,
        "Read {} rows ({}, {delimiter}-separated); phone numbers without a country code are read as {}.",
        plan.rows.len() + plan.sheet.errors.len(),
        s.encoding,
        s.country
    );
    let _ = writeln!(out, "\nColumns:");
    for (field, columns) in &s.mapping {
        let cols = columns
            .iter()
            .map(|c| format!("{c:?}"))
            .collect::<Vec<_>>()
            .join(" or ");
        let _ = writeln!(out, "  {:<18} <- {cols}", field.label());
    }
    if !s.ignored.is_empty() {
        let ignored = s
            .ignored
            .iter()
            .map(|c| format!("{c:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(out, "  not imported: {ignored}");
    }
    let line = |r: &import::RowPlan| {
        let mut who = vec![if r.name.is_empty() {
            "(no name)".to_string()
        } else {
            r.name.clone()
        }];
        if !r.email.is_empty() {
            who.push(format!("<{}>", r.email));
        }
        if !r.phone.is_empty() {
            who.push(r.phone.clone());
        }
        match r.marketing {
            Some(true) => who.push("[marketing: yes]".into()),
            Some(false) => who.push("[marketing: no]".into()),
            None => {}
        }
        format!(
            "  line {:<5} {}: {}\n",
            r.line,
            who.join(" "),
            outcome_text(&r.outcome)
        )
    };
    let _ = writeln!(out, "\nFirst rows:");
    for r in plan.rows.iter().take(first_rows) {
        out.push_str(&line(r));
    }
    let merged: Vec<_> = plan
        .rows
        .iter()
        .skip(first_rows)
        .filter(|r| !matches!(r.outcome, Outcome::New))
        .collect();
    if !merged.is_empty() {
        let _ = writeln!(out, "\nFurther rows merged, already there or skipped:");
        for r in merged.iter().take(200) {
            out.push_str(&line(r));
        }
        if merged.len() > 200 {
            let _ = writeln!(out, "  … and {} more", merged.len() - 200);
        }
    }
    if !plan.errors.is_empty() {
        let _ = writeln!(
            out,
            "\nBad rows (nothing is imported until they are fixed):"
        );
        for e in &plan.errors {
            let _ = writeln!(out, "  {e}");
        }
    }
    let _ = writeln!(
        out,
        "\nSummary: {} new client(s), {} existing client(s) completed, {} row(s) already there, {} skipped, {} bad.",
        plan.new_clients(),
        plan.updated_clients(),
        plan.count(|o| matches!(o, Outcome::Unchanged { .. })),
        plan.count(|o| matches!(o, Outcome::Skipped(_))),
        plan.errors.len()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_are_field_equals_column() {
        let m = parse_mappings(&["email=\"E-mail address\"".into(), "notes=".into()]).unwrap();
        assert_eq!(
            m,
            vec![
                (Field::Email, "E-mail address".to_string()),
                (Field::Notes, String::new())
            ]
        );
        assert!(parse_mappings(&["email".into()]).is_err());
        assert!(parse_mappings(&["shoe_size=Size".into()])
            .unwrap_err()
            .to_string()
            .contains("fields are"));
    }
}
