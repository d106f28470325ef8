//! The `osmosis` command: `serve` the API, manage `workspace`s, mint access
//! `token`s, `migrate` the database, and `runtime eval` for differential tests of
//! the formula runtime.

mod cli;
mod data_dir;

/// jemalloc with its background thread, which returns freed memory to the system
/// (with glibc's malloc the RSS of 11,000 connections stayed after they closed;
/// BENCHMARKS.md "Faults: idle and slow clients").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use osmosis_connectors::http::AllowList;
use osmosis_connectors::sealing::{CredentialsCipher, EncryptionKey};
use osmosis_engine::{Engine, EngineConfig};

#[derive(Parser)]
#[command(
    name = "osmosis",
    version,
    about = "A self-hosted integration engine serving the Membrane API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API.
    ///
    /// Connection credentials are sealed with `OSMOSIS_ENCRYPTION_KEY` (32 bytes,
    /// base64) or, when it is unset, a key generated once into
    /// `<data-dir>/credentials.key` (mode 0600). Nodes sharing a database must share
    /// the key: set the variable. `OSMOSIS_ENCRYPTION_KEY_PREVIOUS` (comma-separated
    /// base64 keys) still opens what older keys sealed, during a rotation.
    Serve(ServeArgs),
    /// Manage workspaces.
    Workspace {
        #[command(subcommand)]
        command: WorkspaceCommand,
    },
    /// Print an access token for a workspace: an admin token (`--admin`) or a
    /// customer's (`--customer ID`).
    ///
    /// Prints the token alone on one line, so `TOKEN=$(osmosis token --admin …)`
    /// works; send it as `Authorization: Bearer $TOKEN`. It is an HS256 JWT signed
    /// with the workspace's secret: `OSMOSIS_WORKSPACE_SECRET` when set (unless
    /// `OSMOSIS_WORKSPACE_KEY` names another workspace), else the secret stored in
    /// the database `--data-dir`/`--database` point at (the same flags as `serve`).
    Token(cli::token::TokenArgs),
    /// Print a one-time link that signs a browser in to a workspace's console
    /// (`/console`): it works once, for ten minutes. Reads the database
    /// `--data-dir`/`--database` point at (the same flags as `serve`).
    ConsoleLink(cli::console_link::ConsoleLinkArgs),
    /// Export a workspace's elements as files in Membrane's layout
    /// (`membrane/integrations/<key>/spec.yaml`, `membrane/actions/<key>/spec.yaml`,
    /// …), from the database `serve` uses: into a folder's `membrane/` tree
    /// (replaced whole) or, with `--out FILE.zip`, as the zip `GET /export` serves.
    /// Customers, connections and their instances are not exported.
    Export(cli::export::ExportArgs),
    /// Import files in Membrane's layout into a workspace of the database `serve`
    /// uses: a folder's `membrane/` tree (as `export --out DIR` writes it) or a zip.
    ///
    /// The files are the workspace's whole truth: elements they do not hold are
    /// archived (unless `--partial`; refused while customers use them unless
    /// `--force`). All or nothing: a refused file (or element) is listed, with
    /// its field and why, and nothing is written. Prints the report as JSON:
    /// `{"dryRun", "changes": [{"change", "type", "key", "path", "fields"…}],
    /// "unchanged", "ignored"}`. A running server on SQLite serves the imported
    /// elements once its cache forgets the old ones; `push` goes through its API.
    Import(cli::import::ImportArgs),
    /// Download a running server's workspace into a folder's `membrane/` tree
    /// (replaced whole), through its API (`GET /export`).
    ///
    /// The server and workspace come from `--api-uri`/`--workspace-key`/
    /// `--workspace-secret`, else `MEMBRANE_API_URI`/`MEMBRANE_WORKSPACE_KEY`/
    /// `MEMBRANE_WORKSPACE_SECRET`, else `membrane.config.yml` (`apiUri`,
    /// `workspaceKey`, `workspaceSecret`, or the older
    /// `workspaces: {default: {key, secret, apiUri}}`).
    Pull(cli::remote::PullArgs),
    /// Upload a folder's `membrane/` tree to a running server's workspace, through
    /// its API (`POST /import`): prints the diff (`+ create`, `~ update`,
    /// `- archive`, one line each), then applies it once confirmed.
    ///
    /// Asks on a terminal unless `--yes`; when stdin is not a terminal, applies
    /// only with `--yes` (else prints the diff and applies nothing). Configured as
    /// `pull`.
    Push(cli::remote::PushArgs),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
    /// Seal every stored connection's credentials (archived ones too) with the
    /// current key, opening them with `OSMOSIS_ENCRYPTION_KEY_PREVIOUS`.
    ///
    /// Prints `{"resealed": n, "alreadyCurrent": m}`; values no configured key
    /// opens are listed by connection id, left as they are, and make the exit code
    /// non-zero. Safe to run again and while nodes serve.
    RotateCredentialsKey(DatabaseArgs),
    /// The formula runtime, for differential tests against the SDK.
    Runtime {
        #[command(subcommand)]
        command: RuntimeCommand,
    },
}

