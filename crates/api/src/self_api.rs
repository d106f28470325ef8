//! The router as the engine's [`SelfApi`]: requests made in process by code running
//! for a customer go through the very routes (and token check) outside requests do.

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{header, Request};
use axum::Router;
use osmosis_engine::self_api::SelfApi;
use serde_json::Value;
use tower::ServiceExt;

use crate::routes::MAX_BODY_BYTES;

pub(crate) struct RouterApi(pub(crate) Router);

#[async_trait]
impl SelfApi for RouterApi {
    async fn call(
        &self,
        method: &str,
        path_and_query: &str,
        token: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        let mut request = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        let body = match body {
            Some(v) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let request = request.body(body).map_err(|e| e.to_string())?;
        let response = match self.0.clone().oneshot(request).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|e| e.to_string())?;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok((status, value))
    }
}
