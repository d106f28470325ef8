//! Proof that the mocks' rules bite: a shipped connector with one thing broken — the
//! way a careless edit would break it — run through the same check, must fail the
//! case that rule guards, for the rule's reason. A rule no broken connector can trip
//! would be a test that cannot fail.
//!
//! The five rules the fixes on main were made for (GitHub pull requests, Jira's
//! bounded JQL, Intercom's company scroll, Stripe's restricted key, Slack's
//! `groups:write`) are checked here against the connector as it was before its fix,
//! so they keep biting once the shipped connector passes.

use osmosis_connectors::http::{AllowList, OutboundClient};
use serde_json::{json, Value};

use super::runner::{check, shipped, Report, Spec};
use super::wire::Req;
use super::{
    github, google_sheets, hubspot, intercom, jira, linear, notion, salesforce, slack, stripe,
    zendesk,
};

/// The shipped connector of `spec` with `edit` applied, on the engine's client.
async fn broken(spec: &Spec, edit: impl FnOnce(&mut Value)) -> Report {
    let mut connector = shipped(spec.key);
    edit(&mut connector);
    check(spec, &connector, crate::mock::outbound()).await
}

fn at<'a>(connector: &'a mut Value, pointer: &str) -> &'a mut Value {
    connector
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in the connector"))
}

/// Asserts `case` failed with `reason` in its message.
fn fails(report: &Report, case: &str, reason: &str) {
    let failure = report
        .failure(case)
        .unwrap_or_else(|| panic!("`{case}` passed with the connector broken\n{report}"));
    assert!(
        failure.contains(reason),
        "`{case}` failed, but not for `{reason}`: {failure}"
    );
}

fn rest(path: &str, method: &str, request: Value, response: Value) -> Value {
    json!({"type": "rest-api-mapping", "mapping": {
        "path": path, "method": method, "requestMapping": request, "responseMapping": response}})
}

// ---------------------------------------------------------------------------
// Auth placement and required headers.

#[tokio::test]
async fn github_refuses_a_client_without_a_user_agent() {
    let spec = github::spec();
    let connector = shipped("github");
    let anonymous = OutboundClient::without_user_agent(AllowList::loopback());
    let report = check(&spec, &connector, anonymous).await;
    fails(&report, "test", "User-Agent header");
    fails(&report, "repositories: list", "403");
}

#[tokio::test]
async fn notion_refuses_a_request_without_notion_version() {
    let report = broken(&notion::spec(), |c| {
        at(c, "/makeApiClient/mapping/headers")
            .as_object_mut()
            .unwrap()
            .remove("Notion-Version");
    })
    .await;
    fails(&report, "test", "missing_version");
}

#[tokio::test]
async fn intercom_refuses_a_request_without_accept_json() {
    let report = broken(&intercom::spec(), |c| {
        at(c, "/makeApiClient/mapping/headers")
            .as_object_mut()
            .unwrap()
            .remove("Accept");
    })
    .await;
    fails(&report, "test", "406");
}

#[tokio::test]
async fn hubspot_refuses_the_token_in_the_query_string() {
    let report = broken(&hubspot::spec(), |c| {
        let client = at(c, "/makeApiClient/mapping");
        let token = client["headers"]["Authorization"]["$tpl"]["values"]["token"].clone();
        client["headers"]
            .as_object_mut()
            .unwrap()
            .remove("Authorization");
        client["query"] = json!({ "access_token": token });
    })
    .await;
    fails(&report, "test", "INVALID_AUTHENTICATION");
}

// ---------------------------------------------------------------------------
// Body encoding.

#[tokio::test]
async fn stripe_refuses_a_json_body() {
    let report = broken(&stripe::spec(), |c| {
        at(c, "/data/customers/methods/create/mapping/requestMapping")
            .as_object_mut()
            .unwrap()
            .remove("headers");
    })
    .await;
    fails(
        &report,
        "customers: create",
        "application/x-www-form-urlencoded",
    );
}

#[tokio::test]
async fn jira_refuses_a_plain_text_description() {
    let report = broken(&jira::spec(), |c| {
        at(
            c,
            "/data/issues/methods/create/mapping/requestMapping/data/fields",
        )["description"] = json!({"$var": "$.fields.description"});
    })
    .await;
    fails(&report, "issues: create", "Atlassian Document");
}

