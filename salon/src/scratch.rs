//! Throwaway databases for tests and benchmarks: a fresh PostgreSQL database per use (dropped
//! afterwards) or a SQLite file in a temporary directory; and a real SMTP sink for mail tests.

use sqlx::Connection;

/// Where PostgreSQL is, without a database name (`SALON_TEST_PG`, default the local server).
pub fn postgres_base() -> String {
    std::env::var("SALON_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// Creates an empty database named `<prefix>_<random>` and returns its URL.
pub async fn create_postgres(prefix: &str) -> anyhow::Result<String> {
    let base = postgres_base();
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&format!("{base}/postgres")).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    Ok(format!("{base}/{name}"))
}

/// Drops a database made by [`create_postgres`], disconnecting anyone still on it.
pub async fn drop_postgres(url: &str) -> anyhow::Result<()> {
    let base = postgres_base();
    let Some(name) = url
        .rsplit('/')
        .next()
        .filter(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    else {
        anyhow::bail!("not a scratch database url");
    };
    let mut admin = sqlx::PgConnection::connect(&format!("{base}/postgres")).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    Ok(())
}

/// A SQLite URL for a new file in `dir`.
pub fn sqlite_in(dir: &std::path::Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(name).display())
}

/// A real SMTP server (aiosmtpd, run by `python` from the test virtualenv) that files every
/// message into a maildir. Killed and reaped on drop.
pub struct SmtpSink {
    pub port: u16,
    child: std::process::Child,
    maildir: std::path::PathBuf,
}

impl SmtpSink {
    pub async fn start(python: &std::path::Path, port: u16, maildir: &std::path::Path) -> Self {
        let child = std::process::Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        // Owned (so killed and reaped on drop) before anything can panic.
        let sink = Self {
            port,
            child,
            maildir: maildir.to_path_buf(),
        };
        // Ready when an SMTP greeting comes from the port: something else listening there
        // (another test's server) would make every send wait for its timeout.
        for _ in 0..200 {
            if let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                let mut greeting = [0u8; 3];
                let read = tokio::time::timeout(
                    std::time::Duration::from_secs(2),
                    tokio::io::AsyncReadExt::read_exact(&mut stream, &mut greeting),
                )
                .await;
                if matches!(read, Ok(Ok(_))) && &greeting == b"220" {
                    return sink;
                }
                panic!("port {port} answers, but not as aiosmtpd");
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("aiosmtpd did not listen on {port}");
    }

    /// Every message received so far, raw.
    pub fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(dir) = std::fs::read_dir(self.maildir.join(sub)) {
                for f in dir.flatten() {
                    out.push(std::fs::read_to_string(f.path()).unwrap_or_default());
                }
            }
        }
        out
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