#[derive(Subcommand)]
enum RuntimeCommand {
    /// Evaluate SDK-oracle JSONL cases (`{"id","fn","args"}`) from stdin, one result line each.
    Eval,
}

#[derive(Subcommand)]
enum WorkspaceCommand {
    /// Create a workspace and print its key and secret as JSON.
    Create {
        #[arg(long)]
        name: String,
        /// Key to use instead of a generated one.
        #[arg(long)]
        key: Option<String>,
        /// Secret to use instead of a generated one.
        #[arg(long)]
        secret: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List the workspaces, oldest first: one JSON object a line,
    /// `{"key","name","createdAt"}` (secrets are never printed; archived workspaces
    /// are left out).
    List(cli::workspace::ListArgs),
    /// Give a workspace a new secret and print `{"key","secret"}` (the only time the
    /// secret is shown).
    ///
    /// Tokens signed with the old secret stop working: a running server re-reads a
    /// workspace at most 5 seconds after it last did. Update
    /// `OSMOSIS_WORKSPACE_SECRET` wherever it is set (a server started with the old
    /// one refuses to start).
    RotateSecret(cli::workspace::RotateSecretArgs),
    /// Archive a workspace: its tokens are refused (by running servers within 5
    /// seconds) and it leaves `workspace list`; its data and key stay in the
    /// database. Prints `{"archived": key}`.
    ///
    /// Asks for the key to be typed again, unless `--yes`; refuses without `--yes`
    /// when stdin is not a terminal.
    Delete(cli::workspace::DeleteArgs),
}

#[derive(Args, Clone)]
struct DatabaseArgs {
    /// Folder for the embedded database and other local state.
    #[arg(long, env = "OSMOSIS_DATA_DIR", default_value = "./osmosis-data")]
    data_dir: PathBuf,
    /// Database URL (`sqlite:…` or `postgres://…`); default: SQLite in the data dir.
    #[arg(long, env = "OSMOSIS_DATABASE_URL")]
    database: Option<String>,
    /// Size of the database connection pool.
    #[arg(long, env = "OSMOSIS_DATABASE_POOL_SIZE", default_value_t = 16)]
    database_pool_size: u32,
    /// PostgreSQL: milliseconds a request may take to get a working connection when
    /// the pool has room (check an idle one or open a new one). Past it the
    /// database counts as unreachable and requests answer 503 at once until it is
    /// back; waiting for a busy pool does not count. Raise it for a database whose
    /// connects are slow (far away, TLS); it bounds how long requests take to fail
    /// during an outage.
    #[arg(
        long,
        env = "OSMOSIS_DATABASE_ACQUIRE_TIMEOUT_MS",
        default_value_t = osmosis_store::DEFAULT_ACQUIRE_TIMEOUT.as_millis() as u64,
    )]
    database_acquire_timeout_ms: u64,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "OSMOSIS_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Serve `GET /metrics` (Prometheus) on this address instead of on --listen,
    /// to keep it off a public one.
    #[arg(long, env = "OSMOSIS_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// URL clients reach this server at (callback and webhook URLs); default: http://<listen>.
    #[arg(long, env = "OSMOSIS_PUBLIC_URL")]
    public_url: Option<String>,
    /// Log format.
    #[arg(long, env = "OSMOSIS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    log_format: LogFormat,
    /// A folder of connectors in the Membrane layout (one sub-folder each), installed
    /// into every workspace beside the shipped ones.
    #[arg(long, env = "OSMOSIS_CONNECTORS_DIR")]
    connectors_dir: Option<std::path::PathBuf>,
    /// Days external API logs and action run logs are kept before they are deleted.
    #[arg(long, env = "OSMOSIS_API_LOG_RETENTION_DAYS", default_value_t = 30)]
    api_log_retention_days: u64,
    /// Seconds a client has to send a request's headers, from connecting or from
    /// its previous response; idle keep-alive connections close after it too.
    #[arg(long, env = "OSMOSIS_HEADER_TIMEOUT_SECS", default_value_t = 30)]
    header_timeout_secs: u64,
    /// Seconds a client has to send a whole request body once its headers are in.
    #[arg(long, env = "OSMOSIS_BODY_TIMEOUT_SECS", default_value_t = 60)]
    body_timeout_secs: u64,
    /// Connections served at once; more are answered 503 and closed. Default:
    /// 16,384, or less when the open-file limit is lower.
    #[arg(long, env = "OSMOSIS_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Private networks and hosts outbound calls (connector APIs, token endpoints,
    /// webhooks) may reach, comma-separated: networks (`10.0.0.0/8`), addresses
    /// (`127.0.0.1`) or host names (`api.corp.internal`). By default only public
    /// addresses are called; cloud metadata and link-local addresses never are.
    #[arg(long, env = "OSMOSIS_OUTBOUND_ALLOW")]
    outbound_allow: Option<AllowList>,
    /// Memory budget of the element read cache in MiB (0 turns it off): the cache
    /// evicts to stay under it and keeps no answer over an eighth of it. On
    /// PostgreSQL it forgets what other nodes write as their notices arrive.
    #[arg(long, env = "OSMOSIS_CACHE_MB", default_value_t = 64)]
    cache_mb: u64,
    /// Serve the demo app under /demo-app/ (off by default; `OSMOSIS_DEMO=1` too): a
    /// small CRM with API keys, contacts, companies and webhooks, which the shipped
    /// `demo-app` connector connects to, so a customer can be connected with no
    /// account elsewhere. Its data lives in <data-dir>/demo-app.db. Outbound calls
    /// may then reach this server's own listen address (that port only).
    #[arg(long, env = "OSMOSIS_DEMO", value_parser = clap::builder::BoolishValueParser::new())]
    demo: bool,
    /// Seconds a connection test or a connect step may wait on the external app in
    /// total, retries included; past it the answer is `connection`
    /// `deadline_exceeded`.
    #[arg(long, env = "OSMOSIS_CONNECT_DEADLINE_SECS", default_value_t = 15)]
    connect_deadline_secs: u64,
    /// Seconds any other call through a connection (connector functions, the proxy,
    /// action runs) may take in total, retries included.
    #[arg(long, env = "OSMOSIS_CALL_DEADLINE_SECS", default_value_t = 60)]
    call_deadline_secs: u64,
    #[command(flatten)]
    flows: FlowArgs,
    #[command(flatten)]
    database: DatabaseArgs,
}

