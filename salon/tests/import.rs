//! `salon import clients FILE.csv` as an owner runs it, on SQLite: the preview writes nothing,
//! a bad row fails with its line, `--commit` writes one event per client with source `import`
//! and actor `cli`, a second run adds nothing, `--map` and `--country` are honoured.

use salon::scratch;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_salon");

fn run(url: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", url)
        .env("SALON_LOG", "warn")
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run salon")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn client_events(url: &str) -> Vec<serde_json::Value> {
    let db = projections::ReadDb::connect(url).await.expect("read db");
    let events = projections::log::export_page(&db, 0, 1_000_000)
        .await
        .expect("log");
    db.close().await;
    events
        .into_iter()
        .filter(|e| e.aggregate_type == "Client")
        .map(|e| e.metadata)
        .collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path.to_string_lossy().into_owned()
}

#[tokio::test]
async fn cli_import_previews_refuses_bad_rows_commits_and_adds_nothing_twice() {
    let dir = std::env::temp_dir().join(format!("salon-import-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = scratch::sqlite_in(&dir, "salon.db");
    assert!(run(&url, &["migrate"]).status.success());

    // A bad e-mail: exit 1, its line and reason, nothing written.
    let bad = write(
        &dir,
        "bad.csv",
        b"Name,Email\nAda Lovelace,ada@example.com\nBob,bob.example.com\n",
    );
    let out = run(&url, &["import", "clients", &bad, "--commit"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("line 3: the e-mail \"bob.example.com\" must contain @"),
        "{}",
        text(&out)
    );
    assert!(client_events(&url).await.is_empty());

    // Vagaro-style in Windows-1252 with a duplicate; a national UK number with --country GB.
    let mut vagaro =
        b"First Name,Last Name,E-mail address,Cell Phone,Notes,Email Promotions\r\n".to_vec();
    vagaro.extend(b"Ren\xe9e,Dupr\xe9,renee@example.com,07700 900123,,Yes\r\n");
    vagaro.extend(b"Ren\xe9e,D.,RENEE@example.com,,Fringe every 3 weeks,\r\n");
    vagaro.extend(b"Ada,Lovelace,ada@example.com,,,No\r\n");
    let file = write(&dir, "vagaro.csv", &vagaro);
    let out = run(
        &url,
        &[
            "import",
            "clients",
            &file,
            "--country",
            "GB",
            "--map",
            "email=E-mail address",
        ],
    );
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("Windows-1252"), "{said}");
    assert!(
        said.contains("Renée Dupré <renee@example.com> +447700900123"),
        "{said}"
    );
    assert!(
        said.contains("merged into line 2 (same e-mail): adds notes"),
        "{said}"
    );
    assert!(
        said.contains("--commit"),
        "the preview says how to import: {said}"
    );
    assert!(
        client_events(&url).await.is_empty(),
        "a preview writes nothing"
    );

    let out = run(
        &url,
        &[
            "import",
            "clients",
            &file,
            "--country",
            "GB",
            "--map",
            "email=E-mail address",
            "--commit",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("Imported: 2 new client(s)"),
        "{}",
        text(&out)
    );
    let events = client_events(&url).await;
    assert_eq!(events.len(), 2, "one event per client");
    for m in &events {
        assert_eq!(m["source"], "import");
        assert_eq!(m["actor"], "cli");
        assert_eq!(m["reason"], "client list import: vagaro.csv");
    }

    // Again: nothing more.
    let out = run(
        &url,
        &[
            "import",
            "clients",
            &file,
            "--country",
            "GB",
            "--map",
            "email=E-mail address",
            "--commit",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("Imported: 0 new client(s), 0 existing"),
        "{}",
        text(&out)
    );
    assert_eq!(client_events(&url).await.len(), 2);

    // A mapping to a column the file lacks, and an unknown country, are said in words.
    let out = run(&url, &["import", "clients", &file, "--map", "email=Mail"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("no column \"Mail\""), "{}", text(&out));
    let out = run(&url, &["import", "clients", &file, "--country", "XX"]);
    assert!(text(&out).contains("not a country"), "{}", text(&out));
    let _ = std::fs::remove_dir_all(dir);
}
