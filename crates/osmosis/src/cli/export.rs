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

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use osmosis_engine::config_as_code::export::ROOT;
use osmosis_engine::config_as_code::{ExportOptions, WorkspaceFiles};
use osmosis_engine::{Engine, EngineConfig};

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
    let stores = args.database.open_existing().await?;
    let workspace = stores
        .workspaces
        .workspace_by_key(&args.workspace)
        .await
        .context("reading the workspace")?
        .with_context(|| {
            format!(
                "no workspace `{}` in {} (see `osmosis workspace list`)",
                args.workspace,
                args.database.describe()
            )
        })?;
    let engine = Engine::new(
        stores,
        EngineConfig {
            public_url: String::new(),
        },
    );
    let options = ExportOptions {
        include_secrets: args.include_secrets,
    };
    let files = engine
        .export_workspace(&workspace.id, options)
        .await
        .map_err(|e| anyhow::anyhow!("exporting: {}", e.message))?;
    if args
        .out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
    {
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

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`.
fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = parent_of(path);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes).context("writing the export")?;
    tmp.persist(path)
        .with_context(|| format!("moving the export to {}", path.display()))?;
    Ok(())
}

/// Writes the tree into a temporary folder beside `<dir>/membrane`, then swaps
/// it in for the old tree.
fn write_tree(dir: &Path, files: &WorkspaceFiles) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".membrane-export-")
        .tempdir_in(dir)
        .with_context(|| format!("writing in {}", dir.display()))?;
    for (path, bytes) in &files.files {
        let target = staging.path().join(path);
        std::fs::create_dir_all(parent_of(&target))
            .with_context(|| format!("creating the folder of {path}"))?;
        std::fs::write(&target, bytes).with_context(|| format!("writing {path}"))?;
    }
    let tree = dir.join(ROOT);
    let new_tree = staging.path().join(ROOT);
    if files.files.is_empty() {
        std::fs::create_dir_all(&new_tree).context("creating an empty tree")?;
    }
    // The old tree is moved into the staging folder (removed with it) rather
    // than deleted first, so a failure in between leaves one of the two whole.
    if tree.exists() {
        std::fs::rename(&tree, staging.path().join(".previous"))
            .with_context(|| format!("moving the old {} aside", tree.display()))?;
    }
    std::fs::rename(&new_tree, &tree).with_context(|| format!("writing {}", tree.display()))?;
    Ok(())
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}
