//! `sqlx::migrate!` embeds the migrations when the crate compiles, and cargo
//! does not know it reads them: without this, a new migration file would not
//! make cargo rebuild the crate, and a binary built incrementally would run
//! without it (as sqlx's `migrate build-script` says).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
