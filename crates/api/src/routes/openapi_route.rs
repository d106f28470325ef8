use axum::http::header;
use axum::routing::get;
use bytes::Bytes;

use super::Routes;

/// `GET /openapi.json`, public like `/health`. The document is serialised once:
/// axum clones route handlers per connection, so the handler holds only a cheap
/// `Bytes` handle rather than the multi-megabyte JSON tree.
pub fn router() -> Routes {
    let doc = Bytes::from(
        serde_json::to_vec(&crate::openapi::document()).expect("the document serialises"),
    );
    Routes::new().route(
        "/openapi.json",
        get(move || {
            let doc = doc.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], doc) }
        }),
    )
}
