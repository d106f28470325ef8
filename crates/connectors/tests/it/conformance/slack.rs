//! Slack's Web API, as far as the connector uses it. Every error is HTTP 200 with
//! `{"ok": false, "error": …}`: https://api.slack.com/web#evaluating_responses

use std::sync::Arc;

use serde_json::{json, Value};

use super::runner::{Collection, Scopes, Spec};
use super::wire::{ok, Api, Reply, Req};

const TOKEN: &str = "xoxb-conformance-0001";
const CHANNELS_PAGE_2: &str = "dGVhbTpDMDYxRkE1UEI=";
const USERS_PAGE_2: &str = "dXNlcjpVMEc5V0ZYTlo=";

pub fn spec() -> Spec {
    Spec {
        key: "slack",
        api: |scopes: &Scopes| {
            Arc::new(Slack {
                scopes: scopes.clone(),
            })
        },
        credentials: json!({"ok": true, "access_token": TOKEN, "token_type": "bot"}),
        wrong_credentials: json!({"ok": true, "access_token": "xoxb-revoked", "token_type": "bot"}),
        collections: vec![
            // An archived channel is left out (the connector asks `exclude_archived`);
            // the private one is on page 2 (it asks for private channels too).
            Collection::new(
                "channels",
                vec![
                    vec![("C012AB3CD", "general"), ("C061EG9T2", "random")],
                    vec![("C0PRIVATE1", "secret-plans")],
                ],
                ("C012AB3CD", "general"),
            )
            // A private channel: the bot needs `groups:write` to create it.
            .create(
                json!({"name": "launch-team", "isPrivate": true}),
                "C0NEWPRIV1",
            ),
            Collection::new(
                "users",
                vec![
                    vec![("W012A3CDE", "Egon Spengler"), ("W07QCRPA4", "glinda")],
                    vec![("U0G9QF9C6", "Lisa Zhang")],
                ],
                ("W012A3CDE", "Egon Spengler"),
            ),
        ],
    }
}

struct Slack {
    scopes: Scopes,
}

fn fail(error: &str) -> Reply {
    ok(json!({"ok": false, "error": error}))
}

fn channels() -> Vec<Value> {
    vec![
        json!({"id": "C012AB3CD", "name": "general", "is_private": false, "is_archived": false}),
        json!({"id": "C0ARCHIVED", "name": "old-project", "is_private": false, "is_archived": true}),
        json!({"id": "C061EG9T2", "name": "random", "is_private": false, "is_archived": false}),
        json!({"id": "C0PRIVATE1", "name": "secret-plans", "is_private": true, "is_archived": false}),
    ]
}

fn users() -> Vec<Value> {
    vec![
        json!({"id": "W012A3CDE", "name": "spengler", "real_name": "Egon Spengler"}),
        json!({"id": "W07QCRPA4", "name": "glinda"}),
        json!({"id": "U0G9QF9C6", "name": "lisa", "real_name": "Lisa Zhang"}),
    ]
}

impl Slack {
    /// https://api.slack.com/methods (each method's "Required scopes"): a token without
    /// one gets `missing_scope`, naming it.
    fn require(&self, scope: &str) -> Option<Reply> {
        (!self.scopes.contains(scope)).then(|| {
            let provided: Vec<&str> = self.scopes.iter().map(String::as_str).collect();
            ok(json!({"ok": false, "error": "missing_scope", "needed": scope, "provided": provided.join(",")}))
        })
    }

    fn require_for(&self, channel: &Value, public: &str, private: &str) -> Option<Reply> {
        self.require(if channel["is_private"] == true {
            private
        } else {
            public
        })
    }

    /// Two a page, continued by the exact `cursor` the previous page's
    /// `response_metadata.next_cursor` gave, "" on the last page:
    /// https://api.slack.com/apis/pagination
    fn page(req: &Req, items: Vec<Value>, field: &str, next: &str) -> Reply {
        let start = match req.query("cursor").filter(|c| !c.is_empty()) {
            None => 0,
            Some(c) if c == next => 2,
            Some(_) => return fail("invalid_cursor"),
        };
        let more = items.len() > start + 2;
        let chunk: Vec<Value> = items.into_iter().skip(start).take(2).collect();
        ok(json!({"ok": true, field: chunk,
            "response_metadata": {"next_cursor": if more { next } else { "" }}}))
    }

