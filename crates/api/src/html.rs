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

/// One small design for every page: a centred card on a tinted page, readable
/// from a phone-sized iframe up, with visible focus and text contrast of at least
/// 4.5:1 in both themes (`body.dark` for `theme=dark`).
const STYLE: &str = "*{box-sizing:border-box}\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:16px;line-height:1.5;margin:0;padding:24px 12px;color:#1d2433;background:#f3f4f7}\
main{max-width:440px;margin:0 auto;background:#fff;border:1px solid #d9dde5;border-radius:12px;padding:24px;box-shadow:0 1px 3px rgba(16,24,40,.08)}\
.brand{display:flex;align-items:center;gap:12px;margin:0 0 20px}\
.logo{width:44px;height:44px;flex:none;border-radius:10px;object-fit:contain;background:#fff;border:1px solid #d9dde5}\
span.logo{display:flex;align-items:center;justify-content:center;font-weight:700;font-size:20px;color:#fff;background:#3451b2;border-color:#3451b2}\
h1{font-size:20px;line-height:1.3;margin:0 0 16px;overflow-wrap:anywhere}.brand h1{margin:0}\
.workspace{margin:2px 0 0;font-size:14px;color:#4b5466}\
label{display:block;margin:16px 0 4px;font-weight:600}\
input{width:100%;padding:10px 12px;font:inherit;color:inherit;background:#fff;border:1px solid #767f92;border-radius:8px}\
.help{color:#4b5466;font-size:14px;margin-top:6px}.help p{margin:0 0 4px}.help p:last-child{margin:0}\
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em;background:#eef0f4;padding:1px 4px;border-radius:4px}\
a{color:#2a44a0}\
.actions{display:flex;flex-wrap:wrap;gap:12px;margin-top:24px}.actions>button{flex:1 1 120px;margin:0}\
.options{display:flex;flex-direction:column;gap:12px}.options button{width:100%;margin:0}\
button{min-height:44px;margin:0;padding:10px 18px;font:inherit;font-weight:600;border-radius:8px;border:1px solid #3451b2;background:#3451b2;color:#fff;cursor:pointer}\
button.secondary{background:#fff;color:#2a44a0}\
button:hover{background:#2a44a0}button.secondary:hover{background:#eef1fb}\
button:disabled{cursor:progress;opacity:.75}\
:focus-visible{outline:3px solid #1f6feb;outline-offset:2px}input:focus-visible{outline-offset:0}\
#connect-error{color:#a3200f;background:#fef3f2;border:1px solid #f5c2bc;padding:10px 12px;border-radius:8px;margin:0 0 12px}\
#connect-reference{margin:0 0 12px}\
.sr-only{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}\
body.dark{background:#0f1115;color:#e8eaf0}\
.dark main{background:#1a1d24;border-color:#333845;box-shadow:none}\
.dark .logo{border-color:#333845}.dark span.logo{background:#3451b2}\
.dark .workspace,.dark .help{color:#b8bfcc}\
.dark input{background:#0f1115;border-color:#8a93a6}\
.dark code{background:#2b303b}.dark a{color:#a9bcff}\
.dark button.secondary{background:transparent;color:#a9bcff;border-color:#a9bcff}.dark button.secondary:hover{background:#262b36}\
.dark :focus-visible{outline-color:#7aa7ff}\
.dark #connect-error{color:#ffc9c2;background:#3a1612;border-color:#7a2a20}";

fn page(title: &str, theme: Option<&str>, body: &str, script: &str) -> String {
    document(title, theme, "", STYLE, body, script)
}

/// The document every screen is: the card in `<main>` (with `main_attr`), the
/// theme's class, `style`, penpal, then `script`.
fn document(
    title: &str,
    theme: Option<&str>,
    main_attr: &str,
    style: &str,
    body: &str,
    script: &str,
) -> String {
    let class = if theme == Some("dark") {
        " class=\"dark\""
    } else {
        ""
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{style}</style></head><body{class}><main{main_attr}>{body}</main>\
         <script src=\"/static/penpal.min.js\"></script><script>{script}</script></body></html>",
        escape(title)
    )
}

/// The busy state of `#connect-form`: on submit, the form is `aria-busy`, the
/// submit button disabled and saying "Connecting…", and the status line says so
/// for screen readers. A page restored from the back-forward cache is reset.
const BUSY_SCRIPT: &str = "(function(){var f=document.getElementById('connect-form');if(!f)return;\
var b=document.getElementById('connect-submit'),s=document.getElementById('connect-status'),l=b?b.textContent:'';\
f.addEventListener('submit',function(){f.setAttribute('aria-busy','true');\
if(b){b.disabled=true;b.textContent='Connecting\\u2026';}if(s)s.textContent='Connecting\\u2026';});\
window.addEventListener('pageshow',function(e){if(!e.persisted)return;f.removeAttribute('aria-busy');\
if(b){b.disabled=false;b.textContent=l;}if(s)s.textContent='';});})();";

