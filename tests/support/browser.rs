//! A cookie-keeping HTTP client for the admin pages that does not follow redirects, like a
//! careful browser, and can come from another loopback address.

use std::collections::HashMap;
use std::net::IpAddr;

use reqwest::StatusCode;

use super::TestApp;

pub struct Browser {
    base: String,
    http: reqwest::Client,
    pub cookies: HashMap<String, String>,
    /// Raw `Set-Cookie` values of the last response.
    pub set_cookies: Vec<String>,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub location: Option<String>,
    pub body: String,
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        Self::from_address(app, IpAddr::from([127, 0, 0, 1]))
    }

    /// A browser whose connections come from `address` (any 127.0.0.0/8 address is loopback on
    /// Linux), so the app sees another client address.
    pub fn from_address(app: &TestApp, address: IpAddr) -> Self {
        Self {
            base: app.url(""),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .local_address(address)
                .build()
                .expect("client"),
            cookies: HashMap::new(),
            set_cookies: Vec::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    pub async fn read(&mut self, response: reqwest::Response) -> Page {
        self.set_cookies.clear();
        for value in response.headers().get_all("set-cookie") {
            let value = value.to_str().expect("cookie");
            self.set_cookies.push(value.to_owned());
            let pair = value.split(';').next().unwrap_or_default();
            if let Some((name, v)) = pair.split_once('=') {
                if v.is_empty() || value.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), v.to_owned());
                }
            }
        }
        let status = response.status();
        let headers = response.headers().clone();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await.expect("body");
        Page {
            status,
            headers,
            location,
            body,
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let response = self
            .http
            .get(self.url(path))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("GET");
        self.read(response).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let response = self
            .http
            .post(self.url(path))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .expect("POST");
        self.read(response).await
    }

    /// Signs in as the operator; returns the CSRF token of the new session.
    pub async fn sign_in_operator(&mut self, password: &str) -> String {
        let login = self.get("/admin/login").await;
        assert_eq!(login.status, 200);
        let token = csrf(&login.body);
        let done = self
            .post("/admin/login", &[("csrf", &token), ("password", password)])
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(done.location.as_deref(), Some("/admin"));
        let overview = self.get("/admin").await;
        assert_eq!(overview.status, 200);
        csrf(&overview.body)
    }
}

/// The first CSRF token in a page.
pub fn csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("page has a CSRF field") + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}
