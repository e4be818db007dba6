//! `salon projections`: where every projection and reactor has read the log to, beside the head
//! of the log, as an aligned table or as JSON.

use projections::log::Progress;
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
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.kind.to_string(),
                r.checkpoint.to_string(),
                head.to_string(),
                r.lag.to_string(),
                r.updated_at.clone().unwrap_or_else(|| "never".into()),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    // Names and words to the left, numbers to the right.
    let numeric = [false, false, true, true, true, false];
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
    push(&header.map(String::from));
    for row in &cells {
        push(row);
    }
    Ok(out)
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