// ---------------------------------------------------------------------------
// Cursors: sent where the API does not read them, the API answers page 1 again.

#[tokio::test]
async fn slack_reads_the_cursor_from_cursor_only() {
    let report = broken(&slack::spec(), |c| {
        let query = at(c, "/data/users/methods/list/mapping/requestMapping/query");
        let cursor = query.as_object_mut().unwrap().remove("cursor").unwrap();
        query["next_cursor"] = cursor;
    })
    .await;
    fails(&report, "users: list", "answered page 1 again");
}

#[tokio::test]
async fn hubspot_reads_the_cursor_from_after_only() {
    let report = broken(&hubspot::spec(), |c| {
        let query = at(
            c,
            "/data/contacts/methods/list/mapping/requestMapping/query",
        );
        let after = query.as_object_mut().unwrap().remove("after").unwrap();
        query["cursor"] = after;
    })
    .await;
    fails(&report, "contacts: list", "answered page 1 again");
}

#[tokio::test]
async fn salesforce_continues_only_at_the_next_records_url() {
    let report = broken(&salesforce::spec(), |c| {
        *at(c, "/data/accounts/methods/list/mapping/path") = json!("/query");
    })
    .await;
    fails(&report, "accounts: list", "MALFORMED_QUERY");
}

#[tokio::test]
async fn zendesk_pages_by_cursor_only_with_a_page_size() {
    let report = broken(&zendesk::spec(), |c| {
        at(c, "/data/tickets/methods/list/mapping/requestMapping/query")
            .as_object_mut()
            .unwrap()
            .remove("page[size]");
    })
    .await;
    fails(&report, "tickets: list", "page 1: records");
}

#[tokio::test]
async fn google_drops_the_page_token_a_field_mask_leaves_out() {
    let report = broken(&google_sheets::spec(), |c| {
        *at(
            c,
            "/data/spreadsheets/methods/list/mapping/requestMapping/query/fields",
        ) = json!("files(id, name, webViewLink, createdTime, modifiedTime)");
    })
    .await;
    fails(
        &report,
        "spreadsheets: list",
        "no cursor, but the API has more",
    );
}

#[tokio::test]
async fn linear_returns_only_the_fields_a_query_selects() {
    let report = broken(&linear::spec(), |c| {
        let query = at(c, "/data/teams/methods/list/mapping/query");
        *query = json!(query
            .as_str()
            .unwrap()
            .replace("nodes { id name ", "nodes { id "));
    })
    .await;
    fails(&report, "teams: list", "records");
}

// ---------------------------------------------------------------------------
// Scopes.

#[tokio::test]
async fn jira_refuses_a_write_without_write_jira_work() {
    let report = broken(&jira::spec(), |c| {
        *at(c, "/getOAuthConfig/mapping/scopes") =
            json!(["read:jira-work", "read:jira-user", "offline_access"]);
    })
    .await;
    fails(&report, "issues: create", "scope does not match");
}

// ---------------------------------------------------------------------------
// The connectors as they were before the fixes on main.

#[tokio::test]
async fn github_issues_must_leave_pull_requests_out() {
    let report = broken(&github::spec(), |c| {
        *at(c, "/data/issues/methods/list") = rest(
            "/repos/{owner}/{repo}/issues",
            "GET",
            json!({"pathParameters": {"owner": {"$var": "$.parameters.owner"}, "repo": {"$var": "$.parameters.repo"}},
                "query": {"state": "all", "per_page": 100, "page": {"$var": "$.cursor"}}}),
            json!({"records": {"$var": "$.response.data"},
                "cursor": {"$jsonata": "$match(response.headers.link, /[?&]page=(\\d+)[^>]*>; *rel=\"next\"/).groups[0]"}}),
        );
    })
    .await;
    fails(&report, "issues: list", "1348");
}

#[tokio::test]
async fn jira_refuses_an_unbounded_default_jql() {
    let report = broken(&jira::spec(), |c| {
        *at(c, "/data/issues/methods/list") = rest(
            "/search/jql",
            "GET",
            json!({"query": {
                "jql": {"$firstNotEmpty": [{"$var": "$.parameters.jql"}, "created IS NOT EMPTY ORDER BY created DESC"]},
                "maxResults": 100, "fields": "summary,status,issuetype,project,created,updated",
                "nextPageToken": {"$var": "$.cursor"}}}),
            json!({"records": {"$var": "$.response.data.issues"}, "cursor": {"$var": "$.response.data.nextPageToken"}}),
        );
    })
    .await;
    fails(&report, "issues: list", "Unbounded JQL");
}

