//! `GET /demo-app/`: what the demo app is and how to get a key and connect.

use axum::http::HeaderMap;
use axum::response::Html;

/// The page, with the origin the browser used in its examples.
pub(crate) async fn page(headers: HeaderMap) -> Html<String> {
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1:8080");
    let origin = escape(&format!("http://{host}"));
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Osmosis demo app</title>
<style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}
pre{{background:#f4f4f4;padding:.75rem;overflow-x:auto}}code{{background:#f4f4f4}}</style></head>
<body>
<h1>Osmosis demo app</h1>
<p>A small CRM (contacts, companies, webhooks) served by this Osmosis because it runs with
<code>--demo</code>, so you can connect a customer without an account anywhere else.
Its data lives in <code>&lt;data-dir&gt;/demo-app.db</code>.</p>
<h2>1. Get an API key</h2>
<p>Each key is its own account, with its own contacts and companies.</p>
<form method="post" action="/demo-app/api/keys"><input name="name" placeholder="Account name">
<button type="submit">Create an account and its key</button></form>
<pre>curl -X POST {origin}/demo-app/api/keys</pre>
<h2>2. Connect a customer</h2>
<p>The <code>demo-app</code> connector is installed in every workspace. Create an integration on it
(admin token), then connect a customer with the key:</p>
<pre>POST {origin}/integrations      {{"key": "demo-app", "name": "Demo app", "connectorKey": "demo-app"}}
POST {origin}/connections       {{"integrationKey": "demo-app", "input": {{"apiKey": "demo_…"}}}}   (customer token)</pre>
<h2>3. Run something</h2>
<pre>POST {origin}/connections/&lt;id&gt;/data/contacts/create   {{"fields": {{"email": "ada@example.com", "firstName": "Ada"}}}}
POST {origin}/connections/&lt;id&gt;/data/contacts/list     {{}}
GET  {origin}/connections/&lt;id&gt;/proxy/me</pre>
<h2>The API</h2>
<p>Under <code>/demo-app/api</code>, with <code>Authorization: Bearer &lt;key&gt;</code> or
<code>X-Api-Key: &lt;key&gt;</code>: <code>GET /me</code>; <code>GET|POST /contacts</code>,
<code>GET|PATCH|DELETE /contacts/{{id}}</code> (fields firstName, lastName, email, phone, companyId);
the same for <code>/companies</code> (name, domain, industry, phone); lists take
<code>?cursor=&amp;limit=&amp;q=</code> and <code>email</code>/<code>companyId</code> or <code>domain</code>
and answer <code>{{items, nextCursor}}</code>; <code>POST|GET /webhooks</code>,
<code>GET|DELETE /webhooks/{{id}}</code> with <code>{{url, events}}</code>
(<code>contact.created</code>, <code>contact.updated</code>, <code>contact.deleted</code>,
and the same for <code>company</code>).</p>
</body></html>
"#
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
