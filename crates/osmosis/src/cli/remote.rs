//! `osmosis pull` and `osmosis push`: a workspace's `membrane/` tree moved to
//! and from a running server through its API (`GET /export`, `POST /import`,
//! `GET /background-jobs/{id}`), as Membrane's CLI does — any server serving
//! the Membrane API, not only one on this machine's database.
//!
//! Where the server and the workspace are: `--api-uri`, `--workspace-key` and
//! `--workspace-secret`, else `MEMBRANE_API_URI`, `MEMBRANE_WORKSPACE_KEY` and
//! `MEMBRANE_WORKSPACE_SECRET`, else `membrane.config.yml` in the current folder
//! (or `--config PATH`): `workspaceKey`, `workspaceSecret`, `apiUri`, or the
//! older `workspaces: {default: {key, secret, apiUri}}`. Each value is looked up
//! on its own, in that order. The requests carry an admin token the command
//! signs with the secret (`osmosis token --admin`).
//!
//! `push` always asks the server for the diff first and prints it, one line a
//! change; it applies only once confirmed (on a terminal, or with `--yes`).

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use osmosis_engine::config_as_code::WorkspaceFiles;
use serde::Deserialize;
use serde_json::Value;

use super::import::describe_error;
use super::tree::{is_zip, read_source, write_file, write_tree};

/// The server's URL when none is configured: where `osmosis serve` listens by
/// default.
const DEFAULT_API_URI: &str = "http://127.0.0.1:8080";
const CONFIG_FILE: &str = "membrane.config.yml";

/// Where the server and the workspace are.
#[derive(Args)]
pub struct RemoteArgs {
    /// The server's URL [default: `apiUri` of the config file, else
    /// http://127.0.0.1:8080].
    #[arg(long, value_name = "URL", env = "MEMBRANE_API_URI")]
    api_uri: Option<String>,
    /// The workspace's key [default: `workspaceKey` of the config file].
    #[arg(long, value_name = "KEY", env = "MEMBRANE_WORKSPACE_KEY")]
    workspace_key: Option<String>,
    /// The workspace's secret, which the admin token is signed with [default:
    /// `workspaceSecret` of the config file].
    #[arg(
        long,
        value_name = "SECRET",
        env = "MEMBRANE_WORKSPACE_SECRET",
        hide_env_values = true
    )]
    workspace_secret: Option<String>,
    /// The config file read for what neither flags nor the environment say
    /// [default: ./membrane.config.yml, when there is one].
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Seconds to wait for the server's export or import job to finish.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    timeout: u64,
}

#[derive(Args)]
pub struct PullArgs {
    /// Where to write: the folder to write the `membrane/` tree into (replaced
    /// whole), or a `.zip` file.
    #[arg(long, value_name = "DIR|FILE.zip", default_value = ".")]
    out: PathBuf,
    /// Also pull integrations' secret parameters (their OAuth client secrets).
    #[arg(long)]
    include_secrets: bool,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Args)]
pub struct PushArgs {
    /// The folder holding the `membrane/` tree, or a `.zip` file.
    #[arg(value_name = "DIR|FILE.zip", default_value = ".")]
    source: PathBuf,
    /// Print the diff only; apply nothing.
    #[arg(long)]
    dry_run: bool,
    /// Leave the workspace's elements the files do not hold as they are, instead
    /// of archiving them.
    #[arg(long)]
    partial: bool,
    /// Archive elements customers still use (integrations with connections,
    /// elements with instances) rather than refuse to.
    #[arg(long)]
    force: bool,
    /// Apply without asking (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
    #[command(flatten)]
    remote: RemoteArgs,
}

/// `membrane.config.yml`: the current keys, or the older `workspaces` map.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ConfigFile {
    workspace_key: Option<String>,
    workspace_secret: Option<String>,
    api_uri: Option<String>,
    #[serde(default)]
    workspaces: BTreeMap<String, LegacyWorkspace>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
struct LegacyWorkspace {
    key: Option<String>,
    secret: Option<String>,
    api_uri: Option<String>,
}

/// The server and workspace to talk to.
#[derive(Debug, PartialEq)]
struct Target {
    api_uri: String,
    key: String,
    secret: String,
}

