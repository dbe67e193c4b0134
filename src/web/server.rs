//! The HTTP server loop, one for both listeners (`listen`, and `tls_listen`
//! with its handshake): hyper's HTTP/1.1 with a read timeout on request headers,
//! every request body wrapped in an idle and a total timeout, the peer address
//! (and the client certificate, over TLS) on every request, and a bounded drain
//! at shutdown. A client that stops sending is cut off instead of holding a
//! connection, a task and whatever its handler holds.

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    extract::{ConnectInfo, Request},
    response::Response,
};
use http_body::{Frame, SizeHint};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::{GracefulShutdown, Watcher},
};
use tokio::{
    net::TcpListener,
    time::{Instant, Sleep},
};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::tls::PresentedChain;
use crate::config::Settings;

/// In-flight requests get this long to finish at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to send what it sends.
#[derive(Clone, Copy, Debug)]
pub struct ReadTimeouts {
    /// The request line and headers.
    pub headers: Duration,
    /// A body with nothing arriving.
    pub body_idle: Duration,
    /// A whole body, from the moment the handler starts reading it.
    pub body_total: Duration,
}

impl ReadTimeouts {
    pub fn from_settings(settings: &Settings) -> Self {
        let secs = |s: u64| Duration::from_secs(s.max(1));
        ReadTimeouts {
            headers: secs(settings.header_read_timeout_secs),
            body_idle: secs(settings.body_idle_timeout_secs),
            body_total: secs(settings.body_total_timeout_secs),
        }
    }
}

/// Serves `service` on `listener` (over TLS when `tls` is given) until
/// `shutdown` completes, then drains open connections for a while.
pub async fn serve<S>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    service: S,
    timeouts: ReadTimeouts,
    shutdown: impl Future<Output = ()>,
) where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Responses leave at once instead of waiting on Nagle's algorithm.
        let _ = tcp.set_nodelay(true);
        let (tls, service, watcher) = (tls.clone(), service.clone(), graceful.watcher());
        // Each connection in its own task: a slow client never holds up the accept loop.
        tokio::spawn(async move {
            match tls {
                None => connection(TokioIo::new(tcp), peer, None, service, timeouts, watcher).await,
                Some(acceptor) => {
                    if let Some((stream, chain)) = super::tls::handshake(&acceptor, tcp, peer).await {
                        connection(TokioIo::new(stream), peer, chain, service, timeouts, watcher).await;
                    }
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after the drain timeout");
    }
}

async fn connection<I, S>(
    io: I,
    peer: SocketAddr,
    chain: Option<PresentedChain>,
    service: S,
    timeouts: ReadTimeouts,
    watcher: Watcher,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let per_request = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let mut request =
            request.map(|body| Body::new(TimeoutBody::new(body, timeouts.body_idle, timeouts.body_total)));
        request.extensions_mut().insert(ConnectInfo(peer));
        if let Some(chain) = &chain {
            request.extensions_mut().insert(chain.clone());
        }
        service.clone().oneshot(request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(timeouts.headers);
    if let Err(e) = watcher.watch(builder.serve_connection(io, per_request)).await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// Why a request body was cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyTimeout {
    #[error("request body idle for too long")]
    Idle,
    #[error("request body took too long")]
    Total,
}

/// Whether `error`, or any of its causes, is a [`BodyTimeout`].
pub fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.downcast_ref::<BodyTimeout>().is_some() {
            return true;
        }
        current = e.source();
    }
    false
}

/// A request body that fails with [`BodyTimeout`] when nothing arrives for
/// `idle`, or when it is still arriving `total` after the first read. The clocks
/// start when the handler first reads (a handler may check things first).
pub struct TimeoutBody<B> {
    inner: B,
    idle: Duration,
    total: Duration,
    idle_timer: Option<Pin<Box<Sleep>>>,
    total_timer: Option<Pin<Box<Sleep>>>,
    failed: bool,
}

impl<B> TimeoutBody<B> {
    pub fn new(inner: B, idle: Duration, total: Duration) -> Self {
        TimeoutBody { inner, idle, total, idle_timer: None, total_timer: None, failed: false }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<B> http_body::Body for TimeoutBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            if let Some(timer) = &mut this.idle_timer {
                timer.as_mut().reset(Instant::now() + this.idle);
            }
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let total = this.total;
        let total_timer = this.total_timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(total)));
        let idle = this.idle;
        let idle_timer = this.idle_timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
        let timeout = if total_timer.as_mut().poll(cx).is_ready() {
            BodyTimeout::Total
        } else if idle_timer.as_mut().poll(cx).is_ready() {
            BodyTimeout::Idle
        } else {
            return Poll::Pending;
        };
        this.failed = true;
        Poll::Ready(Some(Err(Box::new(timeout) as BoxError)))
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    async fn next<B: http_body::Body + Unpin>(body: &mut B) -> Option<Result<Frame<B::Data>, B::Error>> {
        std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await
    }

    #[tokio::test]
    async fn a_silent_body_times_out() {
        let chunks = futures::stream::once(async { Ok::<_, Infallible>(Bytes::from_static(b"a")) })
            .chain(futures::stream::pending());
        let mut body = TimeoutBody::new(Body::from_stream(chunks), Duration::from_millis(50), Duration::from_secs(60));
        let first = next(&mut body).await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), Bytes::from_static(b"a"));
        let silent = next(&mut body).await.unwrap().unwrap_err();
        assert!(is_body_timeout(silent.as_ref()));
        assert_eq!(silent.downcast_ref::<BodyTimeout>(), Some(&BodyTimeout::Idle));
        assert!(next(&mut body).await.is_none(), "nothing after the timeout");
    }

    #[tokio::test]
    async fn a_trickling_body_hits_the_total_timeout() {
        let chunks = futures::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Some((Ok::<_, Infallible>(Bytes::from_static(b".")), ()))
        });
        let mut body = TimeoutBody::new(Body::from_stream(chunks), Duration::from_secs(60), Duration::from_millis(100));
        let mut frames = 0;
        let error = loop {
            match next(&mut body).await.unwrap() {
                Ok(_) => frames += 1,
                Err(e) => break e,
            }
        };
        assert!(frames > 0, "the body flowed before it was cut off");
        assert_eq!(error.downcast_ref::<BodyTimeout>(), Some(&BodyTimeout::Total));
    }
}
