//! `osmosis-bench-proxy upstream`: the external API of the proxy benchmark
//! (bench/proxy/run.sh). `GET /item` answers a fixed ~1 KB JSON body when the request
//! carries `Authorization: Bearer <key>` (the load generator's `--token` when called
//! directly; the connection's `makeApiClient` header when called through Osmosis),
//! else 401. Same multi-threaded tokio/axum stack as the server, no work per request.
//!
//! `GET /records?cursor=N` (same key check; bench/actions/run.sh) answers one page of
//! a fixed collection of [`RECORDS`] records: `{"items": [...], "next": "N+100"}`, the
//! [`PAGE`] records from offset N (`cursor` absent means 0), `next` absent on the last
//! page; a cursor that is not a multiple of [`PAGE`] below [`RECORDS`] is a 400. Each
//! record has 20 fields, `id` and the 19 of [`record`], deterministic. Every page is
//! rendered once at start, so a request still costs only a lookup.

use std::net::SocketAddr;

use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "osmosis-bench-proxy")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the mock external API.
    Upstream {
        #[arg(long)]
        listen: SocketAddr,
        /// The API key callers must send as a bearer token.
        #[arg(long)]
        key: String,
    },
}

fn item_body() -> String {
    let fields: Vec<String> = (0..24)
        .map(|i| format!("\"field{i:02}\":\"value {i:02} of the benchmark item\""))
        .collect();
    format!("{{\"id\":\"item-1\",{}}}", fields.join(","))
}

/// How many records `/records` serves, and how many a page holds.
const RECORDS: usize = 10_000;
const PAGE: usize = 100;

const FIRST: [&str; 8] = [
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Radia",
];
const LAST: [&str; 7] = [
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Perlman",
];
const CITIES: [(&str, &str); 5] = [
    ("London", "GB"),
    ("Berlin", "DE"),
    ("Paris", "FR"),
    ("Lisbon", "PT"),
    ("Austin", "US"),
];

/// Record `i` (0-based) as the API's JSON: `id` and 19 more fields (strings and one
/// number), none needing escapes.
fn record(i: usize) -> String {
    let (first, last) = (FIRST[i % FIRST.len()], LAST[(i * 3) % LAST.len()]);
    let (city, country) = CITIES[i % CITIES.len()];
    let lower = |s: &str| s.to_lowercase();
    format!(
        concat!(
            "{{\"id\":\"rec-{i}\",\"first_name\":\"{first}\",\"last_name\":\"{last}\",",
            "\"email\":\"{fl}.{ll}.{i}@example.com\",\"phone\":\"+1-555-{phone:04}\",",
            "\"company\":\"Company {company}\",\"title\":\"{title}\",",
            "\"street\":\"{street} Main Street\",\"city\":\"{city}\",\"zip\":\"{zip:05}\",",
            "\"country\":\"{country}\",\"website\":\"https://{fl}.example.com/{i}\",",
            "\"source\":\"{source}\",\"status\":\"{status}\",\"owner\":\"u-{owner}\",",
            "\"language\":\"{language}\",\"timezone\":\"UTC+{tz}\",\"score\":{score},",
            "\"created_at\":\"2024-{month:02}-{day:02}T10:00:00Z\",",
            "\"updated_at\":\"2025-{month:02}-{day:02}T12:30:00Z\"}}"
        ),
        i = i,
        first = first,
        last = last,
        fl = lower(first),
        ll = lower(last),
        phone = i % 10_000,
        company = i % 97,
        title = ["Engineer", "Manager", "Director", "Analyst"][i % 4],
        street = 1 + i % 999,
        city = city,
        zip = (i * 37) % 100_000,
        country = country,
        source = ["web", "referral", "event", "import"][i % 4],
        status = ["lead", "customer", "churned"][i % 3],
        owner = 1 + i % 4,
        language = ["en", "de", "fr", "pt"][i % 4],
        tz = i % 12,
        score = (i * 37) % 100,
        month = 1 + i % 12,
        day = 1 + i % 28,
    )
}

/// Every page of `/records`, by its offset / [`PAGE`].
fn record_pages() -> Vec<String> {
    (0..RECORDS)
        .step_by(PAGE)
        .map(|from| {
            let items: Vec<String> = (from..from + PAGE).map(record).collect();
            let next = from + PAGE;
            if next < RECORDS {
                format!("{{\"items\":[{}],\"next\":\"{next}\"}}", items.join(","))
            } else {
                format!("{{\"items\":[{}]}}", items.join(","))
            }
        })
        .collect()
}

/// The page `cursor` of the query names, if it names one.
fn page_of(uri: &Uri) -> Option<usize> {
    let cursor = uri
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("cursor="))
        .filter(|c| !c.is_empty())
        .unwrap_or("0");
    let from: usize = cursor.parse().ok()?;
    (from < RECORDS && from.is_multiple_of(PAGE)).then_some(from / PAGE)
}

#[tokio::main]
async fn main() {
    let Command::Upstream { listen, key } = Cli::parse().command;
    let expected = format!("Bearer {key}");
    let body: &'static str = Box::leak(item_body().into_boxed_str());
    let pages: &'static [String] = Box::leak(record_pages().into_boxed_slice());
    let expected: &'static str = Box::leak(expected.into_boxed_str());
    let authorized = move |headers: &HeaderMap| {
        headers
            .get(header::AUTHORIZATION)
            .is_some_and(|v| v.as_bytes() == expected.as_bytes())
    };
    let app = Router::new()
        .route(
            "/item",
            get(move |headers: HeaderMap| async move {
                if authorized(&headers) {
                    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
                } else {
                    (StatusCode::UNAUTHORIZED, "bad key").into_response()
                }
            }),
        )
        .route(
            "/records",
            get(move |headers: HeaderMap, uri: Uri| async move {
                if !authorized(&headers) {
                    return (StatusCode::UNAUTHORIZED, "bad key").into_response();
                }
                match page_of(&uri) {
                    Some(page) => (
                        [(header::CONTENT_TYPE, "application/json")],
                        pages[page].as_str(),
                    )
                        .into_response(),
                    None => (StatusCode::BAD_REQUEST, "bad cursor").into_response(),
                }
            }),
        )
        .route("/health", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .expect("cannot listen");
    axum::serve(listener, app).await.expect("serve");
}
