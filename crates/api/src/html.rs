//! The HTML the server renders for browsers: the hosted connect screen (auth
//! options, the form generated from an option's `inputSchema`, errors in place) and
//! the page that ends a connect (penpal `onSuccess` for hosted screens, a
//! `postMessage` to the opener or parent for the SDK's `connect()`).
//!
//! The reader is the developer's end customer: errors are the customer's short
//! sentence (`osmosis_engine::connect::customer_errors`), never the technical
//! message, with the request's id as a reference they can quote. An integration
//! that is not set up shows [`not_set_up`]: a message and a Close button, no form
//! that could only lead to an error.
//!
//! Pages are small and few, so they are written here with one escaping function
//! rather than through a template engine. Every value from a request or an element
//! goes through [`escape`] (HTML) or [`script_json`] (inside `<script>`).

use serde_json::{Map, Value};

/// The penpal 6.2.2 build the SDK's parent side speaks (MIT, see assets/).
pub const PENPAL_JS: &str = include_str!("../assets/penpal.min.js");

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// JSON safe to embed in a `<script>` block (no `</script>`, no HTML comments).
pub fn script_json(v: &Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;padding:24px;color:#1d2433;background:#fff}\
h1{font-size:20px;margin:0 0 16px}label{display:block;margin:12px 0 4px;font-weight:600}\
input{width:100%;box-sizing:border-box;padding:8px;border:1px solid #c3c9d5;border-radius:6px}\
button{margin:16px 8px 0 0;padding:8px 16px;border-radius:6px;border:1px solid #3451b2;background:#3451b2;color:#fff;cursor:pointer}\
button.secondary{background:#fff;color:#3451b2}.help{color:#5b6478;font-size:13px}\
#connect-error{color:#b42318;background:#fef3f2;padding:8px 12px;border-radius:6px}\
body.dark{background:#14161c;color:#e8eaf0}";

fn page(title: &str, theme: Option<&str>, body: &str, script: &str) -> String {
    let class = if theme == Some("dark") {
        " class=\"dark\""
    } else {
        ""
    };
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{}</title><style>{STYLE}</style></head><body{class}>{body}\
         <script src=\"/static/penpal.min.js\"></script><script>{script}</script></body></html>",
        escape(title)
    )
}

/// Connects to the parent page with penpal when framed (hosted screens), then
/// runs `then(parent)`.
fn penpal_script(then: &str) -> String {
    format!(
        "(function(){{var framed=window.parent&&window.parent!==window;\
         window.__parent=null;\
         if(framed&&window.Penpal){{Penpal.connectToParent({{methods:{{}}}}).promise.then(function(p){{\
         window.__parent=p;if(p.handshake)p.handshake();{then}}});}}\
         var c=document.getElementById('connect-cancel');if(c)c.addEventListener('click',function(){{\
         if(window.__parent&&window.__parent.close)window.__parent.close();else if(window.opener)window.close();}});}})();"
    )
}

/// One field of the connect form.
struct Field {
    name: String,
    title: String,
    description: Option<String>,
    secret: bool,
    required: bool,
}

fn fields(schema: Option<&Value>) -> Vec<Field> {
    let Some(schema) = schema else {
        return Vec::new();
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .map(|(name, p)| {
                    let lower = name.to_lowercase();
                    Field {
                        name: name.clone(),
                        title: p
                            .get("title")
                            .and_then(Value::as_str)
                            .unwrap_or(name)
                            .to_owned(),
                        description: p
                            .get("description")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                        secret: ["key", "secret", "password", "token"]
                            .iter()
                            .any(|m| lower.contains(m)),
                        required: required.contains(&name.as_str()),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What the connect screen shows.
pub struct ConnectScreen<'a> {
    pub title: &'a str,
    pub theme: Option<&'a str>,
    /// Hidden fields carried to the next step (token, integration, options…).
    pub carry: &'a [(String, String)],
    /// `(key, title)` of each auth option, when the customer must choose one.
    pub options: Option<Vec<(String, String)>>,
    pub input_schema: Option<&'a Value>,
    /// Values typed so far, kept when the page comes back with an error.
    pub input: &'a Map<String, Value>,
    pub submit_label: &'a str,
    /// The customer's sentence for what went wrong (never a technical message).
    pub error: Option<&'a str>,
    /// The request's id, shown beside an error for the customer to quote.
    pub reference: Option<&'a str>,
}

/// Hidden inputs carrying `(name, value)` pairs to a form's next step.
pub fn hidden_fields(carry: &[(String, String)]) -> String {
    carry
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect()
}

/// The error paragraph every page shows (`#connect-error`), with the reference.
fn error_block(message: &str, reference: Option<&str>, reason: Option<&str>) -> String {
    let reason = reason
        .map(|r| format!(" data-reason=\"{}\"", escape(r)))
        .unwrap_or_default();
    let reference = reference
        .filter(|r| !r.is_empty())
        .map(|r| {
            format!(
                "<p class=\"help\" id=\"connect-reference\">Reference: {}</p>",
                escape(r)
            )
        })
        .unwrap_or_default();
    format!(
        "<p id=\"connect-error\" role=\"alert\"{reason}>{}</p>{reference}",
        escape(message)
    )
}

pub fn connect_screen(s: &ConnectScreen) -> String {
    let hidden = hidden_fields(s.carry);
    let error = s
        .error
        .map(|e| error_block(e, s.reference, None))
        .unwrap_or_default();
    let mut body = format!("<h1>{}</h1>{error}", escape(s.title));
    if let Some(options) = &s.options {
        body.push_str("<form method=\"post\" action=\"/screens/connect\">");
        body.push_str(&hidden);
        body.push_str("<p>Choose how to connect:</p>");
        for (key, title) in options {
            body.push_str(&format!(
                "<button type=\"submit\" name=\"authOptionKey\" value=\"{k}\" data-auth-option=\"{k}\">{}</button>",
                escape(title),
                k = escape(key)
            ));
        }
        body.push_str("</form>");
    } else {
        body.push_str("<form id=\"connect-form\" method=\"post\" action=\"/screens/connect\">");
        body.push_str(&hidden);
        body.push_str("<input type=\"hidden\" name=\"step\" value=\"submit\">");
        for f in fields(s.input_schema) {
            let id = format!("input-{}", f.name);
            let value = s
                .input
                .get(&f.name)
                .map(|v| match v {
                    Value::String(t) => t.clone(),
                    other => other.to_string(),
                })
                .unwrap_or_default();
            body.push_str(&format!(
                "<label for=\"{id}\">{}</label><input id=\"{id}\" name=\"input.{}\" type=\"{}\" value=\"{}\" autocomplete=\"off\"{}>",
                escape(&f.title),
                escape(&f.name),
                if f.secret { "password" } else { "text" },
                escape(&value),
                if f.required { " required" } else { "" },
                id = escape(&id),
            ));
            if let Some(d) = &f.description {
                body.push_str(&format!("<div class=\"help\">{}</div>", escape(d)));
            }
        }
        body.push_str(&format!(
            "<button type=\"submit\" id=\"connect-submit\">{}</button>",
            escape(s.submit_label)
        ));
        body.push_str("</form>");
    }
    body.push_str(
        "<button type=\"button\" class=\"secondary\" id=\"connect-cancel\">Cancel</button>",
    );
    page(s.title, s.theme, &body, &penpal_script(""))
}

/// The page that ends a connect: tells the SDK through every channel it listens
/// on (penpal `onSuccess` when framed by a hosted screen, `postMessage` to the
/// opener or parent), shows the outcome, and closes a popup. A failure shows the
/// event's `error` (the customer's sentence) and offers to try again unless the
/// integration's setup is what failed (`errorData.type: configuration`).
pub fn connect_result(event: &Value, theme: Option<&str>, reference: Option<&str>) -> String {
    let ok = event["type"] == "newConnectionCreated";
    let body = if ok {
        format!(
            "<h1>Connected</h1><div id=\"connect-result\" data-connection-id=\"{}\">The connection is ready. You can close this window.</div>",
            escape(event["connectionId"].as_str().unwrap_or_default())
        )
    } else {
        let setup = event["errorData"]["type"] == "configuration";
        let retry = if setup {
            ""
        } else {
            "<button type=\"button\" id=\"connect-retry\" onclick=\"history.go(-1)\">Try again</button>"
        };
        format!(
            "<h1>Could not connect</h1>{}{retry}\
             <button type=\"button\" class=\"secondary\" id=\"connect-cancel\">Close</button>",
            error_block(
                event["error"].as_str().unwrap_or("Connecting failed"),
                reference,
                setup.then_some("not-set-up"),
            )
        )
    };
    let on_parent = if ok {
        "if(p.onSuccess)p.onSuccess(EVENT.connection);"
    } else {
        ""
    };
    let script = format!(
        "var EVENT={};var target=window.opener||(window.parent!==window?window.parent:null);\
         if(target){{try{{target.postMessage(EVENT,'*');}}catch(e){{}}}}\
         {}\
         if(window.opener&&EVENT.type==='newConnectionCreated'){{setTimeout(function(){{window.close();}},300);}}",
        script_json(event),
        penpal_script(on_parent)
    );
    page(
        if ok { "Connected" } else { "Could not connect" },
        theme,
        &body,
        &script,
    )
}

/// A plain message page (e.g. the connection screen's status).
pub fn message_page(title: &str, theme: Option<&str>, body_html: &str) -> String {
    page(title, theme, body_html, &penpal_script(""))
}

/// A connect that cannot go on: the customer's sentence and a Close button.
pub fn cannot_connect(message: &str, theme: Option<&str>, reference: Option<&str>) -> String {
    message_page(
        "Cannot connect",
        theme,
        &format!(
            "<h1>Cannot connect</h1>{}\
             <button type=\"button\" class=\"secondary\" id=\"connect-cancel\">Close</button>",
            error_block(message, reference, None)
        ),
    )
}

/// The connect screen of an integration that is not set up (required connector
/// parameters unset): the customer's sentence and a Close button — no form, no
/// button that starts a connect.
pub fn not_set_up(
    title: &str,
    message: &str,
    theme: Option<&str>,
    reference: Option<&str>,
) -> String {
    message_page(
        title,
        theme,
        &format!(
            "<h1>{}</h1>{}\
             <button type=\"button\" class=\"secondary\" id=\"connect-cancel\">Close</button>",
            escape(title),
            not_set_up_block(message, reference)
        ),
    )
}

/// The not-set-up message alone, for pages that show it in place of an action.
pub fn not_set_up_block(message: &str, reference: Option<&str>) -> String {
    error_block(message, reference, Some("not-set-up"))
}