    fn list_channels(&self, req: &Req) -> Reply {
        // https://api.slack.com/methods/conversations.list: `types` defaults to
        // public_channel; archived channels are listed unless `exclude_archived`.
        let types: Vec<&str> = req
            .query("types")
            .unwrap_or("public_channel")
            .split(',')
            .collect();
        for (kind, scope) in [
            ("public_channel", "channels:read"),
            ("private_channel", "groups:read"),
        ] {
            if types.contains(&kind) {
                if let Some(refusal) = self.require(scope) {
                    return refusal;
                }
            }
        }
        let exclude_archived = req.query("exclude_archived") == Some("true");
        let listed: Vec<Value> = channels()
            .into_iter()
            .filter(|c| {
                let kind = if c["is_private"] == true {
                    "private_channel"
                } else {
                    "public_channel"
                };
                types.contains(&kind) && !(exclude_archived && c["is_archived"] == true)
            })
            .collect();
        Self::page(req, listed, "channels", CHANNELS_PAGE_2)
    }

    /// https://api.slack.com/methods/conversations.create: `name` lowercase letters,
    /// numbers, hyphens and underscores, at most 80 characters; `channels:manage` for a
    /// public channel, `groups:write` for a private one.
    fn create_channel(&self, args: &Value) -> Reply {
        let is_private = args["is_private"] == true || args["is_private"] == "true";
        let scope = if is_private {
            "groups:write"
        } else {
            "channels:manage"
        };
        if let Some(refusal) = self.require(scope) {
            return refusal;
        }
        let Some(name) = args["name"].as_str().filter(|n| !n.is_empty()) else {
            return fail("invalid_name_required");
        };
        if name.len() > 80 {
            return fail("invalid_name_maxlength");
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return fail("invalid_name_specials");
        }
        if channels().iter().any(|c| c["name"] == name) {
            return fail("name_taken");
        }
        ok(
            json!({"ok": true, "channel": {"id": "C0NEWPRIV1", "name": name, "is_private": is_private}}),
        )
    }
}

impl Api for Slack {
    fn answer(&self, req: &Req) -> Reply {
        // https://api.slack.com/web#authentication: the token as a Bearer header.
        match req.bearer() {
            Some(TOKEN) => {}
            Some(_) => return fail("invalid_auth"),
            None => return fail("not_authed"),
        }
        // https://api.slack.com/web#methods: arguments come as a query string, a
        // form body or (for methods that write) a JSON body with a JSON content type.
        let mut args: serde_json::Map<String, Value> = req
            .query
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        if req.method == "POST" {
            if let Some(Value::Object(body)) = req.json() {
                args.extend(body);
            } else if let Some(form) = req.form() {
                args.extend(form.into_iter().map(|(k, v)| (k, Value::String(v))));
            } else if !req.body.is_empty() {
                return fail("invalid_form_data");
            }
        }
        let args = Value::Object(args);
        let arg = |name: &str| args[name].as_str().unwrap_or("").to_owned();
        match req.path.as_str() {
            "/api/auth.test" => ok(
                json!({"ok": true, "url": "https://acme.slack.com/", "team": "Acme",
                "user": "osmosis", "team_id": "T12345", "user_id": "U0BOT0001", "bot_id": "B0BOT0001"}),
            ),
            "/api/conversations.list" => self.list_channels(req),
            "/api/conversations.info" => {
                let Some(channel) = channels().into_iter().find(|c| c["id"] == arg("channel"))
                else {
                    return fail("channel_not_found");
                };
                if let Some(refusal) = self.require_for(&channel, "channels:read", "groups:read") {
                    return refusal;
                }
                ok(json!({"ok": true, "channel": channel}))
            }
            "/api/conversations.create" if req.method == "POST" => self.create_channel(&args),
            "/api/users.list" => {
                if let Some(refusal) = self.require("users:read") {
                    return refusal;
                }
                Self::page(req, users(), "members", USERS_PAGE_2)
            }
            "/api/users.info" => {
                if let Some(refusal) = self.require("users:read") {
                    return refusal;
                }
                match users().into_iter().find(|u| u["id"] == arg("user")) {
                    Some(user) => ok(json!({"ok": true, "user": user})),
                    None => fail("user_not_found"),
                }
            }
            _ => fail("unknown_method"),
        }
    }
}
