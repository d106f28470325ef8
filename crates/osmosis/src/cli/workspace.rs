//! `osmosis workspace list | rotate-secret | delete`: the workspaces of a
//! database, managed while servers run on it. A running server sees a rotated
//! secret or an archived workspace within `osmosis_api::auth::WORKSPACE_RECHECK`
//! (5 seconds).

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context;
use clap::Args;
use osmosis_engine::{Engine, EngineConfig};

use crate::DatabaseArgs;

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(Args)]
pub struct RotateSecretArgs {
    /// The workspace's key.
    #[arg(long)]
    key: String,
    /// Secret to use instead of a generated one.
    #[arg(long)]
    secret: Option<String>,
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(Args)]
pub struct DeleteArgs {
    /// The workspace's key.
    #[arg(long)]
    key: String,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    database: DatabaseArgs,
}

async fn engine(database: &DatabaseArgs) -> anyhow::Result<Engine> {
    let stores = database.open_existing().await?;
    Ok(Engine::new(
        stores,
        EngineConfig {
            public_url: String::new(),
        },
    ))
}

fn unknown(key: &str, database: &DatabaseArgs) -> anyhow::Error {
    anyhow::anyhow!(
        "no workspace `{key}` in {} (see `osmosis workspace list`)",
        database.describe()
    )
}

/// One line per live workspace, oldest first: `{"key","name","createdAt"}`.
pub async fn list(args: ListArgs) -> anyhow::Result<()> {
    let engine = engine(&args.database).await?;
    let mut out = std::io::stdout().lock();
    for ws in engine.list_workspaces().await? {
        let line = serde_json::json!({
            "key": ws.key,
            "name": ws.name,
            "createdAt": ws.created_at,
        });
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Prints `{"key","secret"}` with the new secret.
pub async fn rotate_secret(args: RotateSecretArgs) -> anyhow::Result<()> {
    let engine = engine(&args.database).await?;
    if engine.workspace_by_key(&args.key).await?.is_none() {
        return Err(unknown(&args.key, &args.database));
    }
    let ws = engine
        .rotate_workspace_secret(&args.key, args.secret)
        .await?;
    println!(
        "{}",
        serde_json::json!({ "key": ws.key, "secret": ws.secret })
    );
    Ok(())
}

/// Archives the workspace after confirmation; prints `{"archived": key}`.
pub async fn delete(args: DeleteArgs) -> anyhow::Result<()> {
    let engine = engine(&args.database).await?;
    if engine.workspace_by_key(&args.key).await?.is_none() {
        return Err(unknown(&args.key, &args.database));
    }
    if !args.yes {
        confirm(&args.key)?;
    }
    engine.archive_workspace(&args.key).await?;
    println!("{}", serde_json::json!({ "archived": args.key }));
    Ok(())
}

/// Asks for the key on a terminal; refuses when there is none to ask on.
fn confirm(key: &str) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        anyhow::bail!(
            "not deleting workspace `{key}`: stdin is not a terminal to confirm on; \
             pass --yes to delete without confirmation"
        );
    }
    eprint!("Type the workspace key to confirm: ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .context("reading the confirmation")?;
    if answer.trim() != key {
        anyhow::bail!("not confirmed: workspace `{key}` is left as it is");
    }
    Ok(())
}
