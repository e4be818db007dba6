//! `salon projections`: where every projection and reactor has read the log to, beside the head
//! of the log, as an aligned table or as JSON; and `salon replay --verify`'s report.

use projections::log::Progress;
use projections::replay::TableDiff;
use serde_json::json;

/// The table (or, with `json`, one JSON object) for `head` and `rows`.
pub fn render(head: i64, rows: &[Progress], json: bool) -> anyhow::Result<String> {
    if json {
        let value = json!({
            "head": head,
            "projections": rows.iter().map(|r| json!({
                "name": r.name,
                "kind": r.kind,
                "checkpoint": r.checkpoint,
                "head": head,
                "lag": r.lag,
                "updated_at": r.updated_at,
            })).collect::<Vec<_>>(),
        });
        return Ok(format!("{}\n", serde_json::to_string_pretty(&value)?));
    }
    let header = ["NAME", "KIND", "CHECKPOINT", "HEAD", "LAG", "UPDATED"];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.kind.to_string(),
                r.checkpoint.to_string(),
                head.to_string(),
                r.lag.to_string(),
                r.updated_at.clone().unwrap_or_else(|| "never".into()),
            ]
        })
        .collect();
    Ok(table(
        &header,
        &cells,
        &[false, false, true, true, true, false],
    ))
}

/// `salon replay --verify`: per table, the live and rebuilt row counts and the rows only one
/// side has, with up to three of each; or one JSON object.
pub fn render_verify(at: i64, diffs: &[TableDiff], json: bool) -> anyhow::Result<String> {
    let same = diffs.iter().all(TableDiff::same);
    if json {
        let value = json!({ "position": at, "same": same, "tables": diffs });
        return Ok(format!("{}\n", serde_json::to_string_pretty(&value)?));
    }
    let header = [
        "TABLE",
        "LIVE",
        "REBUILT",
        "ONLY LIVE",
        "ONLY REBUILT",
        "VERDICT",
    ];
    let cells: Vec<Vec<String>> = diffs
        .iter()
        .map(|d| {
            vec![
                d.table.clone(),
                d.live_rows.to_string(),
                d.rebuilt_rows.to_string(),
                d.only_live.to_string(),
                d.only_rebuilt.to_string(),
                if d.same() { "same" } else { "DIFFERENT" }.to_string(),
            ]
        })
        .collect();
    let mut out = format!("compared at log position {at}\n");
    out.push_str(&table(
        &header,
        &cells,
        &[false, true, true, true, true, false],
    ));
    for d in diffs.iter().filter(|d| !d.same()) {
        for (side, rows) in [
            ("live only", &d.live_samples),
            ("rebuilt only", &d.rebuilt_samples),
        ] {
            for row in rows {
                out.push_str(&format!("{} {side}: {}\n", d.table, row.join(" | ")));
            }
        }
    }
    out.push_str(if same {
        "the read models equal a rebuild from the log\n"
    } else {
        "the read models DIFFER from a rebuild from the log\n"
    });
    Ok(out)
}

/// An aligned text table: words to the left, numbers (`numeric`) to the right.
fn table(header: &[&str], cells: &[Vec<String>], numeric: &[bool]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut push = |row: &[String]| {
        let parts: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if numeric[i] {
                    format!("{c:>w$}", w = widths[i])
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    push(&header.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    for row in cells {
        push(row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_aligned_and_numbers_sit_right() {
        let rows = vec![
            Progress {
                name: "catalog".into(),
                kind: "projection",
                checkpoint: 120,
                lag: 0,
                updated_at: Some("2027-03-01T10:00:00+00:00".into()),
            },
            Progress {
                name: "availability".into(),
                kind: "projection",
                checkpoint: 7,
                lag: 113,
                updated_at: None,
            },
        ];
        let text = render(120, &rows, false).unwrap();
        let expected = [
            "NAME          KIND        CHECKPOINT  HEAD  LAG  UPDATED",
            "catalog       projection         120   120    0  2027-03-01T10:00:00+00:00",
            "availability  projection           7   120  113  never",
        ];
        assert_eq!(text.lines().collect::<Vec<_>>(), expected);
        let v: serde_json::Value =
            serde_json::from_str(&render(120, &rows, true).unwrap()).unwrap();
        assert_eq!(v["head"], 120);
        assert_eq!(v["projections"][1]["lag"], 113);
    }
}
