//! `osmosis-bench-http`: the pieces of the HTTP API benchmark (bench/http/run.sh)
//! that are not the server under test — a baseline server on the same router stack,
//! the load generator (a separate process from every server it loads) and a token
//! minter for the JWTs the load carries.

mod baseline;
mod error;
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
        #[arg(long = "url", required = true)]
        urls: Vec<String>,
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
            urls,
            method,
            token,
            body,
            clients,
            warmup,
            duration,
            max_requests,
        } => {
            let plan = load::Plan::new(
                &urls,
                &method,
                token,
                body,
                clients,
                secs(warmup)?,
                secs(duration)?,
                max_requests,
            )?;
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

fn secs(s: f64) -> Result<Duration, BenchError> {
    Duration::try_from_secs_f64(s).map_err(|_| BenchError::BadDuration(s))
}