/// Help text (a field's or an auth option's `description`, written by whoever
/// wrote the connector) as HTML: Markdown rendered, raw HTML shown as text, links
/// kept only to `http(s)` and `mailto` targets and opened in a new tab, images as
/// their alt text, headings as paragraphs (the page has its own).
pub fn markdown(text: &str) -> String {
    use pulldown_cmark::{CowStr, Event, LinkType, Parser, Tag, TagEnd};
    let mut links: Vec<bool> = Vec::new();
    let events = Parser::new(text).filter_map(|event| match event {
        Event::Html(h) | Event::InlineHtml(h) => Some(Event::Text(h)),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            ..
        }) => {
            let url = if link_type == LinkType::Email {
                format!("mailto:{dest_url}")
            } else {
                dest_url.trim().to_owned()
            };
            let lower = url.to_ascii_lowercase();
            let safe = ["http://", "https://", "mailto:"]
                .iter()
                .any(|p| lower.starts_with(p));
            links.push(safe);
            safe.then(|| {
                Event::InlineHtml(CowStr::from(format!(
                    "<a href=\"{}\" target=\"_blank\" rel=\"noopener noreferrer\">",
                    escape(&url)
                )))
            })
        }
        Event::End(TagEnd::Link) => links
            .pop()
            .unwrap_or(false)
            .then(|| Event::InlineHtml(CowStr::from("</a>"))),
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        Event::Start(Tag::Heading { .. }) => Some(Event::Start(Tag::Paragraph)),
        Event::End(TagEnd::Heading(_)) => Some(Event::End(TagEnd::Paragraph)),
        Event::Start(Tag::HtmlBlock) | Event::End(TagEnd::HtmlBlock) => None,
        other => Some(other),
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

/// A logo URL an `<img>` may load: `http(s)`, or the `data:image/…;base64,` URI
/// an integration's uploaded `logoBase64` is stored as.
fn logo_src(uri: &str) -> Option<&str> {
    let uri = uri.trim();
    let lower = uri.to_ascii_lowercase();
    let ok = lower.starts_with("http://")
        || lower.starts_with("https://")
        || ["png", "jpeg", "gif", "webp", "svg+xml"]
            .iter()
            .any(|t| lower.starts_with(&format!("data:image/{t};base64,")));
    ok.then_some(uri)
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
    /// The integration's name, shown beside its logo.
    pub app_name: &'a str,
    /// The integration's `logoUri` (its connector's when it has none); shown when
    /// it is an `http(s)` URL or an uploaded image, else the name's first letter.
    pub logo_uri: Option<&'a str>,
    /// The name of the workspace (the developer's product) asking to connect.
    pub workspace_name: Option<&'a str>,
    /// Hidden fields carried to the next step (token, integration, options…).
    pub carry: &'a [(String, String)],
    /// `(key, title, description)` of each auth option, when the customer must
    /// choose one; the description is Markdown.
    pub options: Option<Vec<(String, String, Option<String>)>>,
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

/// The card's header: the app's logo, the screen's title, the workspace asking.
fn brand(s: &ConnectScreen) -> String {
    let logo = match s.logo_uri.and_then(logo_src) {
        Some(src) => format!(
            "<img class=\"logo\" src=\"{}\" alt=\"{}\">",
            escape(src),
            escape(s.app_name)
        ),
        None => format!(
            "<span class=\"logo\" aria-hidden=\"true\">{}</span>",
            escape(
                &s.app_name
                    .chars()
                    .next()
                    .map(|c| c.to_uppercase().to_string())
                    .unwrap_or_default()
            )
        ),
    };
    let workspace = s
        .workspace_name
        .filter(|w| !w.trim().is_empty())
        .map(|w| {
            format!(
                "<p class=\"workspace\" id=\"connect-workspace\">Requested by {}</p>",
                escape(w)
            )
        })
        .unwrap_or_default();
    format!(
        "<header class=\"brand\">{logo}<div><h1>{}</h1>{workspace}</div></header>",
        escape(s.title)
    )
}

pub fn connect_screen(s: &ConnectScreen) -> String {
    let hidden = hidden_fields(s.carry);
    let error = s
        .error
        .map(|e| error_block(e, s.reference, None))
        .unwrap_or_default();
    let cancel =
        "<button type=\"button\" class=\"secondary\" id=\"connect-cancel\">Cancel</button>";
    let mut body = format!("{}{error}", brand(s));
    if let Some(options) = &s.options {
        body.push_str("<form method=\"post\" action=\"/screens/connect\">");
        body.push_str(&hidden);
        body.push_str("<p id=\"connect-choose\">Choose how to connect:</p>");
        body.push_str("<div class=\"options\" role=\"group\" aria-labelledby=\"connect-choose\">");
        for (i, (key, title, description)) in options.iter().enumerate() {
            let help = description
                .as_deref()
                .filter(|d| !d.trim().is_empty())
                .map(|d| (format!("option-help-{i}"), markdown(d)));
            body.push_str(&format!(
                "<button type=\"submit\" name=\"authOptionKey\" value=\"{k}\" data-auth-option=\"{k}\"{}>{}</button>",
                help.as_ref()
                    .map(|(id, _)| format!(" aria-describedby=\"{id}\""))
                    .unwrap_or_default(),
                escape(title),
                k = escape(key)
            ));
            if let Some((id, html)) = help {
                body.push_str(&format!("<div class=\"help\" id=\"{id}\">{html}</div>"));
            }
        }
        body.push_str("</div></form>");
        body.push_str(&format!("<div class=\"actions\">{cancel}</div>"));
    } else {
        body.push_str("<form id=\"connect-form\" method=\"post\" action=\"/screens/connect\">");
        body.push_str(&hidden);
        body.push_str("<input type=\"hidden\" name=\"step\" value=\"submit\">");
        for (i, f) in fields(s.input_schema).into_iter().enumerate() {
            let id = format!("input-{}", f.name);
            let value = s
                .input
                .get(&f.name)
                .map(|v| match v {
                    Value::String(t) => t.clone(),
                    other => other.to_string(),
                })
                .unwrap_or_default();
            let help = f
                .description
                .as_deref()
                .filter(|d| !d.trim().is_empty())
                .map(|d| (format!("help-{i}"), markdown(d)));
            body.push_str(&format!(
                "<label for=\"{id}\">{}</label><input id=\"{id}\" name=\"input.{}\" type=\"{}\" value=\"{}\" autocomplete=\"off\"{}{}>",
                escape(&f.title),
                escape(&f.name),
                if f.secret { "password" } else { "text" },
                escape(&value),
                if f.required { " required aria-required=\"true\"" } else { "" },
                help.as_ref()
                    .map(|(h, _)| format!(" aria-describedby=\"{h}\""))
                    .unwrap_or_default(),
                id = escape(&id),
            ));
            if let Some((h, html)) = help {
                body.push_str(&format!("<div class=\"help\" id=\"{h}\">{html}</div>"));
            }
        }
        body.push_str(&format!(
            "<div class=\"actions\"><button type=\"submit\" id=\"connect-submit\">{}</button>{cancel}</div>\
             <p class=\"sr-only\" id=\"connect-status\" role=\"status\"></p>",
            escape(s.submit_label)
        ));
        body.push_str("</form>");
    }
    let script = format!("{}{BUSY_SCRIPT}", penpal_script(""));
    page(s.title, s.theme, &body, &script)
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
            "<h1>Could not connect</h1>{}<div class=\"actions\">{retry}\
             <button type=\"button\" class=\"secondary\" id=\"connect-cancel\">Close</button></div>",
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
            "<h1>Cannot connect</h1>{}<div class=\"actions\">\
             <button type=\"button\" class=\"secondary\" id=\"connect-cancel\">Close</button></div>",
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
            "<h1>{}</h1>{}<div class=\"actions\">\
             <button type=\"button\" class=\"secondary\" id=\"connect-cancel\">Close</button></div>",
            escape(title),
            not_set_up_block(message, reference)
        ),
    )
}