impl RemoteArgs {
    fn target(&self) -> anyhow::Result<Target> {
        let file = match &self.config {
            Some(path) => Some(read_config(path)?),
            None => {
                let path = Path::new(CONFIG_FILE);
                if path.exists() {
                    Some(read_config(path)?)
                } else {
                    None
                }
            }
        };
        resolve(
            [&self.api_uri, &self.workspace_key, &self.workspace_secret],
            file.unwrap_or_default(),
        )
    }
}

fn read_config(path: &Path) -> anyhow::Result<ConfigFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if text.trim().is_empty() {
        return Ok(ConfigFile::default());
    }
    serde_yaml::from_str(&text).with_context(|| format!("reading {}", path.display()))
}

/// Flags and the environment (clap gives them as one, flags first), else the
/// file: its current keys, else its `default` workspace.
fn resolve(given: [&Option<String>; 3], file: ConfigFile) -> anyhow::Result<Target> {
    let legacy = file.workspaces.get("default").cloned().unwrap_or_default();
    let pick = |given: &Option<String>, current: Option<String>, old: Option<String>| {
        [given.clone(), current, old]
            .into_iter()
            .flatten()
            .map(|v| v.trim().to_owned())
            .find(|v| !v.is_empty())
    };
    let [api_uri, key, secret] = given;
    let api_uri =
        pick(api_uri, file.api_uri, legacy.api_uri).unwrap_or_else(|| DEFAULT_API_URI.to_owned());
    let missing = |what: &str, flag: &str, var: &str, field: &str| {
        anyhow::anyhow!("no {what}: pass {flag}, set {var}, or put `{field}` in {CONFIG_FILE}")
    };
    let key = pick(key, file.workspace_key, legacy.key).ok_or_else(|| {
        missing(
            "workspace key",
            "--workspace-key",
            "MEMBRANE_WORKSPACE_KEY",
            "workspaceKey",
        )
    })?;
    let secret = pick(secret, file.workspace_secret, legacy.secret).ok_or_else(|| {
        missing(
            "workspace secret",
            "--workspace-secret",
            "MEMBRANE_WORKSPACE_SECRET",
            "workspaceSecret",
        )
    })?;
    let parsed = url::Url::parse(&api_uri)
        .with_context(|| format!("the API URI `{api_uri}` is not a URL"))?;
    anyhow::ensure!(
        matches!(parsed.scheme(), "http" | "https"),
        "the API URI `{api_uri}` is not an http(s) URL"
    );
    Ok(Target {
        api_uri: api_uri.trim_end_matches('/').to_owned(),
        key,
        secret,
    })
}

/// The server's API as the workspace's admin.
struct Api {
    http: reqwest::Client,
    target: Target,
    token: String,
    timeout: Duration,
}

impl Api {
    fn new(args: &RemoteArgs) -> anyhow::Result<Api> {
        let target = args.target()?;
        let timeout = Duration::from_secs(args.timeout.max(1));
        // Valid past the longest wait, so the polls do not outlive it.
        let ttl = timeout + Duration::from_secs(3600);
        let token = super::token::admin_token(&target.key, &target.secret, ttl)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(300))
            .build()
            .context("building the HTTP client")?;
        Ok(Api {
            http,
            target,
            token,
            timeout,
        })
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.target.api_uri)
        }
    }

    /// Sends with the token; answers the body of a success, else an error
    /// describing the server's answer.
    async fn send(&self, req: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Vec<u8>> {
        let resp = req
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("{what}: {} does not answer", self.target.api_uri))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .with_context(|| format!("{what}: reading the answer"))?;
        if status.is_success() {
            return Ok(body.to_vec());
        }
        let message = match serde_json::from_slice::<Value>(&body) {
            Ok(error) if error.get("message").is_some() => describe_error(&error),
            _ => String::from_utf8_lossy(&body).chars().take(500).collect(),
        };
        anyhow::bail!("{what}: the server answered {status}: {message}")
    }

    async fn json(&self, req: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Value> {
        let body = self.send(req, what).await?;
        serde_json::from_slice(&body).with_context(|| format!("{what}: the answer is not JSON"))
    }

    /// Polls a background job until it finishes: its `result`, or its error.
    async fn finish(&self, job: Value, what: &str) -> anyhow::Result<Value> {
        let id = job["id"]
            .as_str()
            .with_context(|| format!("{what}: the server answered no job: {job}"))?
            .to_owned();
        let deadline = Instant::now() + self.timeout;
        let mut wait = Duration::from_millis(100);
        let mut job = job;
        loop {
            match job["status"].as_str() {
                Some("completed") => return Ok(job["result"].clone()),
                Some("failed") => anyhow::bail!("{what}: {}", describe_error(&job["error"])),
                Some("running") | Some("pending") | Some("queued") | None => {}
                Some(other) => anyhow::bail!("{what}: the job ended as `{other}`: {job}"),
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{what}: job {id} did not finish within {} s (see GET /background-jobs/{id})",
                self.timeout.as_secs()
            );
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(1));
            job = self
                .json(
                    self.http.get(self.url(&format!("/background-jobs/{id}"))),
                    what,
                )
                .await?;
        }
    }

    /// `POST /import?…` with the zip as the body: the job's report.
    async fn import(&self, zip: &[u8], query: &str, what: &str) -> anyhow::Result<Value> {
        let req = self
            .http
            .post(self.url(&format!("/import?{query}")))
            .header(reqwest::header::CONTENT_TYPE, "application/zip")
            .body(zip.to_vec());
        let job = self.json(req, what).await?;
        self.finish(job, what).await
    }
}

