// `sqlx::migrate!` embeds the migration files when this crate compiles; without this a new
// file in either folder would not rebuild it, and the binary would run without that migration.
fn main() {
    println!("cargo:rerun-if-changed=sqlite");
    println!("cargo:rerun-if-changed=postgres");
}
