//! A host that is not GitHub's API, to prove no credential ever reaches it (a `Link` pointing
//! elsewhere must not be followed with the token).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, Method, Uri, header};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::http::Reply;

/// A request that reached a [`ForeignHost`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignRequest {
    pub method: String,
    pub path_and_query: String,
    /// The `Authorization` header it carried, if any.
    pub authorization: Option<String>,
}

/// A second listener on another loopback port, standing for a host that is not GitHub's API:
/// it answers 404 to everything and records what it was sent, to prove no credential reaches it.
pub struct ForeignHost {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
    requests: Arc<Mutex<Vec<ForeignRequest>>>,
    server: JoinHandle<()>,
}

impl ForeignHost {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind foreign host");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let app = Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
            let log = log.clone();
            async move {
                log.lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(ForeignRequest {
                        method: method.to_string(),
                        path_and_query: uri
                            .path_and_query()
                            .map_or_else(|| uri.path().to_string(), |pq| pq.to_string()),
                        authorization: headers
                            .get(header::AUTHORIZATION)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string),
                    });
                Reply::not_found().into_response()
            }
        });
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            requests,
            server,
        }
    }

    /// Everything it received, in order.
    pub fn requests(&self) -> Vec<ForeignRequest> {
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Drop for ForeignHost {
    fn drop(&mut self) {
        self.server.abort();
    }
}