/// The limits of flow runs (semantics §4.5).
#[derive(clap::Args, Clone, Debug)]
struct FlowArgs {
    /// Queued flow runs one connection may have; more are refused with
    /// `rate_limit_exceeded`.
    #[arg(long, env = "OSMOSIS_FLOW_QUEUE_CAP", default_value_t = 10_000)]
    flow_queue_cap: i64,
    /// Seconds a flow run may execute before it fails (`flow_run_timeout`).
    #[arg(long, env = "OSMOSIS_FLOW_RUN_TIMEOUT_SECS", default_value_t = 3000)]
    flow_run_timeout_secs: u64,
    /// The largest output of one flow node run, in MiB.
    #[arg(
        long,
        env = "OSMOSIS_MAX_NODE_RUN_OUTPUT_SIZE_MB",
        default_value_t = 20
    )]
    flow_max_output_mb: usize,
    /// Days finished flow runs are kept before they are deleted.
    #[arg(long, env = "OSMOSIS_FLOW_RUN_RETENTION_DAYS", default_value_t = 30)]
    flow_run_retention_days: u64,
    /// Seconds a node's claim on a flow run holds without a heartbeat: how soon
    /// another node takes over the runs of one that died.
    #[arg(long, env = "OSMOSIS_FLOW_LEASE_SECS", default_value_t = 30)]
    flow_lease_secs: u64,
}

