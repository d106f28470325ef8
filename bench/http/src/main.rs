//! `osmosis-bench-http`: the pieces of the HTTP API benchmark (bench/http/run.sh)
//! that are not the server under test — a baseline server on the same router stack,
//! the load generator (a separate process from every server it loads) and a token
//! minter for the JWTs the load carries.

mod baseline;
mod error;
mod flow_run;
mod load;
mod token;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::error::BenchError;

#[derive(Parser)]
#[command(
    name = "osmosis-bench-http",
    about = "HTTP API benchmark tools for Osmosis"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the real Osmosis router plus `/baseline/integration`, which answers
    /// captured integration JSON with no auth and no storage.
    Baseline {
        #[arg(long)]
        listen: SocketAddr,
        /// Folder for the (otherwise unused) SQLite database the real router needs.
        #[arg(long)]
        data_dir: PathBuf,
        /// Response of `GET /baseline/integration`.
        #[arg(long)]
        get_json: PathBuf,
        /// Response of `POST /baseline/integration`.
        #[arg(long)]
        post_json: PathBuf,
    },
    /// Drive one endpoint with N keep-alive clients for a fixed time and print one
    /// JSON line of throughput and latency percentiles.
    Load {
        /// `http://127.0.0.1:PORT/path` (loopback HTTP/1.1 only). Repeat it for
        /// several nodes: the clients are dealt round-robin over the URLs.
        #[arg(long = "url", required_unless_present = "url_file")]
        urls: Vec<String>,
        /// More URLs, one a line (appended to the `--url`s), e.g. one flow start
        /// URL per connection.
        #[arg(long)]
        url_file: Option<PathBuf>,
        #[arg(long, default_value = "GET")]
        method: String,
        /// Sent as `Authorization: Bearer <token>` on every request.
        #[arg(long)]
        token: Option<String>,
        /// POST body; every `{uniq}` becomes a value unique to this request.
        #[arg(long)]
        body: Option<String>,
        #[arg(long)]
        clients: usize,
        /// Seconds of load before measuring starts (connections and caches warm up).
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
        /// Seconds of measured load.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Stop early after this many measured requests.
        #[arg(long, default_value_t = 2_000_000)]
        max_requests: u64,
        /// Each request is a whole flow run: `POST` the body to the URL (a flow's
        /// `/connections/{c}/flows/{f}/run`; answers the run with its `id`), then
        /// `GET` the `--poll` path on the same connection until the run's `state`
        /// is final. Latency is from the POST to the final answer; a run counts
        /// when it `completed`. With several URLs run n goes to URL n mod count.
        /// `--max-requests` caps the runs started after the warm-up.
        #[arg(long)]
        flow_run: bool,
        /// With `--flow-run`: the path polled for a run, `{id}` its id.
        #[arg(long, default_value = "/flow-runs/{id}?wait=30")]
        poll: String,
        /// Count a request (a run) when its answer arrives in the measured time,
        /// whenever it was sent; by default only requests sent after the warm-up
        /// count, which undercounts a server whose latency nears the duration.
        #[arg(long)]
        by_completion: bool,
    },
    /// Print an HS256 JWT as the SDK mints them (expires in an hour).
    Token {
        /// Workspace key (`iss`).
        #[arg(long)]
        key: String,
        /// Workspace secret the token is signed with.
        #[arg(long)]
        secret: String,
        /// Customer id (`id`); without it the token is an admin token.
        #[arg(long)]
        customer: Option<String>,
        /// Customer name (`name`).
        #[arg(long)]
        name: Option<String>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("osmosis-bench-http: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), BenchError> {
    match command {
        Command::Baseline {
            listen,
            data_dir,
            get_json,
            post_json,
        } => {
            let responses = baseline::Responses::read(&get_json, &post_json)?;
            // The same runtime `#[tokio::main]` gives `osmosis serve`: multi-threaded,
            // one worker per core.
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(BenchError::Runtime)?
                .block_on(baseline::serve(listen, &data_dir, responses))
        }
        Command::Load {
            mut urls,
            url_file,
            method,
            token,
            body,
            clients,
            warmup,
            duration,
            max_requests,
            flow_run,
            poll,
            by_completion,
        } => {
            if let Some(path) = url_file {
                let text = std::fs::read_to_string(&path)
                    .map_err(|source| BenchError::ReadFile { path, source })?;
                urls.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(String::from),
                );
            }
            if flow_run {
                return flow_runs(
                    &urls,
                    poll,
                    token,
                    body,
                    (clients, warmup, duration),
                    max_requests,
                    by_completion,
                );
            }
            let plan = load::Plan::new(
                &urls,
                &method,
                token,
                body,
                clients,
                secs(warmup)?,
                secs(duration)?,
                max_requests,
            )?
            .by_completion(by_completion);
            // One thread: the generator takes at most one of the machine's cores.
            let report = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(BenchError::Runtime)?
                .block_on(load::run(plan))?;
            println!("{}", report.to_json());
            if report.failures > 0 {
                return Err(BenchError::FailedRequests {
                    failures: report.failures,
                    sample: report.failure_sample.unwrap_or_default(),
                });
            }
            Ok(())
        }
        Command::Token {
            key,
            secret,
            customer,
            name,
        } => {
            println!(
                "{}",
                token::mint(&key, &secret, customer.as_deref(), name.as_deref())?
            );
            Ok(())
        }
    }
}

/// `load --flow-run`: prints the report's JSON line; fails when any run failed.
#[allow(clippy::too_many_arguments)]
fn flow_runs(
    urls: &[String],
    poll: String,
    token: Option<String>,
    body: Option<String>,
    (clients, warmup, duration): (usize, f64, f64),
    max_runs: u64,
    by_completion: bool,
) -> Result<(), BenchError> {
    let plan = flow_run::FlowPlan::new(
        urls,
        poll,
        token,
        body,
        clients,
        secs(warmup)?,
        secs(duration)?,
        max_runs,
    )?
    .by_completion(by_completion);
    let report = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(BenchError::Runtime)?
        .block_on(flow_run::run(plan))?;
    println!("{}", report.to_json());
    if report.failures() > 0 {
        return Err(BenchError::FailedRuns {
            failures: report.failures(),
            sample: report.failure_sample.clone().unwrap_or_default(),
        });
    }
    Ok(())
}

fn secs(s: f64) -> Result<Duration, BenchError> {
    Duration::try_from_secs_f64(s).map_err(|_| BenchError::BadDuration(s))
}
