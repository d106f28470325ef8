//! The real `osmosis` binary as a child process: `serve` on a free port, waiting
//! for readiness, stopping it with a signal.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_osmosis");

/// Variables a child must not inherit from the test's environment: each test
/// says its own.
const OWN_VARS: [&str; 5] = [
    "OSMOSIS_ENCRYPTION_KEY",
    "OSMOSIS_ENCRYPTION_KEY_PREVIOUS",
    "OSMOSIS_DATA_DIR",
    "OSMOSIS_DATABASE_URL",
    "OSMOSIS_PUBLIC_URL",
];

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `osmosis <args>` with only the given `OSMOSIS_*` settings, and outbound calls
/// allowed to this machine, where the tests' mock APIs listen.
pub fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for k in OWN_VARS {
        cmd.env_remove(k);
    }
    cmd.env("OSMOSIS_OUTBOUND_ALLOW", "127.0.0.0/8,::1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

pub struct Running {
    pub child: std::process::Child,
    pub url: String,
    /// Threads reading the child's stdout and stderr as it writes them: a server that
    /// logs more than a pipe holds (64 KB) before the test reads would otherwise block
    /// on its next log line.
    output: Option<(Drain, Drain)>,
}

type Drain = std::thread::JoinHandle<String>;

fn drain(mut from: impl std::io::Read + Send + 'static) -> Drain {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = from.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

impl Running {
    pub fn start(database_url: &str, port: u16, extra_env: &[(&str, &str)]) -> Running {
        Running::serve(&["--database", database_url], port, extra_env)
    }

    /// `serve` with the test workspace on the embedded database of `data_dir`,
    /// as the README's command runs it (no `--database`).
    pub fn start_in(data_dir: &std::path::Path, port: u16) -> Running {
        Running::serve(
            &["--data-dir", data_dir.to_str().expect("a UTF-8 path")],
            port,
            &[
                ("OSMOSIS_WORKSPACE_KEY", super::WS_KEY),
                ("OSMOSIS_WORKSPACE_SECRET", super::WS_SECRET),
            ],
        )
    }

    /// `serve --listen 127.0.0.1:<port> <args> --log-format json`, its output read
    /// as it comes.
    fn serve(args: &[&str], port: u16, env: &[(&str, &str)]) -> Running {
        let listen = format!("127.0.0.1:{port}");
        let mut all = vec!["serve", "--listen", &listen];
        all.extend_from_slice(args);
        all.extend(["--log-format", "json"]);
        let mut child = command(&all, env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("osmosis starts");
        let output = Some((
            drain(child.stdout.take().expect("piped stdout")),
            drain(child.stderr.take().expect("piped stderr")),
        ));
        Running {
            child,
            url: format!("http://{listen}"),
            output,
        }
    }

    pub async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/health", self.url)).await {
                if r.status() == 200 {
                    return;
                }
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("osmosis exited early: {status}");
            }
            assert!(Instant::now() < deadline, "osmosis never became ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts `serve` with the test workspace, `dir` as its data dir, and
    /// `more_env`; waits until it is ready.
    pub async fn serve_workspace(
        database_url: &str,
        port: u16,
        dir: &std::path::Path,
        more_env: &[(&str, &str)],
    ) -> Running {
        let mut env = vec![
            ("OSMOSIS_WORKSPACE_KEY", super::WS_KEY),
            ("OSMOSIS_WORKSPACE_SECRET", super::WS_SECRET),
            ("OSMOSIS_DATA_DIR", dir.to_str().expect("a UTF-8 path")),
        ];
        env.extend_from_slice(more_env);
        let mut running = Running::start(database_url, port, &env);
        running.wait_ready().await;
        running
    }

    /// A JSON request with a bearer token: the status and the body (JSON, else text).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = reqwest::Client::new()
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("answered");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }

    /// Every item of the list at `path` (with a query string), oldest first, as
    /// admin, through [`super::list_pages`] (at most 1,000 pages).
    pub async fn all_items(&self, path: &str) -> Vec<serde_json::Value> {
        let url = format!("{}{path}&sortOrder=asc", self.url);
        let http = reqwest::Client::new();
        let pages = super::list_pages(&http, &url, &super::admin_token(), 1_000).await;
        super::items_of(&pages)
    }

    /// Creates as admin and returns the element, failing the test on an error.
    pub async fn create(&self, plural: &str, body: serde_json::Value) -> serde_json::Value {
        let (status, v) = self
            .call(
                "POST",
                &format!("/{plural}"),
                &super::admin_token(),
                Some(body),
            )
            .await;
        assert_eq!(status, 200, "create {plural}: {v}");
        v
    }

    /// SIGTERM and a clean exit.
    pub fn stop(self) {
        let (status, _, err) = self.terminate();
        assert!(status.success(), "exit {status}; stderr: {err}");
    }

    /// SIGTERM: drains, then exits.
    pub fn terminate(self) -> (std::process::ExitStatus, String, String) {
        send_signal(self.child.id(), "TERM");
        self.wait_output()
    }

    /// SIGKILL: gone at once, whatever it was doing.
    pub fn kill(self) -> std::process::ExitStatus {
        send_signal(self.child.id(), "KILL");
        self.wait_output().0
    }

    pub fn wait_output(mut self) -> (std::process::ExitStatus, String, String) {
        let status = self.child.wait().unwrap();
        let (out, err) = self.output.take().expect("output read once");
        (
            status,
            out.join().expect("stdout reader"),
            err.join().expect("stderr reader"),
        )
    }
}

/// A server not stopped by the test (it failed midway) is killed rather than left
/// running, holding its port and, in the fault tests, thousands of sockets.
impl Drop for Running {
    fn drop(&mut self) {
        if self.output.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn send_signal(pid: u32, signal: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{signal} {pid}");
}
