//! Accepting connections, and stopping: what `axum::serve` does, plus what it does not expose.
//! A client must send its request head within `HEADER_TIMEOUT` (a slowloris holds no connection
//! for longer), one address holds at most `PORTAL_CONNECTIONS_PER_ADDRESS` connections at once
//! (a trusted proxy, which carries everyone's, is not capped), and a stop answers the requests in
//! flight for at most `PORTAL_SHUTDOWN_SECONDS` before it closes the rest.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, body::Body, extract::ConnectInfo, http::Request};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use tokio::{net::TcpListener, sync::watch};
use tower::ServiceExt as _;

use crate::layers::client_addr::TrustedProxies;

/// The time a client has to send a request's head (its line and headers), from the moment the
/// connection is idle: between requests of a kept-alive connection too.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest request head (line and headers) read: a browser's is a few KiB; past this the
/// answer is 431.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How the server accepts and stops.
#[derive(Clone)]
pub struct ServingPolicy {
    /// Connections one address may hold at once.
    pub per_address: usize,
    /// Addresses not capped: the proxies in front of Portal.
    pub trusted_proxies: Arc<TrustedProxies>,
    /// How long a stop waits for the requests in flight.
    pub shutdown_grace: Duration,
}

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting (the listener is
/// closed: a new connection is refused), lets each connection finish the request it is answering,
/// and returns once all have, or after the grace period, whichever comes first.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    policy: ServingPolicy,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Slots {
        open: Mutex::default(),
        policy: policy.clone(),
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES);
    builder.http2().timer(TokioTimer::new());
    // Dropped at the stop: each connection then finishes its request and closes.
    let (stopping, stop) = watch::channel(());
    // Each connection holds a receiver: the stop waits until none is left.
    let (all_closed, open) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    pause_after_accept_error(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = slots.take(peer.ip()) else {
            metrics::counter!("portal_connections_refused_total").increment(1);
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        let builder = builder.clone();
        let mut stop = stop.clone();
        let open = open.clone();
        tokio::spawn(async move {
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(slot);
            drop(open);
        });
    }
    drop(listener);
    drop(stopping);
    drop(open);
    let grace = policy.shutdown_grace;
    if tokio::time::timeout(grace, all_closed.closed())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = all_closed.receiver_count(),
            "stopping: requests still unanswered after PORTAL_SHUTDOWN_SECONDS ({}s) are cut off",
            grace.as_secs()
        );
    }
}

/// The open connections of each address, under the policy's cap.
struct Slots {
    open: Mutex<HashMap<IpAddr, usize>>,
    policy: ServingPolicy,
}

impl Slots {
    /// A place for one more connection from `address`, if it has fewer than its cap; trusted
    /// proxies are not counted.
    fn take(self: &Arc<Self>, address: IpAddr) -> Option<Slot> {
        let address = address.to_canonical();
        if self.policy.trusted_proxies.contains(address) {
            return Some(Slot(None));
        }
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = open.entry(address).or_default();
        if *count >= self.policy.per_address {
            return None;
        }
        *count += 1;
        Some(Slot(Some((self.clone(), address))))
    }
}

/// One connection's place; given back when the connection closes.
struct Slot(Option<(Arc<Slots>, IpAddr)>);

impl Drop for Slot {
    fn drop(&mut self) {
        let Some((slots, address)) = self.0.take() else {
            return;
        };
        let mut open = slots
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = open.get_mut(&address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&address);
            }
        }
    }
}

/// What a connection past its address's cap is told: its request head is read (for a moment at
/// most, so the client is not cut off while it writes) and answered 429, then it is closed.
async fn refuse(mut stream: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut head = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut head)).await;
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        stream.write_all(
            b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 5\r\nConnection: close\r\n\
              Content-Type: text/plain; charset=utf-8\r\nContent-Length: 55\r\n\r\n\
              Too many connections from your address: try again soon.",
        ),
    )
    .await;
    let _ = stream.shutdown().await;
}

/// A failed accept: a connection reset before it was taken is nothing; running out of file
/// descriptors is worth a line, and a pause, so the loop does not spin while none are free.
async fn pause_after_accept_error(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted
    ) {
        return;
    }
    tracing::warn!(%error, "cannot accept connections just now");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
