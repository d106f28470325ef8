//! `osmosis import --workspace KEY DIR|FILE.zip`: files in Membrane's layout
//! made a workspace's elements (`osmosis_engine::config_as_code::import`),
//! written straight into the database `serve` uses — no server needs to run.
//!
//! A `.zip` is read as the zip `GET /export` serves; anything else is the
//! folder holding the `membrane/` tree `osmosis export --out DIR` wrote. The
//! import is all or nothing: refused, it lists every refused element and writes
//! nothing.
//!
//! A server on SQLite keeps what it read in its element cache (`--cache-mb`) and
//! does not hear of a write by another process: restart it, or import through
//! the API (`osmosis push`), to have it serve the imported elements at once. On
//! PostgreSQL its nodes hear of the writes as of any other node's.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use osmosis_engine::config_as_code::ImportOptions;
use serde_json::Value;

use super::tree::read_source;
use crate::DatabaseArgs;

#[derive(Args)]
pub struct ImportArgs {
    /// The workspace's key.
    #[arg(long, value_name = "KEY", env = "OSMOSIS_WORKSPACE_KEY")]
    workspace: String,
    /// What to import: a `.zip` file, or the folder holding the `membrane/` tree.
    #[arg(value_name = "DIR|FILE.zip")]
    source: PathBuf,
    #[command(flatten)]
    options: ImportFlags,
    #[command(flatten)]
    database: DatabaseArgs,
}

/// What an import may do; the same for `import` and `push`.
#[derive(Args, Clone, Copy)]
pub struct ImportFlags {
    /// Print what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// As `--dry-run`, with each changed field's value before and after.
    #[arg(long)]
    pub diff: bool,
    /// Leave the workspace's elements the files do not hold as they are, instead
    /// of archiving them.
    #[arg(long)]
    pub partial: bool,
    /// Archive elements customers still use (integrations with connections,
    /// elements with instances) rather than refuse to.
    #[arg(long)]
    pub force: bool,
}

impl From<ImportFlags> for ImportOptions {
    fn from(f: ImportFlags) -> Self {
        ImportOptions {
            dry_run: f.dry_run,
            diff: f.diff,
            partial: f.partial,
            force: f.force,
        }
    }
}

/// Imports, then prints the report (`{dryRun, changes, unchanged, ignored}`) as
/// JSON; a refusal is an error listing each refused element.
pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let files = read_source(&args.source)?;
    let (engine, workspace_id) = args.database.workspace_engine(&args.workspace).await?;
    match engine
        .import_workspace(&workspace_id, &files, args.options.into())
        .await
    {
        Ok(report) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).context("printing the report")?
            );
            Ok(())
        }
        Err(e) => {
            let error = serde_json::to_value(&e).unwrap_or(Value::Null);
            anyhow::bail!("{}", describe_error(&error))
        }
    }
}

/// An error answer (`ErrorData`) for people: its message and, for a refused
/// import, one line per refused element — its file (or type and key), the field
/// at fault, and why.
pub fn describe_error(error: &Value) -> String {
    let refused = error["data"]["refused"]
        .as_array()
        .filter(|r| !r.is_empty());
    let mut out = match refused {
        // The message lists the first few; the lines below list them all.
        Some(list) => format!(
            "the import was refused, nothing changed ({} refused):",
            list.len()
        ),
        None => error["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| error.to_string()),
    };
    for r in refused.into_iter().flatten() {
        let kind = r["type"].as_str().unwrap_or("element");
        let what = match (r["path"].as_str(), r["key"].as_str(), r["uuid"].as_str()) {
            (Some(path), _, _) => path.to_owned(),
            (None, Some(key), _) => format!("{kind} `{key}`"),
            (None, None, Some(uuid)) => format!("{kind} {uuid}"),
            (None, None, None) => kind.to_owned(),
        };
        let field = r["error"]["data"]["field"]
            .as_str()
            .map(|f| format!(" [{f}]"))
            .unwrap_or_default();
        let message = r["error"]["message"].as_str().unwrap_or("refused");
        // A file that does not parse says its path in its message too.
        let message = message
            .strip_prefix(&format!("{what}: "))
            .unwrap_or(message);
        out.push_str(&format!("\n  {what}{field}: {message}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refusals_are_listed_one_a_line() {
        let error = json!({
            "type": "bad_request", "key": "import_refused",
            "message": "The import was refused, nothing changed: …",
            "data": {"refused": [
                {"type": "action", "path": "membrane/actions/a/spec.yaml",
                 "error": {"message": "Invalid field `type`: …", "data": {"field": "type"}}},
                {"type": "integration", "key": "crm", "error": {"message": "in use"}},
                {"type": "action", "path": "membrane/actions/b/spec.yaml",
                 "error": {"message": "membrane/actions/b/spec.yaml: is not YAML"}},
            ]}
        });
        assert_eq!(
            describe_error(&error),
            "the import was refused, nothing changed (3 refused):\n  \
             membrane/actions/a/spec.yaml [type]: Invalid field `type`: …\n  \
             integration `crm`: in use\n  \
             membrane/actions/b/spec.yaml: is not YAML"
        );
        assert_eq!(describe_error(&json!({"message": "no"})), "no");
    }
}
