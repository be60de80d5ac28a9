//! The HTTP listener shared by the provider stand-ins: an axum router served
//! on 127.0.0.1 on a free port, stopped when its owner drops it.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub(crate) struct LocalServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl LocalServer {
    /// Panics when no port can be bound: a test without its stand-in cannot
    /// say anything useful anyway.
    pub(crate) async fn start(router: axum::Router) -> LocalServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a stand-in HTTP server on 127.0.0.1");
        let addr = listener.local_addr().expect("stand-in server address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        LocalServer { addr, task }
    }

    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
