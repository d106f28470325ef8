//! The console's sign-in, sessions and forms (`/console`): who gets in, what the
//! cookie says, and that forms without their token change nothing. The pages'
//! contents are tested per section (`console_*.rs`) and in Chromium
//! (tests/browser/console.test.js).

use crate::common::console::{set_cookie, set_cookie_line, Console};
use crate::common::{Server, WS_KEY, WS_SECRET};

#[tokio::test]
async fn the_root_and_every_page_send_a_browser_without_a_session_to_sign_in() {
    let s = Server::start().await;
    let anonymous = Console {
        session: String::new(),
        ..Console::sign_in(&s).await
    };
    let root = anonymous.get("/").await;
    assert_eq!(root.status, 303);
    assert_eq!(root.location, "/console");
    let page = anonymous.get("/console").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location, "/console/sign-in?next=%2Fconsole");
    let form = anonymous.get(&page.location).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("name=\"next\" value=\"/console\""));
    // A forged or ended session is no session.
    let forged = Console {
        session: "not-a-session".into(),
        ..Console::sign_in(&s).await
    };
    assert_eq!(forged.get("/console").await.status, 303);
    s.finish().await;
}

/// Every section's page, and the pages' forms that change something.
const PAGES: [&str; 10] = [
    "/console",
    "/console/integrations",
    "/console/connectors",
    "/console/customers",
    "/console/connections",
    "/console/actions",
    "/console/flows",
    "/console/flow-runs",
    "/console/events",
    "/console/settings",
];

#[tokio::test]
async fn api_tokens_open_no_console_page_and_post_no_form() {
    let s = Server::start().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for token in [s.admin(), s.customer("alice")] {
        for path in PAGES {
            let response = s
                .http
                .get(format!("{}{path}", s.url))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            // reqwest follows the redirect to the sign-in form.
            assert_eq!(response.url().path(), "/console/sign-in", "{path}");
            let body = response.text().await.unwrap();
            assert!(body.contains("Sign in to the console"), "{path}");
        }
        for path in ["/console/settings", "/console/sign-out"] {
            let response = no_redirects
                .post(format!("{}{path}", s.url))
                .bearer_auth(&token)
                .form(&[("webhookUri", "https://example.com/hook")])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 303, "{path}");
            assert_eq!(response.headers()["location"], "/console/sign-in");
        }
    }
    let (_, settings) = s.get("/settings", &s.admin()).await;
    assert!(settings.get("webhookUri").is_none(), "{settings}");
    s.finish().await;
}

#[tokio::test]
async fn a_wrong_key_or_secret_is_refused_with_one_message_and_no_session() {
    let s = Server::start().await;
    s.other_workspace_admin().await;
    for (key, secret) in [
        (WS_KEY, "wrong"),
        ("no-such-workspace", WS_SECRET),
        (WS_KEY, ""),
        // The other workspace's secret does not open this one.
        (WS_KEY, "other-secret"),
        ("<script>alert(1)</script>", "x"),
    ] {
        let answer = Console::try_sign_in(&s.url, key, secret).await;
        assert_eq!(answer.status, 401, "{key}/{secret}");
        assert!(set_cookie(&answer.headers, "osmosis_console").is_none());
        assert!(answer
            .body
            .contains("The workspace key or secret is not right"));
        assert!(!answer.body.contains("<script>alert"));
    }
    s.finish().await;
}

#[tokio::test]
async fn the_session_cookie_is_http_only_strict_and_secure_behind_https() {
    let s = Server::start().await;
    let answer = Console::try_sign_in(&s.url, WS_KEY, WS_SECRET).await;
    assert_eq!(answer.status, 303);
    assert_eq!(answer.location, "/console");
    let line = set_cookie_line(&answer.headers, "osmosis_console").unwrap();
    assert!(line.contains("HttpOnly"), "{line}");
    assert!(line.contains("SameSite=Strict"), "{line}");
    assert!(line.contains("Path=/console"), "{line}");
    assert!(!line.contains("Secure"), "plain http: {line}");
    // Behind a proxy that terminates TLS.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = http
        .get(format!("{}/console/sign-in", s.url))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let form_cookie = set_cookie_line(form.headers(), "osmosis_console_signin").unwrap();
    assert!(form_cookie.contains("Secure"), "{form_cookie}");
    let cookie = set_cookie(form.headers(), "osmosis_console_signin").unwrap();
    let body = form.text().await.unwrap();
    let csrf = crate::common::console::csrf_of(&body).unwrap();
    let signed_in = http
        .post(format!("{}/console/sign-in", s.url))
        .header("x-forwarded-proto", "https")
        .header("cookie", format!("osmosis_console_signin={cookie}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("key", WS_KEY),
            ("secret", WS_SECRET),
        ])
        .send()
        .await
        .unwrap();
    let line = set_cookie_line(signed_in.headers(), "osmosis_console").unwrap();
    assert!(line.contains("Secure"), "{line}");
    s.finish().await;
}

