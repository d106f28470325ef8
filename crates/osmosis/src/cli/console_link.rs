//! `osmosis console-link`: a one-time link that signs a browser in to a
//! workspace's console, for whoever can run the CLI on the server's database
//! (and so could read the workspace's secret anyway). The link works once and for
//! ten minutes (`osmosis_engine::console_sessions::LINK_TTL_MS`).

use clap::Args;
use osmosis_engine::{Engine, EngineConfig};

use crate::DatabaseArgs;

#[derive(Args)]
pub struct ConsoleLinkArgs {
    /// The workspace's key.
    #[arg(long, value_name = "KEY", env = "OSMOSIS_WORKSPACE_KEY")]
    workspace: String,
    /// The URL browsers reach the server at (the server's own --public-url).
    #[arg(
        long,
        env = "OSMOSIS_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    public_url: String,
    #[command(flatten)]
    database: DatabaseArgs,
}

/// Prints the link, alone on one line.
pub async fn run(args: ConsoleLinkArgs) -> anyhow::Result<()> {
    let stores = args.database.open_existing().await?;
    let engine = Engine::new(
        stores,
        EngineConfig {
            public_url: args.public_url.clone(),
        },
    );
    let opened = engine
        .console_link(&args.workspace)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    println!(
        "{}/console/sign-in/link?token={}",
        args.public_url.trim_end_matches('/'),
        opened.token
    );
    Ok(())
}
