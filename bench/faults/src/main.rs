//! `osmosis-bench-faults slow-clients`: idle and slowloris clients against a running
//! server while a prober measures `/health` (src/slow_clients.rs); prints the
//! figures as one JSON object. bench/faults/run.sh runs it against the server before
//! and after the connection timeouts and writes BENCHMARKS.md.

mod slow_clients;

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "osmosis-bench-faults")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Idle and slowloris connections plus a /health prober against one server.
    SlowClients {
        /// The server's address (loopback).
        #[arg(long)]
        addr: SocketAddr,
        /// The server's process id, for its RSS.
        #[arg(long)]
        pid: Option<u32>,
        #[arg(long, default_value_t = 10_000)]
        idle: usize,
        #[arg(long, default_value_t = 1_000)]
        slowloris: usize,
        /// The server's header timeout: each socket is given this plus --slack-secs to be closed.
        #[arg(long, default_value_t = 5.0)]
        header_timeout_secs: f64,
        #[arg(long, default_value_t = 3.0)]
        slack_secs: f64,
        /// Attack waves repeat until this many seconds have passed.
        #[arg(long, default_value_t = 15.0)]
        attack_secs: f64,
        #[arg(long, default_value_t = 20)]
        probe_every_ms: u64,
        #[arg(long, default_value_t = 2.0)]
        quiet_secs: f64,
        #[arg(long, default_value_t = 5.0)]
        settle_secs: f64,
        /// Stop opening connections once the server's RSS passes this many MB.
        #[arg(long)]
        rss_ceiling_mb: Option<u64>,
    },
}

#[tokio::main]
async fn main() {
    let Command::SlowClients {
        addr,
        pid,
        idle,
        slowloris,
        header_timeout_secs,
        slack_secs,
        attack_secs,
        probe_every_ms,
        quiet_secs,
        settle_secs,
        rss_ceiling_mb,
    } = Cli::parse().command;
    // Loopback only: this opens thousands of connections.
    assert!(addr.ip().is_loopback(), "--addr must be a loopback address");
    let plan = slow_clients::Plan {
        addr,
        pid,
        idle,
        slowloris,
        header_timeout: Duration::from_secs_f64(header_timeout_secs),
        slack: Duration::from_secs_f64(slack_secs),
        attack_for: Duration::from_secs_f64(attack_secs),
        probe_every: Duration::from_millis(probe_every_ms),
        quiet: Duration::from_secs_f64(quiet_secs),
        settle: Duration::from_secs_f64(settle_secs),
        rss_ceiling_kb: rss_ceiling_mb.map(|mb| mb * 1024),
    };
    let report = slow_clients::run(&plan).await;
    println!("{}", report.to_json(&plan));
}