#[tokio::test]
async fn intercom_companies_list_misses_companies_without_users() {
    let report = broken(&intercom::spec(), |c| {
        *at(c, "/data/companies/methods/list") = rest(
            "/companies/list",
            "POST",
            json!({"query": {"per_page": 60, "page": {"$var": "$.cursor"}}}),
            json!({"records": {"$var": "$.response.data.data"},
                "cursor": {"$jsonata": "response.data.pages.page < response.data.pages.total_pages ? $string(response.data.pages.page + 1)"}}),
        );
    })
    .await;
    fails(&report, "companies: list", "Initech");
}

#[tokio::test]
async fn stripe_test_must_not_need_balance_rights() {
    let report = broken(&stripe::spec(), |c| {
        c["test"] = rest(
            "/balance",
            "GET",
            json!({}),
            json!({"$var": "$.response.data.object"}),
        );
    })
    .await;
    fails(&report, "test", "rak_balance_read");
}

#[tokio::test]
async fn slack_private_channels_need_groups_write() {
    let report = broken(&slack::spec(), |c| {
        *at(c, "/getOAuthConfig/mapping/extra/scope") =
            json!("channels:read,groups:read,users:read,chat:write,channels:manage");
    })
    .await;
    fails(&report, "channels: create", "missing_scope");
}

// ---------------------------------------------------------------------------
// Rules checked on the mocks directly, with hand-made requests.

#[test]
fn jira_tells_bounded_from_unbounded_jql() {
    for jql in [
        "ORDER BY created DESC",
        "created IS NOT EMPTY ORDER BY created DESC",
        "created IS NOT EMPTY AND updated is empty",
        "(created IS NOT EMPTY) OR (assignee IS EMPTY) order by key",
        "",
    ] {
        assert!(!jira::is_bounded(jql), "{jql:?} is unbounded");
    }
    for jql in [
        "updated >= \"1970-01-01\" ORDER BY updated DESC",
        "project = ENG",
        "created IS NOT EMPTY AND project = ENG ORDER BY created DESC",
        "assignee = currentUser() order by key",
    ] {
        assert!(jira::is_bounded(jql), "{jql:?} is bounded");
    }
}

#[test]
fn slack_answers_errors_with_200_and_ok_false() {
    let api = (slack::spec().api)(&Default::default());
    let reply = api.answer(
        &Req::new("GET", "/api/auth.test").with_header("authorization", "Bearer xoxb-wrong"),
    );
    assert_eq!(
        (reply.status, reply.body),
        (200, json!({"ok": false, "error": "invalid_auth"}))
    );
    let reply = api.answer(&Req::new("GET", "/api/auth.test"));
    assert_eq!(reply.body["error"], "not_authed");
}

#[test]
fn github_answers_a_wrong_token_with_bad_credentials() {
    let api = (github::spec().api)(&Default::default());
    let reply = api.answer(
        &Req::new("GET", "/user")
            .with_header("user-agent", "curl/8")
            .with_header("authorization", "Bearer gho_wrong"),
    );
    assert_eq!(reply.status, 401);
    assert_eq!(reply.body["message"], "Bad credentials");
}

#[test]
fn stripe_reads_form_bodies_only() {
    let api = (stripe::spec().api)(&Default::default());
    let post = |content_type: &str, body: &str| {
        api.answer(
            &Req::new("POST", "/v1/customers")
                .with_header("authorization", &format!("Bearer {}", stripe::SECRET_KEY))
                .with_body(content_type, body),
        )
    };
    let json = post("application/json", r#"{"name":"Jenny"}"#);
    assert_eq!(json.status, 400);
    assert!(json.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("x-www-form-urlencoded"));
    assert_eq!(
        post("application/x-www-form-urlencoded", "name=Jenny").status,
        200
    );
    assert_eq!(
        post("application/x-www-form-urlencoded", "nickname=J").body["error"]["code"],
        "parameter_unknown"
    );
}
