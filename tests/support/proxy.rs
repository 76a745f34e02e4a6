//! A TCP proxy in front of Redis that a test can cut and restore, to see what Mergecast does
//! when Redis goes away (without touching the shared Redis server).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

/// Forwards a loopback port to `upstream` until cut.
pub struct Proxy {
    pub addr: SocketAddr,
    upstream: SocketAddr,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let proxy = Self {
            addr,
            upstream,
            task: Arc::new(Mutex::new(None)),
        };
        *proxy.task.lock().await = Some(tokio::spawn(serve(listener, upstream)));
        proxy
    }

    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// Closes the port and every open connection through it.
    pub async fn cut(&self) {
        if let Some(task) = self.task.lock().await.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port.
    pub async fn restore(&self) {
        let listener = TcpListener::bind(self.addr).await.expect("rebind proxy");
        *self.task.lock().await = Some(tokio::spawn(serve(listener, self.upstream)));
    }
}

async fn serve(listener: TcpListener, upstream: SocketAddr) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            return;
        };
        connections.spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}
