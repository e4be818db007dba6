//! `salon events export` and `salon events tail`: the log as NDJSON or CSV on standard output.
//! Export streams page by page (keyset paging on the position, so a large log never sits in
//! memory and each page costs what the first does); tail follows new events as they are
//! written. One line per event: position, aggregate_type, aggregate_id, sequence, event_type,
//! event_version, payload, metadata (ARCHITECTURE §6).

use migrations::LogPosition;
use projections::log::{export_filtered, locate, read_after, LogFilter, StoredEvent};
use projections::ReadDb;
use serde_json::json;
use std::future::Future;
use std::io::Write;
use std::time::Duration;

const PAGE: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Ndjson,
    Csv,
}

/// The CSV header, the exported fields in order.
pub const COLUMNS: [&str; 8] = [
    "position",
    "aggregate_type",
    "aggregate_id",
    "sequence",
    "event_type",
    "event_version",
    "payload",
    "metadata",
];

/// One event as exported (ARCHITECTURE §6).
pub fn line(e: &StoredEvent) -> serde_json::Value {
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

/// Writes every event after `since` that passes `filter` to `out`. Returns how many were
/// written.
pub async fn export(
    db: &ReadDb,
    format: Format,
    since: i64,
    filter: &LogFilter,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let mut sink = Sink::new(format, out)?;
    let mut after = since;
    let mut written = 0;
    loop {
        let page = export_filtered(db, filter, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.at.position;
        for e in &page {
            sink.write(e)?;
            written += 1;
        }
    }
    sink.flush()?;
    Ok(written)
}

/// How often `tail` looks for new events when the last look found none.
pub const TAIL_POLL: Duration = Duration::from_millis(100);

/// Follows the log: writes every event that passes `filter` as NDJSON, one line each, flushed
/// as it comes, starting after position `since` (`None`: at the head, so only events written
/// from now on), until `stop` resolves. Returns how many were written. Events are read in log
/// order (on PostgreSQL `(txid, position)`, below the oldest running transaction), so one that
/// commits late is still written, never skipped.
pub async fn tail(
    db: &ReadDb,
    since: Option<i64>,
    filter: &LogFilter,
    poll: Duration,
    out: &mut dyn Write,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<u64> {
    let mut at: LogPosition = match since {
        None => projections::log::head(db).await?,
        Some(p) => locate(db, p)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no event has position {p}"))?,
    };
    tokio::pin!(stop);
    let mut written = 0;
    loop {
        let page = tokio::select! {
            page = read_after(db, at, PAGE) => page?,
            _ = &mut stop => break,
        };
        let full = page.len() as i64 == PAGE;
        if let Some(last) = page.last() {
            at = last.at;
        }
        let mut any = false;
        for e in page.iter().filter(|e| filter.matches(e)) {
            serde_json::to_writer(&mut *out, &line(e))?;
            out.write_all(b"\n")?;
            written += 1;
            any = true;
        }
        if any {
            out.flush()?;
        }
        if full {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = &mut stop => break,
        }
    }
    out.flush()?;
    Ok(written)
}

enum Sink<'a> {
    Ndjson(&'a mut dyn Write),
    Csv(Box<csv::Writer<&'a mut dyn Write>>),
}

impl<'a> Sink<'a> {
    fn new(format: Format, out: &'a mut dyn Write) -> anyhow::Result<Self> {
        Ok(match format {
            Format::Csv => {
                let mut w = csv::Writer::from_writer(out);
                w.write_record(COLUMNS)?;
                Sink::Csv(Box::new(w))
            }
            Format::Ndjson => Sink::Ndjson(out),
        })
    }

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
