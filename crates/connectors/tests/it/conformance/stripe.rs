//! Stripe's API (customers, invoices), as far as the connector uses it.

use std::sync::Arc;

use serde_json::{json, Value};

use super::runner::{Collection, Scopes, Spec};
use super::wire::{ok, status, Api, Reply, Req};

/// A secret key: every right.
pub const SECRET_KEY: &str = "sk_test_conformance0001";
/// A restricted key with read and write on customers and invoices only — what a
/// cautious user creates for an integration: https://docs.stripe.com/keys#limit-access
pub const RESTRICTED_KEY: &str = "rk_test_conformance0001";

pub fn spec() -> Spec {
    Spec {
        key: "stripe",
        api: |_: &Scopes| Arc::new(Stripe),
        credentials: json!({"apiKey": RESTRICTED_KEY}),
        wrong_credentials: json!({"apiKey": "sk_test_revoked0000"}),
        collections: vec![
            Collection::new(
                "customers",
                vec![
                    vec![("cus_NffrFeUfNV2Hib", "Jenny Rosen"), ("cus_2", "j@example.com")],
                    vec![("cus_3", "cus_3")],
                ],
                ("cus_NffrFeUfNV2Hib", "Jenny Rosen"),
            )
            .create(json!({"name": "Ada Lovelace", "email": "ada@example.com"}), "cus_NewConformance"),
            Collection::new(
                "invoices",
                vec![
                    vec![("in_1", "ABC-0001"), ("in_2", "in_2")],
                    vec![("in_3", "ABC-0003")],
                ],
                ("in_1", "ABC-0001"),
            )
            .create(
                json!({"customer": "cus_2", "collectionMethod": "send_invoice", "daysUntilDue": 30}),
                "in_NewConformance",
            ),
        ],
    }
}

struct Stripe;

/// A key as Stripe's error messages show it: the prefix and the last four characters.
fn masked(key: &str) -> String {
    let prefix = key.get(..8).unwrap_or(key);
    let last = key.get(key.len().saturating_sub(4)..).unwrap_or("");
    format!("{prefix}****{last}")
}

/// https://docs.stripe.com/api/errors: `{"error": {type, message, code?, param?}}`.
fn error(code: u16, message: &str, extra: Value) -> Reply {
    let mut error = json!({"type": "invalid_request_error", "message": message});
    if let (Some(error), Some(extra)) = (error.as_object_mut(), extra.as_object()) {
        error.extend(extra.clone());
    }
    status(code, json!({ "error": error }))
}

fn customers() -> Vec<Value> {
    vec![
        json!({"id": "cus_NffrFeUfNV2Hib", "object": "customer", "name": "Jenny Rosen", "email": "jenny.rosen@example.com"}),
        json!({"id": "cus_2", "object": "customer", "name": null, "email": "j@example.com"}),
        json!({"id": "cus_3", "object": "customer", "name": null, "email": null}),
    ]
}

fn invoices() -> Vec<Value> {
    vec![
        json!({"id": "in_1", "object": "invoice", "number": "ABC-0001", "status": "open", "customer": "cus_NffrFeUfNV2Hib"}),
        json!({"id": "in_2", "object": "invoice", "number": null, "status": "draft", "customer": "cus_2"}),
        json!({"id": "in_3", "object": "invoice", "number": "ABC-0003", "status": "paid", "customer": "cus_2"}),
    ]
}

/// The parameters each call takes; anything else is `parameter_unknown`:
/// https://docs.stripe.com/error-codes#parameter-unknown
fn unknown_parameter<'a>(pairs: &'a [(String, String)], known: &[&str]) -> Option<&'a str> {
    pairs
        .iter()
        .map(|(name, _)| name.split('[').next().unwrap_or(name))
        .find(|name| !known.contains(name))
}

/// https://docs.stripe.com/api/pagination: `limit` 1 to 100; the next page starts
/// after the id `starting_after` names; `has_more` says whether there is one.
fn list(req: &Req, items: Vec<Value>, url: &str, extra: &[&str]) -> Reply {
    let known = [
        &["limit", "starting_after", "ending_before", "expand"],
        extra,
    ]
    .concat();
    if let Some(name) = unknown_parameter(&req.query, &known) {
        return error(
            400,
            &format!("Received unknown parameter: {name}"),
            json!({"code": "parameter_unknown", "param": name}),
        );
    }
    let limit = match req.query("limit").map(str::parse::<usize>) {
        None => 10,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            return error(
                400,
                "Invalid integer: limit must be between 1 and 100",
                json!({"code": "parameter_invalid_integer", "param": "limit"}),
            )
        }
    };
    let start = match req.query("starting_after") {
        None => 0,
        Some(id) => match items.iter().position(|i| i["id"] == id) {
            Some(p) => p + 1,
            None => {
                let kind = url.trim_start_matches("/v1/").trim_end_matches('s');
                return error(
                    400,
                    &format!("No such {kind}: '{id}'"),
                    json!({"code": "resource_missing", "param": "starting_after"}),
                );
            }
        },
    };
    // Two a page here, however large the limit.
    let size = limit.min(2);
    let data: Vec<Value> = items.iter().skip(start).take(size).cloned().collect();
    let has_more = start + size < items.len();
    ok(json!({"object": "list", "url": url, "has_more": has_more, "data": data}))
}

