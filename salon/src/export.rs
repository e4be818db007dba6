//! `salon events export`: the log as NDJSON or CSV on standard output, streamed page by page so
//! a large log does not sit in memory. One line per event: position, aggregate_type,
//! aggregate_id, sequence, event_type, event_version, payload, metadata (ARCHITECTURE §6).

use projections::log::{export_page, StoredEvent};
use projections::ReadDb;
use serde_json::json;
use std::io::Write;

const PAGE: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Ndjson,
    Csv,
}

fn line(e: &StoredEvent) -> serde_json::Value {
    json!({
        "position": e.at.position,
        "aggregate_type": e.aggregate_type,
        "aggregate_id": e.aggregate_id,
        "sequence": e.sequence,
        "event_type": e.event_type,
        "event_version": e.event_version,
        "payload": e.payload,
        "metadata": e.metadata,
    })
}

/// Writes every event after `since` to `out`. Returns how many were written.
pub async fn export(
    db: &ReadDb,
    format: Format,
    since: i64,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let mut csv = match format {
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record([
                "position",
                "aggregate_type",
                "aggregate_id",
                "sequence",
                "event_type",
                "event_version",
                "payload",
                "metadata",
            ])?;
            Sink::Csv(Box::new(w))
        }
        Format::Ndjson => Sink::Ndjson(out),
    };
    let mut after = since;
    let mut written = 0;
    loop {
        let page = export_page(db, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.at.position;
        for e in &page {
            csv.write(e)?;
            written += 1;
        }
    }
    csv.flush()?;
    Ok(written)
}

enum Sink<'a> {
    Ndjson(&'a mut dyn Write),
    Csv(Box<csv::Writer<&'a mut dyn Write>>),
}

impl Sink<'_> {
    fn write(&mut self, e: &StoredEvent) -> anyhow::Result<()> {
        match self {
            Sink::Ndjson(out) => {
                serde_json::to_writer(&mut **out, &line(e))?;
                out.write_all(b"\n")?;
            }
            Sink::Csv(w) => w.write_record([
                e.at.position.to_string(),
                e.aggregate_type.clone(),
                e.aggregate_id.clone(),
                e.sequence.to_string(),
                e.event_type.clone(),
                e.event_version.clone(),
                e.payload.to_string(),
                e.metadata.to_string(),
            ])?,
        }
        Ok(())
    }
    fn flush(&mut self) -> anyhow::Result<()> {
        match self {
            Sink::Ndjson(out) => out.flush()?,
            Sink::Csv(w) => w.flush()?,
        }
        Ok(())
    }
}
