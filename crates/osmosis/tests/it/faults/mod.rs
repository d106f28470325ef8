//! Shared by the fault tests (`faults_*.rs`): a private PostgreSQL server, the real
//! `osmosis serve` with its log in a file, timed requests, and the few statistics
//! the figures in BENCHMARKS.md are made of.
//!
//! `OSMOSIS_FAULTS_LONG=1` runs the longer variants (more load, several faults in a
//! row); `OSMOSIS_FAULTS_BIN` runs another build of `osmosis` (a baseline).

#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Set to run the long variants.
pub fn long() -> bool {
    std::env::var("OSMOSIS_FAULTS_LONG").is_ok_and(|v| v == "1")
}

/// The binary under test: this build's, unless `OSMOSIS_FAULTS_BIN` names another.
pub fn binary() -> String {
    std::env::var("OSMOSIS_FAULTS_BIN").unwrap_or_else(|_| crate::common::process::BIN.to_string())
}

pub fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id -u runs");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Runs `cmd`, failing the test with its output when it fails.
#[track_caller]
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} does not start: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed: {text}");
    text
}

/// A PostgreSQL server of the test's own, in a temporary folder on a free port,
/// as `scripts/ensure-postgres.sh` starts one: as the unprivileged `osmosis-pg`
/// when the test runs as root (PostgreSQL refuses to run as root). Dropping it
/// stops the server, whatever state the test left it in.
pub struct PrivatePostgres {
    pub port: u16,
    bin: PathBuf,
    /// (uid, gid) to run the server as; `None`: as the test's own user.
    user: Option<(u32, u32)>,
    dir: tempfile::TempDir,
}

impl PrivatePostgres {
    pub fn start() -> PrivatePostgres {
        let bin = server_binaries();
        let dir = tempfile::tempdir().expect("temp dir");
        let user = is_root().then(unprivileged_user);
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
        }
        let pg = PrivatePostgres {
            port: crate::common::process::free_port(),
            bin,
            user,
            dir,
        };
        let data = pg.data();
        run(pg
            .tool("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data));
        pg.start_server();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("db")
    }

    /// One of the server's programs, run as the server's user.
    fn tool(&self, name: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(name));
        if let Some((uid, gid)) = self.user {
            cmd.uid(uid).gid(gid);
        }
        cmd.current_dir(self.dir.path());
        cmd
    }

    /// The URL Osmosis connects with (trust authentication: no password).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start_server(&self) {
        let options = format!(
            "-k {} -h 127.0.0.1 -p {}",
            self.dir.path().display(),
            self.port
        );
        run(self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-o", &options, "-l"])
            .arg(self.dir.path().join("log"))
            .args(["-w", "-t", "30", "start"]));
    }

    /// `pg_ctl stop -m fast`: sessions are ended, the server shuts down cleanly.
    pub fn stop_server(&self) {
        run(self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "-t", "30", "stop"]));
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        // Already stopped is fine; a server left running is not.
        let _ = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The folder of `initdb`, `pg_ctl` and `postgres`: Debian's newest, else `PATH`'s.