/// The not-set-up message alone, for pages that show it in place of an action.
pub fn not_set_up_block(message: &str, reference: Option<&str>) -> String {
    error_block(message, reference, Some("not-set-up"))
}

/// Extra rules the embedded configuration pages need beyond the connect card:
/// wider cards for mapping tables, text areas, selects and a success notice, in
/// both themes and with the same contrast.
const EMBED_STYLE: &str = "main.wide{max-width:720px}\
textarea,select{width:100%;padding:10px 12px;font:inherit;color:inherit;background:#fff;border:1px solid #767f92;border-radius:8px}\
textarea{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:14px;min-height:44px}\
fieldset{border:1px solid #d9dde5;border-radius:8px;margin:16px 0 0;padding:4px 16px 16px}legend{font-weight:700;padding:0 4px}\
table{width:100%;border-collapse:collapse;margin-top:8px}th,td{text-align:left;vertical-align:top;padding:6px 4px;border-bottom:1px solid #d9dde5}\
td label{margin:0;font-weight:600}td textarea{min-height:40px}.field-type{display:block;font-weight:400;font-size:13px;color:#4b5466}\
ul.list{padding-left:20px;margin:8px 0}\
#embed-saved{color:#0b5d1e;background:#ecfdf3;border:1px solid #a6e3bd;padding:10px 12px;border-radius:8px;margin:0 0 12px}\
.dark textarea,.dark select{background:#0f1115;border-color:#8a93a6}.dark fieldset,.dark th,.dark td{border-color:#333845}\
.dark .field-type{color:#b8bfcc}.dark #embed-saved{color:#b7f5cb;background:#0f2e1a;border-color:#2b6b40}";

