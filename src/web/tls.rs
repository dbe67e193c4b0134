//! The optional built-in TLS listener (`tls_listen`): the same application,
//! over TLS terminated here, asking every client for a certificate without
//! requiring one. Used for CRS/CNS card sign-in when no reverse proxy does it.
//!
//! Connections are served by `web::server` (the loop both listeners share), each
//! handshaken in its own task (a slow client never holds up the accept loop); the
//! certificates the client presented are attached to every request of that
//! connection as `PresentedChain`.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use rustls::{
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
    ServerConfig,
};
use tokio::net::TcpStream;
use tokio_rustls::{server::TlsStream, TlsAcceptor};

use crate::config::Settings;

/// The certificates the client presented in the TLS handshake of this
/// connection, end-entity first. Only proof of possession of the key has been
/// checked (by rustls); whether the chain is acceptable is `CardVerifier::check`'s call.
#[derive(Clone, Debug)]
pub struct PresentedChain(pub Arc<Vec<CertificateDer<'static>>>);

/// A client gets this long to finish the handshake (the PIN prompt of a card
/// happens inside it, so not too short).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// The TLS configuration of `tls_listen`: our certificate, and a request for a
/// client certificate from the CRS CAs when they are configured.
/// `client_verifier` asks for (and checks the signatures of) card certificates;
/// `None` asks for none.
pub fn acceptor(
    settings: &Settings,
    provider: Arc<rustls::crypto::CryptoProvider>,
    client_verifier: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
) -> anyhow::Result<TlsAcceptor> {
    let cert_file = settings.tls_cert_file.as_ref().context("tls_listen needs tls_cert_file")?;
    let key_file = settings.tls_key_file.as_ref().context("tls_listen needs tls_key_file")?;
    let chain = CertificateDer::pem_file_iter(cert_file)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("tls_cert_file: reading {}", cert_file.display()))?;
    anyhow::ensure!(!chain.is_empty(), "tls_cert_file: no certificate in {}", cert_file.display());
    let key = PrivateKeyDer::from_pem_file(key_file)
        .with_context(|| format!("tls_key_file: reading {}", key_file.display()))?;
    let builder = ServerConfig::builder_with_provider(provider).with_safe_default_protocol_versions()?;
    let builder = match client_verifier {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key).context("tls_cert_file and tls_key_file do not match")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The handshake of one connection (the server loop is `web::server`, shared with
/// the plain listener): the TLS stream and the certificates the client presented.
pub(crate) async fn handshake(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
) -> Option<(TlsStream<TcpStream>, Option<PresentedChain>)> {
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return None;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return None;
        }
    };
    let chain = tls
        .get_ref()
        .1
        .peer_certificates()
        .filter(|certs| !certs.is_empty())
        .map(|certs| PresentedChain(Arc::new(certs.iter().map(|c| c.clone().into_owned()).collect())));
    Some((tls, chain))
}