fn server_binaries() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists())
        .collect();
    found.sort_by_key(|b| {
        b.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(bin) = found.pop() {
        return bin;
    }
    let which = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
        .expect("sh runs");
    let path = String::from_utf8_lossy(&which.stdout).trim().to_string();
    assert!(
        !path.is_empty(),
        "the PostgreSQL outage test starts its own server and needs PostgreSQL's server \
         binaries (initdb, pg_ctl): install the Debian package `postgresql` \
         (.ci/run does)"
    );
    Path::new(&path).parent().expect("a folder").to_path_buf()
}

/// The uid and gid of `osmosis-pg`, created when missing.
fn unprivileged_user() -> (u32, u32) {
    let id = |flag: &str| {
        Command::new("id")
            .args([flag, "osmosis-pg"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .parse::<u32>()
                    .ok()
            })
    };
    if id("-u").is_none() {
        // Another test may create it at the same moment: only the result counts.
        let _ = Command::new("useradd")
            .args(["--system", "--no-create-home", "osmosis-pg"])
            .status();
    }
    (
        id("-u").expect("the user osmosis-pg exists"),
        id("-g").expect("the user osmosis-pg has a group"),
    )
}

/// `osmosis serve` with the test workspace; its log goes to a file (a pipe nobody
/// reads would fill and stall it). Dropping it kills it.
pub struct Node {
    child: Child,
    pub url: String,
    log: PathBuf,
}

impl Node {
    pub async fn start(database: &str, data_dir: &Path, log: &Path) -> Node {
        let port = crate::common::process::free_port();
        let listen = format!("127.0.0.1:{port}");
        let log_file = std::fs::File::create(log).expect("log file");
        let mut cmd = Command::new(binary());
        cmd.args(["serve", "--listen", &listen, "--database", database])
            .args(["--log-format", "json"])
            .env("OSMOSIS_WORKSPACE_KEY", crate::common::WS_KEY)
            .env("OSMOSIS_WORKSPACE_SECRET", crate::common::WS_SECRET)
            .env("OSMOSIS_DATA_DIR", data_dir)
            .env_remove("OSMOSIS_ENCRYPTION_KEY")
            .env_remove("OSMOSIS_ENCRYPTION_KEY_PREVIOUS")
            .env_remove("OSMOSIS_DATABASE_URL")
            .env_remove("OSMOSIS_PUBLIC_URL")
            .env_remove("OSMOSIS_DATABASE_ACQUIRE_TIMEOUT_MS")
            .stdout(Stdio::null())
            .stderr(log_file);
        let mut node = Node {
            child: cmd.spawn().expect("osmosis starts"),
            url: format!("http://{listen}"),
            log: log.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/health", node.url)).await {
                if r.status() == 200 {
                    return node;
                }
            }
            if let Some(status) = node.child.try_wait().unwrap() {
                panic!("osmosis exited early: {status}\n{}", node.log_tail());
            }
            assert!(Instant::now() < deadline, "osmosis never became ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process the test started is still running: it never exited.
    pub fn assert_alive(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("osmosis exited: {status}\n{}", self.log_tail());
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// SIGTERM and wait; true when it exited cleanly.
    pub fn stop(mut self) -> bool {
        crate::common::process::send_signal(self.child.id(), "TERM");
        self.child.wait().is_ok_and(|s| s.success())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One answered (or unanswered) request.
#[derive(Debug, Clone)]
pub struct Sample {
    pub what: &'static str,
    pub started: Instant,
    pub elapsed: Duration,
    /// 0: no answer (the connection failed or the client timed out).
    pub status: u16,
    pub body: Value,
}

impl Sample {
    pub fn finished(&self) -> Instant {
        self.started + self.elapsed
    }
}

/// A request with a bearer token, timed.
pub async fn timed(
    http: &reqwest::Client,
    what: &'static str,
    method: &str,
    url: String,
    token: &str,
    body: Option<Value>,
) -> Sample {
    let started = Instant::now();
    let mut req = http
        .request(method.parse().expect("method"), url)
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let (status, body) = match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        }
        Err(e) => (0, Value::String(e.to_string())),
    };
    Sample {
        what,
        started,
        elapsed: started.elapsed(),
        status,
        body,
    }
}

/// Whether `s` is the `ErrorData` with this status and key, type `internal`.
pub fn is_error(s: &Sample, status: u16, key: &str) -> bool {
    s.status == status
        && s.body["type"] == "internal"
        && s.body["key"] == key
        && s.body["message"].as_str().is_some_and(|m| !m.is_empty())
}

/// The `q`-quantile (0..=1) of `values`, by nearest rank.
pub fn quantile(values: &[Duration], q: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    let mut v = values.to_vec();
    v.sort();
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Every item of a list endpoint, following its cursor; the failed answer when a
/// page fails, or when the cursor runs past [`MAX_LIST_PAGES`] pages.
pub async fn list_all(
    http: &reqwest::Client,
    url: &str,
    token: &str,
) -> Result<Vec<Value>, String> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_LIST_PAGES {
        let mut page_url = format!("{url}?limit=1000");
        if let Some(c) = &cursor {
            page_url.push_str(&format!("&cursor={c}"));
        }
        let s = timed(http, "list", "GET", page_url, token, None).await;
        if s.status != 200 {
            return Err(format!("listing {url}: {} {}", s.status, s.body));
        }
        items.extend(s.body["items"].as_array().cloned().unwrap_or_default());
        match s.body["cursor"].as_str() {
            Some(c) if !c.is_empty() => cursor = Some(c.to_string()),
            _ => return Ok(items),
        }
    }
    Err(format!(
        "listing {url}: a cursor still after {MAX_LIST_PAGES} pages ({} items)",
        items.len()
    ))
}

/// Pages of 1,000 a fault test's listing may take: its writes number some
/// thousands, so this many means a cursor that does not end.
const MAX_LIST_PAGES: usize = 100;