fn find(req: &Req, items: Vec<Value>, kind: &str) -> Reply {
    let id = req.segment(3);
    match items.into_iter().find(|i| i["id"] == id.as_str()) {
        Some(item) => ok(item),
        None => error(
            404,
            &format!("No such {kind}: '{id}'"),
            json!({"code": "resource_missing", "param": "id"}),
        ),
    }
}

impl Api for Stripe {
    fn answer(&self, req: &Req) -> Reply {
        // https://docs.stripe.com/api/authentication: the key as a Bearer token (or
        // as the Basic user name).
        let key = match req.bearer() {
            Some(key) if !key.is_empty() => key,
            _ => return error(401, "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.", json!({})),
        };
        if key != SECRET_KEY && key != RESTRICTED_KEY {
            return error(
                401,
                &format!("Invalid API Key provided: {}", masked(key)),
                json!({}),
            );
        }
        // https://docs.stripe.com/api: "The Stripe API […] accepts form-encoded request
        // bodies"; a JSON body is not read as parameters.
        let form = if req.method == "POST" {
            match req.form() {
                Some(form) => form,
                None => return error(400, "Invalid request (check that your POST content type is application/x-www-form-urlencoded). If you have any questions, we can help at https://support.stripe.com/.", json!({})),
            }
        } else {
            Vec::new()
        };
        let value = |name: &str| {
            form.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        if req.is("GET", "/v1/balance") {
            // https://docs.stripe.com/api/errors: 403 when the key lacks the permission.
            if key == RESTRICTED_KEY {
                return error(403, &format!("The provided key '{}' does not have the required permissions for this endpoint on account 'acct_1Conformance'. Having the 'rak_balance_read' permission would allow this request to continue.", masked(key)), json!({}));
            }
            return ok(
                json!({"object": "balance", "available": [{"amount": 0, "currency": "usd"}], "livemode": false}),
            );
        }
        if req.is("GET", "/v1/customers") {
            return list(
                req,
                customers(),
                "/v1/customers",
                &["email", "created", "test_clock"],
            );
        }
        if req.is("GET", "/v1/customers/*") {
            return find(req, customers(), "customer");
        }
        if req.is("GET", "/v1/invoices") {
            return list(
                req,
                invoices(),
                "/v1/invoices",
                &[
                    "customer",
                    "status",
                    "subscription",
                    "collection_method",
                    "created",
                    "due_date",
                ],
            );
        }
        if req.is("GET", "/v1/invoices/*") {
            return find(req, invoices(), "invoice");
        }
        // https://docs.stripe.com/api/customers/create
        if req.is("POST", "/v1/customers") {
            if let Some(name) = unknown_parameter(
                &form,
                &[
                    "name",
                    "email",
                    "phone",
                    "description",
                    "address",
                    "metadata",
                    "shipping",
                    "payment_method",
                    "invoice_settings",
                    "preferred_locales",
                    "tax_exempt",
                ],
            ) {
                return error(
                    400,
                    &format!("Received unknown parameter: {name}"),
                    json!({"code": "parameter_unknown", "param": name}),
                );
            }
            return ok(
                json!({"id": "cus_NewConformance", "object": "customer", "name": value("name"), "email": value("email")}),
            );
        }
        // https://docs.stripe.com/api/invoices/create: `days_until_due` only with
        // `collection_method=send_invoice`.
        if req.is("POST", "/v1/invoices") {
            if let Some(name) = unknown_parameter(
                &form,
                &[
                    "customer",
                    "description",
                    "collection_method",
                    "days_until_due",
                    "due_date",
                    "auto_advance",
                    "metadata",
                    "currency",
                    "subscription",
                ],
            ) {
                return error(
                    400,
                    &format!("Received unknown parameter: {name}"),
                    json!({"code": "parameter_unknown", "param": name}),
                );
            }
            let Some(customer) = value("customer") else {
                return error(
                    400,
                    "Missing required param: customer.",
                    json!({"code": "parameter_missing", "param": "customer"}),
                );
            };
            if !customers().iter().any(|c| c["id"] == customer) {
                return error(
                    400,
                    &format!("No such customer: '{customer}'"),
                    json!({"code": "resource_missing", "param": "customer"}),
                );
            }
            if value("days_until_due").is_some()
                && value("collection_method") != Some("send_invoice")
            {
                return error(
                    400,
                    "You can only set `days_until_due` if `collection_method` is `send_invoice`.",
                    json!({"param": "days_until_due"}),
                );
            }
            return ok(
                json!({"id": "in_NewConformance", "object": "invoice", "status": "draft", "customer": customer}),
            );
        }
        error(
            404,
            &format!("Unrecognized request URL ({} {}).", req.method, req.path),
            json!({}),
        )
    }
}
