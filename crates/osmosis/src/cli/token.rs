//! `osmosis token`: an access token for a workspace, as the SDK's backend mints
//! them (crates/api/src/auth.rs verifies them): HS256 over `iss` (the workspace
//! key), `iat`, `exp`, and either `isAdmin: true` or the customer's `id` with an
//! optional `name` and `fields`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{ArgGroup, Args};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Map, Value};

use crate::DatabaseArgs;

const KEY_VAR: &str = "OSMOSIS_WORKSPACE_KEY";
const SECRET_VAR: &str = "OSMOSIS_WORKSPACE_SECRET";

#[derive(Args)]
#[command(group(ArgGroup::new("who").required(true).args(["admin", "customer"])))]
pub struct TokenArgs {
    /// The workspace's key (the token's `iss`).
    #[arg(long, value_name = "KEY", env = KEY_VAR)]
    workspace: String,
    /// An admin token: the whole workspace, no customer.
    #[arg(long)]
    admin: bool,
    /// A customer's token: the customer's id in your product (its `id` claim).
    /// The customer is created on its first request.
    #[arg(long, value_name = "ID")]
    customer: Option<String>,
    /// The customer's name (its `name` claim).
    #[arg(long, requires = "customer", conflicts_with = "admin")]
    name: Option<String>,
    /// The customer's fields, a JSON object (its `fields` claim).
    #[arg(
        long,
        value_name = "JSON",
        requires = "customer",
        conflicts_with = "admin",
        value_parser = parse_fields
    )]
    fields: Option<Map<String, Value>>,
    /// How long the token is valid: seconds (`90`) or a number with `s`, `m`, `h`
    /// or `d` (`30m`, `1h`, `7d`).
    #[arg(long, default_value = "1h", value_parser = parse_ttl)]
    ttl: Duration,
    #[command(flatten)]
    database: DatabaseArgs,
}

/// `30m`, `1h`, `7d`, `45s` or plain seconds; not zero.
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => {
            return Err(format!(
                "unknown unit `{unit}`: use s, m, h or d (`30m`, `1h`, `7d`)"
            ))
        }
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: use seconds or `30m`, `1h`, `7d`"))?;
    match n.checked_mul(scale) {
        Some(0) => Err("the token must be valid for at least a second".into()),
        Some(secs) => Ok(Duration::from_secs(secs)),
        None => Err(format!("`{text}` is too long")),
    }
}

fn parse_fields(text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("the fields must be a JSON object".into()),
        Err(e) => Err(format!("not JSON: {e}")),
    }
}

/// Prints the token, alone on one line.
pub async fn run(args: TokenArgs) -> anyhow::Result<()> {
    let secret = secret_for(&args.workspace, &args.database).await?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock is before 1970")?
        .as_secs();
    let mut claims = json!({
        "iss": args.workspace,
        "iat": now,
        "exp": now.saturating_add(args.ttl.as_secs()),
    });
    match &args.customer {
        Some(id) => {
            claims["id"] = json!(id);
            if let Some(name) = &args.name {
                claims["name"] = json!(name);
            }
            if let Some(fields) = &args.fields {
                claims["fields"] = Value::Object(fields.clone());
            }
        }
        None => claims["isAdmin"] = json!(true),
    }
    println!("{}", sign(&claims, &secret)?);
    Ok(())
}

/// An admin token of the workspace `key`, valid for `ttl`: what `osmosis pull`
/// and `osmosis push` send.
pub fn admin_token(key: &str, secret: &str, ttl: Duration) -> anyhow::Result<String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock is before 1970")?
        .as_secs();
    let claims = json!({
        "iss": key,
        "iat": now,
        "exp": now.saturating_add(ttl.as_secs()),
        "isAdmin": true,
    });
    sign(&claims, secret)
}

/// The claims signed with the workspace's secret (HS256).
fn sign(claims: &Value, secret: &str) -> anyhow::Result<String> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .context("signing the token")
}

/// The workspace's secret: `OSMOSIS_WORKSPACE_SECRET` when it is set and
/// `OSMOSIS_WORKSPACE_KEY` is unset or names this workspace; else the database's.
async fn secret_for(key: &str, database: &DatabaseArgs) -> anyhow::Result<String> {
    let env = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    if let Some(secret) = env(SECRET_VAR) {
        if env(KEY_VAR).is_none_or(|k| k == key) {
            return Ok(secret);
        }
    }
    let stores = database.open_existing().await?;
    let workspace = stores
        .workspaces
        .workspace_by_key(key)
        .await
        .context("reading the workspace")?;
    match workspace {
        Some(ws) => Ok(ws.secret),
        None => anyhow::bail!(
            "no workspace `{key}` in {} (see `osmosis workspace list`)",
            database.describe()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("45s"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_ttl("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_ttl("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_ttl("7d"), Ok(Duration::from_secs(7 * 86_400)));
        for bad in ["", "0", "0h", "h", "1w", "1.5h", "-1", "1 h"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }
}
