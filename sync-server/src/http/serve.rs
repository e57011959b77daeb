//! The listener: our own accept loop over hyper's HTTP/1 connections, so that every
//! connection is bounded (see [`ServerOptions`]): a cap on connections served at once, a
//! timeout for a request's headers (hyper's, which also runs while a kept-alive connection
//! waits for its next request), a keep-alive timeout, and an idle timeout while a request is
//! handled. `axum::serve` sets none of these. Each request carries the peer address as
//! [`ConnectInfo`], and a shutdown stops accepting, lets requests in flight finish and closes
//! idle connections. With [`ServerOptions::tls`] each connection first completes a TLS
//! handshake, within the header timeout.

use crate::options::ServerOptions;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tower::ServiceExt;

/// Serves `router` on `listener` within `options` until `shutdown` completes, then waits for
/// the open connections to finish their requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max =
        u32::try_from(options.max_connections.clamp(1, Semaphore::MAX_PERMITS)).unwrap_or(u32::MAX);
    let permits = Arc::new(Semaphore::new(max as usize));
    let (stop, stopped) = watch::channel(false);
    let options = Arc::new(options);
    tokio::pin!(shutdown);
    loop {
        // At the cap, stop accepting: new connections wait in the kernel's backlog.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let (router, options, stopped) = (router.clone(), options.clone(), stopped.clone());
        tokio::spawn(async move {
            let Some(tls) = &options.tls else {
                return connection(stream, remote, router, options, stopped, permit).await;
            };
            let handshake = tls.acceptor().accept(stream);
            match tokio::time::timeout(options.header_read_timeout, handshake).await {
                Ok(Ok(stream)) => {
                    connection(stream, remote, router, options, stopped, permit).await;
                }
                Ok(Err(e)) => tracing::debug!(error = %e, %remote, "TLS handshake failed"),
                Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a permit until it ends.
    let _ = permits.acquire_many(max).await;
    Ok(())
}

/// What the watchdog of one connection knows.
#[derive(Debug)]
struct Activity {
    /// When a byte last moved either way (or a request ended).
    last: Instant,
    /// Requests being handled.
    in_flight: usize,
    /// Requests received.
    served: u64,
    /// Whether bytes arrived since the last request started (the next request's headers).
    read_since_request: bool,
}

type Shared = Arc<Mutex<Activity>>;

fn lock(a: &Shared) -> std::sync::MutexGuard<'_, Activity> {
    a.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    remote: SocketAddr,
    router: Router,
    options: Arc<ServerOptions>,
    mut stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let activity: Shared = Arc::new(Mutex::new(Activity {
        last: Instant::now(),
        in_flight: 0,
        served: 0,
        read_since_request: false,
    }));
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let service = hyper::service::service_fn({
        let activity = activity.clone();
        move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            let handling = Handling::start(&activity);
            let router = router.clone();
            async move {
                let _handling = handling;
                router.oneshot(request.map(Body::new)).await
            }
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, %remote, "connection ended");
                }
                return;
            }
            _ = stop.changed(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            () = idle(&activity, &options), if !closing => {
                tracing::debug!(%remote, "closing an idle connection");
                conn.as_mut().graceful_shutdown();
                // A connection that stopped reading never finishes gracefully.
                tokio::select! {
                    _ = conn.as_mut() => {}
                    () = tokio::time::sleep(options.header_read_timeout) => {}
                }
                return;
            }
        }
    }
}

/// Completes when the connection has been idle past its limit: `keep_alive_timeout` between
/// requests, `idle_timeout` while one is handled. While headers are arriving, hyper's header
/// timeout governs (this waits `idle_timeout` as a backstop).
async fn idle(activity: &Shared, options: &ServerOptions) {
    loop {
        let deadline = {
            let a = lock(activity);
            let limit = if a.in_flight == 0 && a.served > 0 && !a.read_since_request {
                options.keep_alive_timeout
            } else {
                options.idle_timeout
            };
            a.last + limit
        };
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep_until(deadline).await;
    }
}

/// A request being handled (counted until its handler answers).
struct Handling(Shared);

impl Handling {
    fn start(activity: &Shared) -> Self {
        let mut a = lock(activity);
        a.in_flight += 1;
        a.served += 1;
        a.read_since_request = false;
        a.last = Instant::now();
        Handling(activity.clone())
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        let mut a = lock(&self.0);
        a.in_flight = a.in_flight.saturating_sub(1);
        a.last = Instant::now();
    }
}

/// A stream that notes when bytes move.
struct Watched<S> {
    inner: S,
    activity: Shared,
}

impl<S> Watched<S> {
    fn moved(&self, read: bool) {
        let mut a = lock(&self.activity);
        a.last = Instant::now();
        a.read_since_request |= read;
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.moved(true);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.moved(false);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.moved(false);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
