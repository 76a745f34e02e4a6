//! Query strings kept as the client sent them, and GitHub's `Link` pagination with absolute
//! URLs (https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api):
//! what a route knows about its request besides the model.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::DEFAULT_PER_PAGE;
use super::http::Reply;

/// The raw query string, split but kept encoded so `Link`s reproduce what the client sent.
pub(super) struct Query {
    /// (decoded name, raw `name=value` text)
    pub(super) parts: Vec<(String, String)>,
}

impl Query {
    pub(super) fn parse(raw: Option<&str>) -> Self {
        let parts = raw
            .unwrap_or_default()
            .split('&')
            .filter(|part| !part.is_empty())
            .map(|part| {
                let name = part.split_once('=').map_or(part, |(name, _)| name);
                (percent_decode(name), part.to_string())
            })
            .collect();
        Self { parts }
    }

    pub(super) fn get(&self, name: &str) -> Option<String> {
        self.parts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, part)| percent_decode(part.split_once('=').map_or("", |(_, v)| v)))
    }
}

pub(super) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match hex::decode(&bytes[i + 1..i + 3]) {
                Ok(decoded) => {
                    out.extend(decoded);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a route needs to know about the request besides the model.
#[derive(Clone, Copy)]
pub(super) struct Ctx<'a> {
    pub(super) base: &'a str,
    /// Origin of `Link` URLs: `base`, unless [`Model::link_origin`] says otherwise.
    pub(super) link_base: &'a str,
    pub(super) app_id: i64,
    pub(super) path: &'a str,
    pub(super) query: &'a Query,
    pub(super) now: DateTime<Utc>,
    pub(super) per_page_max: usize,
}

impl Ctx<'_> {
    pub(super) fn param(&self, name: &str) -> Option<String> {
        self.query.get(name)
    }

    pub(super) fn per_page(&self) -> usize {
        self.per_page_or(DEFAULT_PER_PAGE)
    }

    /// `per_page`, or `default` when the client sent none (endpoints differ in their default).
    pub(super) fn per_page_or(&self, default: usize) -> usize {
        self.param("per_page")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(default)
            .min(self.per_page_max.max(1))
    }

    pub(super) fn page(&self) -> usize {
        self.param("page")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(1)
    }

    /// This request's absolute URL with `name` set to `value` and every other parameter kept.
    pub(super) fn url_with(&self, name: &str, value: &str) -> String {
        let mut parts: Vec<&str> = self
            .query
            .parts
            .iter()
            .filter(|(n, _)| n != name)
            .map(|(_, part)| part.as_str())
            .collect();
        let replaced = format!("{name}={value}");
        parts.push(&replaced);
        format!("{}{}?{}", self.link_base, self.path, parts.join("&"))
    }

    /// One page of `items`, with GitHub's `Link` header when there is more than one page.
    pub(super) fn paginate(&self, items: Vec<Value>) -> (Vec<Value>, Option<String>) {
        self.paginate_by(items, self.per_page())
    }

    /// [`Ctx::paginate`] with `per_page` items a page.
    pub(super) fn paginate_by(
        &self,
        items: Vec<Value>,
        per_page: usize,
    ) -> (Vec<Value>, Option<String>) {
        let page = self.page();
        let last = items.len().div_ceil(per_page).max(1);
        let start = (page - 1).saturating_mul(per_page).min(items.len());
        let slice = items.into_iter().skip(start).take(per_page).collect();
        let mut links = Vec::new();
        let mut link = |page: usize, rel: &str| {
            links.push(format!(
                "<{}>; rel=\"{rel}\"",
                self.url_with("page", &page.to_string())
            ));
        };
        if page > 1 {
            link(page - 1, "prev");
        }
        if page < last {
            link(page + 1, "next");
            link(last, "last");
        }
        if page > 1 {
            link(1, "first");
        }
        (slice, (!links.is_empty()).then(|| links.join(", ")))
    }

    /// A paginated JSON array reply.
    pub(super) fn page_reply(&self, items: Vec<Value>) -> Reply {
        let (page, link) = self.paginate(items);
        with_link(Reply::ok(&Value::Array(page)), link)
    }

    /// `direction`, defaulting to `default_desc`.
    pub(super) fn descending(&self, default_desc: bool) -> bool {
        match self.param("direction").as_deref() {
            Some("asc") => false,
            Some("desc") => true,
            _ => default_desc,
        }
    }
}

pub(super) fn with_link(reply: Reply, link: Option<String>) -> Reply {
    match link {
        Some(link) => reply.header("link", link),
        None => reply,
    }
}