/// Exports the workspace on the server and writes its files; prints
/// `{"files": n, "out": "…"}`.
pub async fn pull(args: PullArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.remote)?;
    let what = "exporting";
    let query = if args.include_secrets {
        "?includeSecrets=true"
    } else {
        ""
    };
    let job = api
        .json(api.http.get(api.url(&format!("/export{query}"))), what)
        .await?;
    let result = api.finish(job, what).await?;
    let url = result["downloadUrl"]
        .as_str()
        .with_context(|| format!("the export job answered no download URL: {result}"))?;
    let zip = api
        .send(api.http.get(api.url(url)), "downloading the export")
        .await?;
    let files = WorkspaceFiles::from_zip(&zip)
        .map_err(|e| anyhow::anyhow!("reading the export: {}", e.message))?;
    if is_zip(&args.out) {
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

/// Prints the server's diff of the files against the workspace, then applies
/// them once confirmed.
pub async fn push(args: PushArgs) -> anyhow::Result<()> {
    let files = read_source(&args.source)?;
    let zip = files
        .to_zip()
        .map_err(|e| anyhow::anyhow!("zipping the files: {}", e.message))?;
    let api = Api::new(&args.remote)?;
    let mut flags = String::new();
    if args.partial {
        flags.push_str("&partial=true");
    }
    if args.force {
        flags.push_str("&force=true");
    }
    let report = api
        .import(&zip, &format!("diff=true{flags}"), "diffing the files")
        .await?;
    let mut stdout = std::io::stdout().lock();
    for line in diff_lines(&report) {
        writeln!(stdout, "{line}")?;
    }
    stdout.flush()?;
    drop(stdout);
    let changes = report["changes"].as_array().map_or(0, Vec::len);
    let target = format!("workspace `{}` at {}", api.target.key, api.target.api_uri);
    if changes == 0 {
        eprintln!("Nothing to apply: {target} already holds these files.");
        return Ok(());
    }
    if args.dry_run {
        eprintln!("Dry run: nothing applied.");
        return Ok(());
    }
    if !args.yes {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            eprintln!(
                "Nothing applied: stdin is not a terminal to confirm on; pass --yes to apply."
            );
            return Ok(());
        }
        eprint!("Apply {changes} change(s) to {target}? [y/N] ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        stdin
            .lock()
            .read_line(&mut answer)
            .context("reading the answer")?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            eprintln!("Nothing applied.");
            return Ok(());
        }
    }
    let query = flags.trim_start_matches('&');
    let applied = api.import(&zip, query, "importing").await?;
    let done = applied["changes"].as_array().map_or(0, Vec::len);
    if summary(&applied) != summary(&report) {
        // The workspace changed between the diff and the import: say what the
        // import did.
        eprintln!("The workspace changed since the diff; the import made these changes:");
        for line in diff_lines(&applied) {
            eprintln!("{line}");
        }
    }
    eprintln!(
        "Applied {done} change(s) to {target} ({} unchanged).",
        applied["unchanged"].as_u64().unwrap_or(0)
    );
    Ok(())
}

