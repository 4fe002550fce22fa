//! The public HTTP/1.1 listener with the limits `axum::serve` does not have: a header-read timeout (a client that
//! trickles its headers, or leaves a kept-alive connection idle, is cut off), a connection cap (past it, new
//! connections wait in the kernel's backlog until one closes), and a graceful stop that finishes in-flight
//! requests. The body-read timeout is a layer on the router ([`body_timeout`]).

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Connection limits of the public listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a connection may take to send a request's headers, counted from when it is ready for a request:
    /// this also closes kept-alive connections left idle that long.
    pub header_timeout: Duration,
    /// Longest gap between two chunks of a request body.
    pub body_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

/// The body-read timeout as a router layer: a body that stalls longer than `limits.body_timeout` between chunks
/// fails to read, and the handler answers with its surface's 4xx for an unreadable body.
pub fn body_timeout(router: Router, limits: &Limits) -> Router {
    router.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(limits.body_timeout))
}

/// Serves `router` on `listener` until `stop` resolves, then stops accepting and waits for open connections to
/// finish their in-flight requests (the caller bounds that wait).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    tokio::pin!(stop);
    loop {
        // Past the cap, stop accepting: new connections queue in the backlog instead of exhausting the process.
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let service = router
            .clone()
            .map_request(move |mut request: axum::extract::Request<_>| {
                request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                request
            });
        // No upgrades: Kith serves no WebSocket or other upgraded protocol.
        let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // Errors here are clients going away or timing out; they are the client's, not the server's.
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, %peer, "connection closed");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
