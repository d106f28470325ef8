//! A browser of the console, as far as HTTP goes: it signs in through the form,
//! keeps the session cookie, and posts forms with the CSRF token the pages carry.
//! Redirects are not followed, so tests see where the console sends a browser.

use super::{Server, WS_KEY, WS_SECRET};

pub struct Console {
    pub base: String,
    pub http: reqwest::Client,
    /// The session cookie's value (empty when signed out).
    pub session: String,
    /// The CSRF token of the session's forms.
    pub csrf: String,
}

/// An answer: status, `Location` (redirects), body.
pub struct Answer {
    pub status: u16,
    pub location: String,
    pub body: String,
    pub headers: reqwest::header::HeaderMap,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

impl Console {
    /// Signed in to the test workspace with its key and secret.
    pub async fn sign_in(s: &Server) -> Console {
        Console::sign_in_as(&s.url, WS_KEY, WS_SECRET).await
    }

    /// Signed in to `key` with `secret`; panics when that fails.
    pub async fn sign_in_as(base: &str, key: &str, secret: &str) -> Console {
        let answer = Console::try_sign_in(base, key, secret).await;
        assert_eq!(answer.status, 303, "sign-in: {}", answer.body);
        let session = set_cookie(&answer.headers, "osmosis_console").expect("session cookie");
        let mut console = Console {
            base: base.to_string(),
            http: client(),
            session,
            csrf: String::new(),
        };
        let overview = console.get("/console").await;
        assert_eq!(overview.status, 200, "{}", overview.body);
        console.csrf = csrf_of(&overview.body).expect("a CSRF token in the page");
        console
    }

    /// Posts the sign-in form as a browser would (first fetching it for its
    /// double-submit cookie).
    pub async fn try_sign_in(base: &str, key: &str, secret: &str) -> Answer {
        let http = client();
        let form = http
            .get(format!("{base}/console/sign-in"))
            .send()
            .await
            .expect("sign-in form");
        let cookie = set_cookie(form.headers(), "osmosis_console_signin").expect("form cookie");
        let body = form.text().await.expect("body");
        let csrf = csrf_of(&body).expect("form token");
        let response = http
            .post(format!("{base}/console/sign-in"))
            .header("cookie", format!("osmosis_console_signin={cookie}"))
            .form(&[("csrf", csrf.as_str()), ("key", key), ("secret", secret)])
            .send()
            .await
            .expect("sign-in");
        answer(response).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", format!("osmosis_console={}", self.session))
            .send()
            .await
            .expect("answered");
        answer(response).await
    }

    /// Posts a form with the session's CSRF token added.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Posts exactly `fields` (no token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", format!("osmosis_console={}", self.session))
            .form(fields)
            .send()
            .await
            .expect("answered");
        answer(response).await
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let location = headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response.text().await.expect("body");
    Answer {
        status,
        location,
        body,
        headers,
    }
}

/// The value a response's `Set-Cookie` gives `name`, if it sets it.
pub fn set_cookie(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    set_cookie_line(headers, name).and_then(|line| {
        line.split(';')
            .next()
            .and_then(|pair| pair.split_once('='))
            .map(|(_, v)| v.to_string())
    })
}

/// The whole `Set-Cookie` line for `name` (its attributes too).
pub fn set_cookie_line(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

/// The CSRF token a page's forms carry.
pub fn csrf_of(html: &str) -> Option<String> {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}