/// What a report's changes are, without the diff's values (nor the uuid a
/// dry run gives an element it would create).
fn summary(report: &Value) -> Vec<[Value; 4]> {
    report["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            [
                c["change"].clone(),
                c["type"].clone(),
                ["path", "key", "uuid"]
                    .iter()
                    .map(|f| c[*f].clone())
                    .find(|v| !v.is_null())
                    .unwrap_or(Value::Null),
                c["fields"].clone(),
            ]
        })
        .collect()
}

/// One line a change of an import's report, then the unchanged count and the
/// files the import left aside.
fn diff_lines(report: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    for c in report["changes"].as_array().into_iter().flatten() {
        let kind = c["type"].as_str().unwrap_or("element");
        let label = ["key", "name", "uuid", "id"]
            .iter()
            .find_map(|f| c[*f].as_str())
            .unwrap_or("?");
        let path = c["path"]
            .as_str()
            .map(|p| format!(" ({p})"))
            .unwrap_or_default();
        let line = match c["change"].as_str().unwrap_or("?") {
            "create" => format!("+ create {kind} {label}{path}"),
            "restore" => format!("+ restore {kind} {label}{path}"),
            "archive" => format!("- archive {kind} {label}"),
            "update" => {
                let fields: Vec<&str> = c["fields"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                if fields.is_empty() {
                    format!("~ update {kind} {label}")
                } else {
                    format!("~ update {kind} {label}: {}", fields.join(", "))
                }
            }
            other => format!("? {other} {kind} {label}{path}"),
        };
        lines.push(line);
    }
    lines.push(format!(
        "{} unchanged",
        report["unchanged"].as_u64().unwrap_or(0)
    ));
    for path in report["ignored"].as_array().into_iter().flatten() {
        if let Some(p) = path.as_str() {
            lines.push(format!("  ignored {p}"));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file(yaml: &str) -> ConfigFile {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn flags_and_env_come_before_the_file_and_its_older_format() {
        let none = None;
        let current = file("workspaceKey: k\nworkspaceSecret: s\napiUri: http://h:1/\n");
        assert_eq!(
            resolve([&none, &none, &none], current).unwrap(),
            Target {
                api_uri: "http://h:1".into(),
                key: "k".into(),
                secret: "s".into()
            }
        );
        let legacy =
            "workspaces:\n  default:\n    key: old\n    secret: olds\n    apiUri: https://x\n";
        assert_eq!(
            resolve([&none, &none, &none], file(legacy)).unwrap(),
            Target {
                api_uri: "https://x".into(),
                key: "old".into(),
                secret: "olds".into()
            }
        );
        let given = Some("given".to_owned());
        let t = resolve([&none, &given, &none], file(legacy)).unwrap();
        assert_eq!((t.key.as_str(), t.secret.as_str()), ("given", "olds"));
        let t = resolve([&none, &given, &given], ConfigFile::default()).unwrap();
        assert_eq!(t.api_uri, DEFAULT_API_URI);
        let err = resolve([&none, &none, &given], ConfigFile::default()).unwrap_err();
        assert!(err.to_string().contains("MEMBRANE_WORKSPACE_KEY"), "{err}");
        let bad = Some("ftp://x".to_owned());
        assert!(resolve([&bad, &given, &given], ConfigFile::default()).is_err());
    }

    #[test]
    fn a_report_reads_as_one_line_a_change() {
        let report = json!({
            "dryRun": true,
            "changes": [
                {"change": "create", "type": "action", "key": "sync", "name": "Sync",
                 "path": "membrane/actions/sync/spec.yaml"},
                {"change": "update", "type": "flow", "key": "f", "fields": ["config", "nodes"]},
                {"change": "archive", "type": "action", "key": "old", "name": "Old"},
            ],
            "unchanged": 3,
            "ignored": ["membrane/notes.txt"],
        });
        assert_eq!(
            diff_lines(&report),
            [
                "+ create action sync (membrane/actions/sync/spec.yaml)",
                "~ update flow f: config, nodes",
                "- archive action old",
                "3 unchanged",
                "  ignored membrane/notes.txt",
            ]
        );
    }
}