impl FlowArgs {
    fn limits(&self) -> osmosis_engine::flows::FlowLimits {
        use std::time::Duration;
        osmosis_engine::flows::FlowLimits {
            queue_cap: self.flow_queue_cap.max(1),
            max_run: Duration::from_secs(self.flow_run_timeout_secs.max(1)),
            max_output_bytes: self.flow_max_output_mb.max(1).saturating_mul(1024 * 1024),
            retention: Duration::from_secs(self.flow_run_retention_days * 24 * 3600),
            lease: Duration::from_secs(self.flow_lease_secs.max(3)),
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Pretty,
    Json,
}

fn init_tracing(format: LogFormat) {
    // PostgreSQL's notices ("relation … already exists, skipping" on every
    // migration check) are not news to the operator.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx::postgres::notice=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(osmosis_api::log_writer::stderr());
    match format {
        LogFormat::Pretty => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

impl DatabaseArgs {
    /// The database URL; for SQLite, the data dir and the database file made
    /// private first ([`data_dir`]).
    fn url(&self) -> anyhow::Result<String> {
        if let Some(url) = &self.database {
            if let Some(file) = data_dir::sqlite_path(url) {
                data_dir::create_private_file(&file)?;
            }
            return Ok(url.clone());
        }
        let dir = data_dir::prepare(&self.data_dir)?;
        let file = dir.join("osmosis.db");
        data_dir::create_private_file(&file)?;
        data_dir::warn_if_open(&dir);
        Ok(format!("sqlite://{}", file.display()))
    }

    fn options(&self, migrate: bool) -> osmosis_store::OpenOptions {
        osmosis_store::OpenOptions {
            acquire_timeout: std::time::Duration::from_millis(self.database_acquire_timeout_ms),
            ..osmosis_store::OpenOptions::new(self.database_pool_size, migrate)
        }
    }

    async fn open(&self, migrate: bool) -> anyhow::Result<osmosis_store::Stores> {
        let url = self.url()?;
        osmosis_store::open_with(&url, &self.options(migrate))
            .await
            .with_context(|| format!("opening {}", self.describe()))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli: Cli = cli::flags::parse();
    if !matches!(cli.command, Command::Serve(_) | Command::Runtime { .. }) {
        // Warnings (a data dir others can read) reach the operator of every command.
        init_tracing(LogFormat::Pretty);
    }
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Workspace {
            command:
                WorkspaceCommand::Create {
                    name,
                    key,
                    secret,
                    database,
                },
        } => create_workspace(name, key, secret, database).await,
        Command::Workspace {
            command: WorkspaceCommand::List(args),
        } => cli::workspace::list(args).await,
        Command::Workspace {
            command: WorkspaceCommand::RotateSecret(args),
        } => cli::workspace::rotate_secret(args).await,
        Command::Workspace {
            command: WorkspaceCommand::Delete(args),
        } => cli::workspace::delete(args).await,
        Command::Token(args) => cli::token::run(args).await,
        Command::ConsoleLink(args) => cli::console_link::run(args).await,
        Command::Export(args) => cli::export::run(args).await,
        Command::Import(args) => cli::import::run(args).await,
        Command::Pull(args) => cli::remote::pull(args).await,
        Command::Push(args) => cli::remote::push(args).await,
        Command::Migrate(database) => migrate(database).await,
        Command::RotateCredentialsKey(database) => rotate_credentials_key(database).await,
        Command::Runtime {
            command: RuntimeCommand::Eval,
        } => {
            let stdin = std::io::stdin().lock();
            let stdout = std::io::BufWriter::new(std::io::stdout().lock());
            osmosis_runtime::oracle::run_jsonl(stdin, stdout)
                .context("reading cases or writing results")
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("osmosis: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn create_workspace(
    name: String,
    key: Option<String>,
    secret: Option<String>,
    database: DatabaseArgs,
) -> anyhow::Result<()> {
    let stores = database.open(true).await?;
    let engine = Engine::new(
        stores,
        EngineConfig {
            public_url: String::new(),
        },
    );
    let ws = engine.create_workspace(&name, key, secret).await?;
    println!(
        "{}",
        serde_json::json!({ "key": ws.key, "secret": ws.secret })
    );
    Ok(())
}

async fn migrate(database: DatabaseArgs) -> anyhow::Result<()> {
    let stores = database.open(true).await?;
    println!(
        "{}",
        serde_json::json!({ "schemaVersion": stores.database.schema_version().await? })
    );
    Ok(())
}

const KEY_VAR: &str = "OSMOSIS_ENCRYPTION_KEY";
const PREVIOUS_KEYS_VAR: &str = "OSMOSIS_ENCRYPTION_KEY_PREVIOUS";

/// The credentials cipher: the current key from `OSMOSIS_ENCRYPTION_KEY` or the key
/// file in the data dir (generated there when `create` and missing), and the keys in
/// `OSMOSIS_ENCRYPTION_KEY_PREVIOUS` for opening what they sealed.
fn credentials_cipher(
    data_dir: &std::path::Path,
    create: bool,
) -> anyhow::Result<CredentialsCipher> {
    let env_key = std::env::var(KEY_VAR).ok().filter(|v| !v.trim().is_empty());
    if env_key.is_none() && create {
        // The key file's folder is private like the rest of the data dir.
        data_dir::prepare(data_dir)?;
    }
    if env_key.is_none()
        && !create
        && !data_dir
            .join(osmosis_connectors::sealing::KEY_FILE_NAME)
            .exists()
    {
        anyhow::bail!(
            "no credentials key: set {KEY_VAR} (or run where <data dir>/credentials.key is)"
        );
    }
    let key = EncryptionKey::from_env_or_dir(env_key.as_deref(), data_dir).with_context(|| {
        format!("loading the credentials encryption key ({KEY_VAR} or <data dir>/credentials.key)")
    })?;
    let mut cipher = CredentialsCipher::new(key.clone());
    let previous = std::env::var(PREVIOUS_KEYS_VAR).unwrap_or_default();
    for (n, text) in previous
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .enumerate()
    {
        let old = EncryptionKey::from_base64(text)
            .with_context(|| format!("{PREVIOUS_KEYS_VAR}: key {} of the list", n + 1))?;
        if old.id_hex() != key.id_hex() {
            tracing::info!(key = %old.id_hex(), "a previous credentials key opens what it sealed");
            cipher = cipher.with_previous(old);
        }
    }
    Ok(cipher)
}

async fn rotate_credentials_key(database: DatabaseArgs) -> anyhow::Result<()> {
    let cipher = credentials_cipher(&database.data_dir, false)?;
    let stores = database.open(true).await?;
    let engine = Engine::new(
        stores,
        EngineConfig {
            public_url: String::new(),
        },
    )
    .with_credentials_cipher(cipher);
    let report = engine.calls().rotate_credentials_key().await?;
    let mut out = serde_json::json!({
        "resealed": report.resealed,
        "alreadyCurrent": report.already_current,
    });
    if !report.unopenable.is_empty() {
        out["unopenable"] = serde_json::json!(report.unopenable.len());
        out["unopenableConnections"] = serde_json::json!(report.unopenable);
    }
    println!("{out}");
    if !report.unopenable.is_empty() {
        anyhow::bail!(
            "{} connection(s) hold credentials no configured key opens (left as they are); \
             give the key that sealed them in {PREVIOUS_KEYS_VAR}",
            report.unopenable.len()
        );
    }
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_tracing(args.log_format);
    // What can fail without touching the disk goes first, the port above all, so a
    // start that fails creates nothing; and what the start goes on to create is
    // removed again if it fails after all (`prepare`).
    args.database.validate()?;
    let mut catalog =
        osmosis_connectors::catalog::shipped().context("the shipped connectors do not load")?;
    if let Some(dir) = &args.connectors_dir {
        catalog.extend(load_connectors_dir(dir)?);
    }
    let listener =
        listen(args.listen).with_context(|| format!("cannot listen on {}", args.listen))?;
    let metrics_listener = args
        .metrics_listen
        .map(|addr| listen(addr).with_context(|| format!("cannot listen on {addr} for metrics")))
        .transpose()?;
    let demo = osmosis_demo_app::Demo::new(args.demo, listener.local_addr()?)?;
    let created = data_dir::Created::note(
        &args.database.data_dir,
        args.database
            .database
            .as_deref()
            .and_then(data_dir::sqlite_path)
            .as_deref(),
    );
    let connectors = catalog.len();
    let engine = match prepare(&args, catalog).await {
        Ok(engine) => engine,
        Err(e) => {
            created.remove();
            return Err(e);
        }
    };
    // --demo: the demo app's routes, its connector's base URI, and its address
    // (this port only) opened to outbound calls (crates/demo-app).
    let allow = args.outbound_allow.clone().unwrap_or_default();
    let (engine, demo_routes) = match demo.start(engine, allow, &args.database.data_dir).await {
        Ok(started) => started,
        Err(e) => {
            created.remove();
            return Err(e.into());
        }
    };
    let (stop_worker, worker_stopped) = tokio::sync::watch::channel(false);
    let node = format!("node-{}", osmosis_model::ids::object_id());
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let worker = {
        let engine = engine.clone();
        let (node, rx) = (node.clone(), worker_stopped.clone());
        tokio::spawn(async move { engine.run_worker(node, stopped(rx)).await })
    };
    let flow_scheduler = {
        let engine = engine.clone();
        tokio::spawn(async move {
            engine
                .run_flow_scheduler(node, stopped(worker_stopped))
                .await
        })
    };
    let addr = listener.local_addr()?;
    let limits = osmosis_api::server::Limits {
        header_timeout: std::time::Duration::from_secs(args.header_timeout_secs.max(1)),
        max_connections: connection_limit(args.max_connections),
        ..Default::default()
    };
    cli::startup::log(cli::startup::Summary {
        addr,
        database: &args.database,
        workspaces: engine.list_workspaces().await?.len(),
        connectors,
        key_source: cli::startup::key_source(&args.database.data_dir),
        max_connections: limits.max_connections,
    });
    let mut state = osmosis_api::AppState::new(engine).with_body_timeout(
        std::time::Duration::from_secs(args.body_timeout_secs.max(1)),
    );
    let (stop_metrics, metrics_stopped) = tokio::sync::watch::channel(false);
    let metrics = match metrics_listener {
        Some(metrics_listener) => {
            state = state.with_metrics_elsewhere();
            tracing::info!(addr = %metrics_listener.local_addr()?, "metrics at /metrics");
            Some(tokio::spawn(osmosis_api::server::serve(
                metrics_listener,
                osmosis_api::metrics::router(std::sync::Arc::clone(&state.engine)),
                osmosis_api::server::Limits::default(),
                stopped(metrics_stopped),
            )))
        }
        None => None,
    };
    let app = osmosis_api::router(state);
    let app = demo_routes.mount(app);
    osmosis_api::server::serve(listener, app, limits, shutdown_signal()).await?;
    let _ = stop_metrics.send(true);
    if let Some(metrics) = metrics {
        let _ = metrics.await;
    }
    let _ = stop_worker.send(true);
    let _ = worker.await;
    let _ = flow_scheduler.await;
    tracing::info!("drained; bye");
    Ok(())
}

/// The engine `serve` runs: the database opened and migrated, the credentials key
/// loaded (generated on first start), the workspace of the environment ensured
/// and the catalog installed. What it creates on disk, the caller removes if it
/// fails.
async fn prepare(args: &ServeArgs, catalog: Vec<serde_json::Value>) -> anyhow::Result<Engine> {
    let options = osmosis_store::OpenOptions {
        cache_bytes: args.cache_mb.saturating_mul(1024 * 1024),
        ..args.database.options(true)
    };
    let stores = osmosis_store::open_with(&args.database.url()?, &options)
        .await
        .with_context(|| format!("opening {}", args.database.describe()))?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let cipher = credentials_cipher(&args.database.data_dir, true)?;
    let outbound_allow = args.outbound_allow.clone().unwrap_or_default();
    if !outbound_allow.is_empty() {
        tracing::info!(allow = ?outbound_allow, "outbound calls may reach these private networks");
    }
    let engine = Engine::new(stores, EngineConfig { public_url })
        .with_credentials_cipher(cipher)
        .with_outbound(outbound_allow)
        .with_deadlines(osmosis_engine::Deadlines {
            connect: std::time::Duration::from_secs(args.connect_deadline_secs.max(1)),
            calls: std::time::Duration::from_secs(args.call_deadline_secs.max(1)),
        })
        .with_catalog(catalog)
        .with_flow_limits(args.flows.limits())
        .with_api_log_retention(std::time::Duration::from_secs(
            args.api_log_retention_days * 24 * 3600,
        ));
    if let (Ok(key), Ok(secret)) = (
        std::env::var("OSMOSIS_WORKSPACE_KEY"),
        std::env::var("OSMOSIS_WORKSPACE_SECRET"),
    ) {
        let (_, ensured) = engine.ensure_workspace(&key, &secret).await?;
        if ensured == osmosis_engine::workspaces::Ensured::Created {
            // The dev path: say which workspace was made (never the secret).
            println!("{}", serde_json::json!({ "createdWorkspace": key }));
            tracing::info!(workspace = %key, "created the workspace from OSMOSIS_WORKSPACE_KEY");
        }
    }
    let installed = engine.install_catalog().await?;
    if installed > 0 {
        tracing::info!(installed, "installed catalog connectors");
    }
    Ok(engine)
}

/// Connections the kernel holds for us before we accept them. The default (1,024)
/// overflows in a connect storm, and a dropped SYN costs its client a one-second
/// retry; the kernel caps this at `net.core.somaxconn` (4,096 by default).
const LISTEN_BACKLOG: u32 = 4096;

fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Open files kept free for the database, the key file and outbound calls.
const RESERVED_FILES: u64 = 512;

/// The connection cap: the one asked for, else 16,384; either way within the
/// open-file limit, which is raised to its hard maximum first (each connection
/// is a file descriptor, and the soft default of 1,024 is far too few).
fn connection_limit(asked: Option<usize>) -> usize {
    let files = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read or raise the open-file limit");
            1024
        }
    };
    let fits = files.saturating_sub(RESERVED_FILES).max(64) as usize;
    let wanted = asked.unwrap_or(osmosis_api::server::Limits::default().max_connections);
    if wanted > fits {
        tracing::warn!(
            wanted,
            open_file_limit = files,
            "the connection limit is lowered to fit the open-file limit"
        );
    }
    wanted.min(fits).max(1)
}

/// Every connector folder under `dir`, as stored connector documents.
fn load_connectors_dir(dir: &std::path::Path) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut found = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the connectors folder {}", dir.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if entry.file_type()?.is_dir() {
            let doc = osmosis_connectors::definition::assemble_dir(&entry.path())
                .with_context(|| format!("connector {}", entry.path().display()))?;
            osmosis_connectors::definition::Connector::from_value(&doc)
                .with_context(|| format!("connector {}", entry.path().display()))?;
            found.push(doc);
        }
    }
    Ok(found)
}

/// Resolves on SIGTERM or Ctrl-C; in-flight requests then finish before exit.
///
/// The handlers are installed here, before the server answers its first request,
/// not when the future is first polled: `serve` may answer `/health` before it
/// polls this, and a SIGTERM in between took the default action and killed the
/// server without draining (seen as a failed exit in `cli_start`).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (term, interrupt) = signals;
            let on = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = on(term) => {},
                _ = on(interrupt) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
