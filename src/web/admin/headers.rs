//! Response headers on every admin response: a Content-Security-Policy that allows no script and
//! only our own stylesheet, no MIME sniffing, no caching of pages that show private data, and no
//! referrer leaking admin URLs. Kept in one middleware so a new page cannot forget them.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use super::AdminContext;
use crate::web::AppState;

/// The policy: nothing by default; the stylesheet from `/admin/assets` (no inline CSS, no
/// images: charts are inline SVG elements); forms post to us, and the forms that continue on
/// another site are redirected or posted to the web hosts in `elsewhere` (GitHub's for sign-in
/// and app registration, Slack's for "Add to Slack": `form-action` covers redirects); no
/// framing, no `<base>`.
pub fn content_security_policy(elsewhere: &[&str]) -> HeaderValue {
    let origins: Vec<&str> = elsewhere.iter().map(|url| origin(url)).collect();
    let policy = format!(
        "default-src 'none'; style-src 'self'; form-action 'self' {}; frame-ancestors 'none'; base-uri 'none'",
        origins.join(" ")
    );
    HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'; form-action 'self'"))
}

/// `scheme://host[:port]` of a URL (what CSP source lists take).
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// Adds the headers; a response that set its own `Cache-Control` (the stylesheet) keeps it.
pub async fn add(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    set(&state.admin, &mut response);
    response
}

fn set(admin: &AdminContext, response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, admin.csp.clone());
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_the_given_origins_only() {
        let csp =
            content_security_policy(&["https://github.example.com/ghes/", "https://slack.com"]);
        let csp = csp.to_str().unwrap();
        assert!(
            csp.contains("form-action 'self' https://github.example.com https://slack.com;"),
            "{csp}"
        );
        assert!(csp.starts_with("default-src 'none'; style-src 'self';"));
        assert_eq!(origin("http://127.0.0.1:4000"), "http://127.0.0.1:4000");
    }
}