#[tokio::test]
async fn the_sign_in_form_needs_its_own_cookie_and_goes_back_only_to_console_pages() {
    let s = Server::start().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Posted from another site: no double-submit cookie.
    let forged = http
        .post(format!("{}/console/sign-in", s.url))
        .form(&[("csrf", "guess"), ("key", WS_KEY), ("secret", WS_SECRET)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    assert!(set_cookie(forged.headers(), "osmosis_console").is_none());
    // Where a browser goes after signing in: only a console page of this server.
    for (next, expected) in [
        (
            "/console/flow-runs?state=failed",
            "/console/flow-runs?state=failed",
        ),
        ("//evil.example/console", "/console"),
        ("https://evil.example/", "/console"),
        ("/console/..//evil.example", "/console"),
        ("/\\evil.example", "/console"),
    ] {
        let form = http
            .get(format!("{}/console/sign-in", s.url))
            .send()
            .await
            .unwrap();
        let cookie = set_cookie(form.headers(), "osmosis_console_signin").unwrap();
        let csrf = crate::common::console::csrf_of(&form.text().await.unwrap()).unwrap();
        let answer = http
            .post(format!("{}/console/sign-in", s.url))
            .header("cookie", format!("osmosis_console_signin={cookie}"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("key", WS_KEY),
                ("secret", WS_SECRET),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 303, "{next}");
        assert_eq!(answer.headers()["location"], expected, "{next}");
    }
    s.finish().await;
}

#[tokio::test]
async fn the_overview_counts_the_workspace_and_names_it() {
    let s = Server::start().await;
    s.create(
        "integrations",
        serde_json::json!({"key": "one", "name": "One"}),
    )
    .await;
    let console = Console::sign_in(&s).await;
    let page = console.get("/console").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<h1>Overview</h1>"), "{}", page.body);
    assert!(page.body.contains("Integrations"));
    // The shipped catalog is not installed in this server: one integration.
    assert!(
        page.body
            .contains("<span class=\"number\">1</span><span class=\"label\">Integrations"),
        "{}",
        page.body
    );
    for (name, value) in [
        ("content-security-policy", "script-src 'self'"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
    ] {
        let got = page.headers[name].to_str().unwrap();
        assert!(got.contains(value), "{name}: {got}");
    }
    s.finish().await;
}

#[tokio::test]
async fn forms_without_their_token_change_nothing() {
    let s = Server::start().await;
    let console = Console::sign_in(&s).await;
    for fields in [vec![], vec![("csrf", "wrong")], vec![("csrf", "")]] {
        let answer = console.post_raw("/console/sign-out", &fields).await;
        assert_eq!(answer.status, 403, "{fields:?}");
        assert!(answer.body.contains("security token"));
    }
    // Another session's token is not this one's.
    let other = Console::sign_in(&s).await;
    assert_ne!(other.csrf, console.csrf);
    let answer = console
        .post_raw("/console/sign-out", &[("csrf", other.csrf.as_str())])
        .await;
    assert_eq!(answer.status, 403);
    assert_eq!(console.get("/console").await.status, 200, "still signed in");
    s.finish().await;
}

#[tokio::test]
async fn signing_out_ends_the_session_where_it_is_stored() {
    let s = Server::start().await;
    let console = Console::sign_in(&s).await;
    let other = Console::sign_in(&s).await;
    let answer = console.post("/console/sign-out", &[]).await;
    assert_eq!(answer.status, 303);
    assert_eq!(answer.location, "/console/sign-in");
    let cleared = set_cookie_line(&answer.headers, "osmosis_console").unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // The old cookie, replayed, is refused; another browser's session goes on.
    assert_eq!(console.get("/console").await.status, 303);
    assert_eq!(other.get("/console").await.status, 200);
    s.finish().await;
}

#[tokio::test]
async fn rotating_the_secret_or_archiving_the_workspace_ends_its_sessions() {
    let s = Server::start().await;
    let console = Console::sign_in(&s).await;
    s.engine
        .rotate_workspace_secret(WS_KEY, Some("a-new-secret-0123456789".into()))
        .await
        .unwrap();
    // The server re-reads a workspace within 5 seconds (auth::WORKSPACE_RECHECK).
    let mut ended = false;
    for _ in 0..70 {
        if console.get("/console").await.status == 303 {
            ended = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ended, "the rotated secret ended the session");
    let again = Console::sign_in_as(&s.url, WS_KEY, "a-new-secret-0123456789").await;
    s.engine.archive_workspace(WS_KEY).await.unwrap();
    let mut ended = false;
    for _ in 0..70 {
        if again.get("/console").await.status == 303 {
            ended = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ended, "archiving ended the session");
    s.finish().await;
}

#[tokio::test]
async fn a_sign_in_link_works_once() {
    let s = Server::start().await;
    let opened = s.engine.console_link(WS_KEY).await.unwrap();
    let console = Console::sign_in(&s).await;
    // Opening the link only shows a button: a link scanner uses nothing up.
    let page = console
        .get(&format!("/console/sign-in/link?token={}", opened.token))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&opened.token));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let follow = || {
        http.post(format!("{}/console/sign-in/link", s.url))
            .form(&[("token", opened.token.as_str())])
            .send()
    };
    let first = follow().await.unwrap();
    assert_eq!(first.status().as_u16(), 303);
    let session = set_cookie(first.headers(), "osmosis_console").unwrap();
    let signed_in = Console {
        session,
        ..Console::sign_in(&s).await
    };
    assert_eq!(signed_in.get("/console").await.status, 200);
    let second = follow().await.unwrap();
    assert_eq!(second.status().as_u16(), 401);
    assert!(set_cookie(second.headers(), "osmosis_console").is_none());
    // An unknown workspace gets no link.
    assert!(s.engine.console_link("no-such-workspace").await.is_err());
    s.finish().await;
}
