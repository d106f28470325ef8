//! `osmosis export --out DIR|FILE`: a workspace's elements as files in Membrane's
//! layout (`osmosis_engine::config_as_code::export`), read straight from the
//! database `serve` uses — no server needs to run.
//!
//! `--out` ending in `.zip` writes the zip the API's `GET /export` serves;
//! anything else is a folder the `membrane/` tree is written into. That tree is
//! replaced whole, so an element gone from the workspace is gone from the files
//! (what a `git diff` afterwards should show); nothing else in the folder is
//! touched. Either is written beside its destination first and moved into place,
//! so an export that fails leaves the previous one as it was.

use std::path::PathBuf;

use clap::Args;
use osmosis_engine::config_as_code::ExportOptions;

use super::tree::{is_zip, write_file, write_tree};
use crate::DatabaseArgs;

#[derive(Args)]
pub struct ExportArgs {
    /// The workspace's key.
    #[arg(long, value_name = "KEY", env = "OSMOSIS_WORKSPACE_KEY")]
    workspace: String,
    /// Where to write: a `.zip` file, or a folder to write the `membrane/` tree into.
    #[arg(long, value_name = "DIR|FILE")]
    out: PathBuf,
    /// Also export integrations' secret parameters (their OAuth client secrets).
    #[arg(long)]
    include_secrets: bool,
    #[command(flatten)]
    database: DatabaseArgs,
}

/// Exports, then prints `{"files": n, "out": "…"}`.
pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let (engine, workspace_id) = args.database.workspace_engine(&args.workspace).await?;
    let options = ExportOptions {
        include_secrets: args.include_secrets,
    };
    let files = engine
        .export_workspace(&workspace_id, options)
        .await
        .map_err(|e| anyhow::anyhow!("exporting: {}", e.message))?;
    if is_zip(&args.out) {
        let zip = files.to_zip().map_err(|e| anyhow::anyhow!(e.message))?;
        write_file(&args.out, &zip)?;
    } else {
        write_tree(&args.out, &files)?;
    }
    println!(
        "{}",
        serde_json::json!({"files": files.files.len(), "out": args.out.display().to_string()})
    );
    Ok(())
}