/// An embedded page (`/embed/...`): the connect screens' card (wider when
/// `wide`), the penpal handshake, then `script`. Answers the document and the
/// inline blocks it holds (script, style), for the page's CSP to allow by hash.
pub(crate) fn embed_page(
    title: &str,
    theme: Option<&str>,
    wide: bool,
    body: &str,
    script: &str,
) -> (String, [String; 2]) {
    let main = if wide { " class=\"wide\"" } else { "" };
    let script = format!("{}{script}", penpal_script(""));
    let style = format!("{STYLE}{EMBED_STYLE}");
    let html = document(title, theme, main, &style, body, &script);
    (html, [script, style])
}

/// The connect screens' error paragraph (`#connect-error`), for embedded pages.
pub(crate) fn embed_error(message: &str, reference: Option<&str>) -> String {
    error_block(message, reference, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escapes_html_and_drops_unsafe_links() {
        let out = markdown(
            "Find the key (`sk_…`) in [Settings](https://example.com/keys).\n\n\
             <script>alert(1)</script>\n\n\
             Not a [link](javascript:alert(2)), <b onclick=\"x()\">bold</b>, \
             [mail](mailto:help@example.com), ![img](https://example.com/x.png)",
        );
        assert!(out.contains("<code>sk_…</code>"), "{out}");
        assert!(
            out.contains(
                "<a href=\"https://example.com/keys\" target=\"_blank\" rel=\"noopener noreferrer\">Settings</a>"
            ),
            "{out}"
        );
        assert!(!out.contains("<script"), "{out}");
        assert!(
            out.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{out}"
        );
        assert!(!out.contains("<b "), "{out}");
        assert!(out.contains("&lt;b onclick="), "{out}");
        assert!(!out.to_lowercase().contains("javascript:"), "{out}");
        assert!(out.contains("Not a link,"), "{out}");
        assert!(out.contains("href=\"mailto:help@example.com\""), "{out}");
        assert!(!out.contains("<img"), "{out}");
    }

    #[test]
    fn logo_only_from_http_or_uploaded_images() {
        assert!(logo_src("https://example.com/a.png").is_some());
        assert!(logo_src("data:image/png;base64,iVBORw0KGgo=").is_some());
        assert!(logo_src("javascript:alert(1)").is_none());
        assert!(logo_src("data:text/html;base64,PHNjcmlwdD4=").is_none());
    }

    #[test]
    fn connect_screen_has_the_card_and_keeps_its_ids() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {"apiKey": {"type": "string", "title": "API key", "description": "Starts with `sk_`"}},
            "required": ["apiKey"],
        });
        let html = connect_screen(&ConnectScreen {
            title: "Connect Key <App>",
            theme: Some("dark"),
            app_name: "Key <App>",
            logo_uri: Some("https://example.com/logo.png\" onerror=\"x()"),
            workspace_name: Some("Acme"),
            carry: &[],
            options: None,
            input_schema: Some(&schema),
            input: &Map::new(),
            submit_label: "Connect",
            error: None,
            reference: None,
        });
        assert!(html.contains("<html lang=\"en\">"), "{html}");
        assert!(html.contains("<body class=\"dark\"><main>"), "{html}");
        assert!(
            html.contains("src=\"https://example.com/logo.png&quot; onerror=&quot;x()\" alt=\"Key &lt;App&gt;\""),
            "{html}"
        );
        assert!(html.contains("<h1>Connect Key &lt;App&gt;</h1>"), "{html}");
        assert!(html.contains("Requested by Acme"), "{html}");
        assert!(html.contains("aria-describedby=\"help-0\""), "{html}");
        assert!(html.contains("<code>sk_</code>"), "{html}");
        let submit = html.find("id=\"connect-submit\"").unwrap();
        let cancel = html.find("id=\"connect-cancel\"").unwrap();
        let input = html.find("id=\"input-apiKey\"").unwrap();
        assert!(input < submit && submit < cancel, "focus order: {html}");
        assert!(cancel < html.find("</form>").unwrap(), "{html}");
    }
}
