//! Sign-in with a CRS/CNS smart card: a TLS client certificate, presented either
//! on the built-in TLS listener (`web::tls`) or through a trusted reverse proxy
//! that forwards it in a header. Either way the application judges the chain
//! itself, against its own CA list, with the same code — a proxy's word that
//! the certificate is fine is never enough.

use std::{path::PathBuf, sync::Arc};

use axum::{
    extract::{FromRequestParts, Query, State},
    http::{header, request::Parts, HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use rustls::{
    client::danger::HandshakeSignatureValid,
    crypto::CryptoProvider,
    pki_types::{pem::PemObject, CertificateDer, UnixTime},
    server::{
        danger::{ClientCertVerified, ClientCertVerifier},
        WebPkiClientVerifier,
    },
    CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme,
};
use serde::Deserialize;

use super::{
    authz::{Access, RouteSpec},
    csrf::CsrfToken,
    login::{auth_context, insert_next, safe_next},
    session::{self, ClientInfo, MaybeSession},
};
use crate::tenancy::{Level, Method};
use crate::users::{self, ProvenIdentity};
use crate::web::{client::TrustedPeer, tls::PresentedChain};
use crate::{
    db::TenantTx,
    error::{AppError, AppResult},
    input::normalize_fiscal_code,
    state::AppState,
    web::render_page,
    web::CurrentTenant,
};

pub fn routes() -> Vec<RouteSpec> {
    vec![RouteSpec::new("/accesso/crs", &["GET"], Access::Public, get(card_sign_in))]
}

/// Why a card was not accepted; each is a message in `locales/it.toml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No certificate reached us: no card, no reader, or the browser sent none.
    NoCertificate,
    /// This installation has no CA list configured.
    Unavailable,
    /// Outside its validity period.
    Expired,
    /// Not issued by a certification authority we recognise.
    UnknownIssuer,
    /// A certificate, but not one meant for signing in (extended key usage).
    WrongUse,
    /// Unreadable or otherwise invalid (revoked, malformed…).
    Invalid,
    /// Valid, but it names no (valid) Italian fiscal code.
    NoFiscalCode,
}

impl Refusal {
    pub fn message_key(self) -> &'static str {
        match self {
            Self::NoCertificate => "crs.no_certificate",
            Self::Unavailable => "crs.unavailable",
            Self::Expired => "crs.expired",
            Self::UnknownIssuer => "crs.unknown_issuer",
            Self::WrongUse => "crs.wrong_use",
            Self::Invalid => "crs.invalid",
            Self::NoFiscalCode => "crs.no_fiscal_code",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            // Instructions, not an error: the visitor has not tried a card yet.
            Self::NoCertificate => StatusCode::OK,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::FORBIDDEN,
        }
    }
}

impl From<rustls::Error> for Refusal {
    fn from(e: rustls::Error) -> Self {
        match e {
            rustls::Error::InvalidCertificate(c) => match c {
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => Self::Expired,
                CertificateError::UnknownIssuer | CertificateError::BadSignature => Self::UnknownIssuer,
                CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => Self::WrongUse,
                _ => Self::Invalid,
            },
            _ => Self::Invalid,
        }
    }
}

/// What a verified card says about its holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Card {
    pub fiscal_code: String,
    pub given_name: String,
    pub family_name: String,
}

/// The CA list of the CNS/CRS issuers, as a rustls client-certificate verifier.
pub struct CardVerifier {
    webpki: Option<Arc<dyn ClientCertVerifier>>,
}

pub fn crypto_provider() -> Arc<CryptoProvider> {
    // Explicit rather than process-wide: other crates link rustls too.
    Arc::new(rustls::crypto::ring::default_provider())
}

impl CardVerifier {
    /// Loads every certificate of every PEM file; none configured means the
    /// method is unavailable, an unreadable file is a startup error.
    pub fn load(files: &[PathBuf]) -> anyhow::Result<Self> {
        use anyhow::Context;
        if files.is_empty() {
            return Ok(Self { webpki: None });
        }
        let mut roots = RootCertStore::empty();
        for file in files {
            let certs = CertificateDer::pem_file_iter(file)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .with_context(|| format!("crs_ca_files: reading {}", file.display()))?;
            anyhow::ensure!(!certs.is_empty(), "crs_ca_files: no certificate in {}", file.display());
            for cert in certs {
                roots
                    .add(cert)
                    .with_context(|| format!("crs_ca_files: a certificate of {} is not a usable CA", file.display()))?;
            }
        }
        // Visitors without a card must still reach the site over the TLS listener.
        let webpki = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), crypto_provider())
            .allow_unauthenticated()
            .build()?;
        Ok(Self { webpki: Some(webpki) })
    }

    pub fn is_configured(&self) -> bool {
        self.webpki.is_some()
    }

    /// For the TLS listener: asks for a card (naming our CAs, so browsers offer
    /// only matching certificates) and checks the client holds its key, but lets
    /// an unacceptable certificate through to `check`, so that the citizen gets
    /// a page saying why instead of a browser's TLS error.
    pub fn handshake_verifier(&self) -> Option<Arc<dyn ClientCertVerifier>> {
        self.webpki.clone().map(|inner| Arc::new(JudgedLater(inner)) as Arc<dyn ClientCertVerifier>)
    }

    /// The whole verdict on a presented chain (end-entity first): chain to one
    /// of our CAs, validity period now, client-authentication use, fiscal code.
    pub fn check(&self, chain: &[CertificateDer<'_>]) -> Result<Card, Refusal> {
        let Some(webpki) = &self.webpki else { return Err(Refusal::Unavailable) };
        let Some((end_entity, intermediates)) = chain.split_first() else { return Err(Refusal::NoCertificate) };
        webpki.verify_client_cert(end_entity, intermediates, UnixTime::now())?;
        card_of(end_entity)
    }
}

/// See `CardVerifier::handshake_verifier`. Signatures are checked by the inner
/// webpki verifier; only the chain judgement is deferred.
#[derive(Debug)]
struct JudgedLater(Arc<dyn ClientCertVerifier>);

impl ClientCertVerifier for JudgedLater {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The chain of this request: the TLS listener's, or else the one a trusted proxy
/// forwarded in `header_name` (URL-encoded PEM, as nginx's
/// `$ssl_client_escaped_cert`; further PEM blocks are intermediates). Anyone
/// else's header is ignored: a certificate is public, so believing it from a
/// client would let anyone holding a copy sign in as its owner.
fn presented_chain(
    tls: Option<&PresentedChain>,
    trusted_peer: bool,
    headers: &HeaderMap,
    header_name: &str,
) -> Result<Vec<CertificateDer<'static>>, Refusal> {
    if let Some(chain) = tls {
        return Ok(chain.0.as_ref().clone());
    }
    if !trusted_peer {
        return Err(Refusal::NoCertificate);
    }
    let Some(value) = headers.get(header_name).filter(|v| !v.is_empty()) else { return Err(Refusal::NoCertificate) };
    let pem = percent_encoding::percent_decode(value.as_bytes()).collect::<Vec<u8>>();
    let chain = CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>().map_err(|_| Refusal::Invalid)?;
    if chain.is_empty() {
        return Err(Refusal::Invalid);
    }
    Ok(chain)
}

/// Extractor: the chain of this request (see `presented_chain`), not yet judged.
pub struct Presented(pub Result<Vec<CertificateDer<'static>>, Refusal>);

impl FromRequestParts<AppState> for Presented {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let tls = parts.extensions.get::<PresentedChain>();
        let trusted = parts.extensions.get::<TrustedPeer>().is_some();
        Ok(Self(presented_chain(tls, trusted, &parts.headers, &state.settings.crs_header)))
    }
}

#[derive(Deserialize)]
pub struct CardQuery {
    next: Option<String>,
}

async fn card_sign_in(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    client: ClientInfo,
    MaybeSession(previous): MaybeSession,
    Presented(presented): Presented,
    Query(query): Query<CardQuery>,
) -> AppResult<Response> {
    if !tenant.0.auth.enabled(Method::Crs) {
        return Err(AppError::NotFound);
    }
    let next = safe_next(query.next.as_deref());
    let verdict = presented.and_then(|chain| state.crs.check(&chain));
    let card = match verdict {
        Ok(card) => card,
        Err(refusal) => {
            if refusal != Refusal::NoCertificate {
                tracing::info!(tenant = %tenant.0.slug, reason = ?refusal, "card refused");
            }
            let mut context = auth_context(&tenant, &csrf);
            insert_next(&mut context, &next);
            context.insert("reason", refusal.message_key());
            context.insert("no_certificate", &(refusal == Refusal::NoCertificate));
            let page = render_page(&state, &tenant.site(), "auth/access_crs.html", &context)?;
            return Ok((refusal.status(), page).into_response());
        }
    };
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let user_id = users::for_identity(
        &mut tx,
        ProvenIdentity {
            fiscal_code: &card.fiscal_code,
            given_name: &card.given_name,
            family_name: &card.family_name,
            email: None,
            mobile: None,
        },
    )
    .await?;
    let cookie = session::start(
        &mut tx,
        session::Opening::citizen(user_id, Method::Crs, Level::L2),
        previous.as_ref().map(|s| s.token_hash.as_slice()),
        &client,
    )
    .await?;
    tx.commit().await?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response())
}

// --- Reading the holder from the certificate -------------------------------

/// Subject attributes (DER contents of the OID `2.5.4.n`).
const CN: [u8; 3] = [0x55, 0x04, 3];
const SURNAME: [u8; 3] = [0x55, 0x04, 4];
const SERIAL_NUMBER: [u8; 3] = [0x55, 0x04, 5];
const GIVEN_NAME: [u8; 3] = [0x55, 0x04, 42];
const DN_QUALIFIER: [u8; 3] = [0x55, 0x04, 46];

/// The holder of a card certificate. CNS/CRS profiles put the fiscal code in
/// the CN as `CODICEFISCALE/serial.hash`, usually also in serialNumber as
/// `TINIT-CODICEFISCALE` (older cards: `IT:CODICEFISCALE`), sometimes in
/// dnQualifier; names are in givenName and surname. Every place that holds a
/// valid code must hold the same one.
pub fn card_of(cert: &CertificateDer<'_>) -> Result<Card, Refusal> {
    let attributes = subject_attributes(cert).ok_or(Refusal::Invalid)?;
    let value = |oid: [u8; 3]| attributes.iter().filter(move |(o, _)| o[..] == oid[..]).map(|(_, v)| v.as_str());
    let before_slash = |v: &str| v.split('/').next().unwrap_or_default().to_string();
    let candidates = value(SERIAL_NUMBER)
        .map(|v| {
            let upper = v.trim().to_ascii_uppercase();
            ["TINIT-", "IT:"].iter().find_map(|p| upper.strip_prefix(p).map(str::to_string)).unwrap_or(upper)
        })
        .chain(value(CN).map(before_slash))
        .chain(value(DN_QUALIFIER).map(before_slash));
    let mut codes: Vec<String> = Vec::new();
    for code in candidates.filter_map(|c| normalize_fiscal_code(&c)) {
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    let [fiscal_code] = <[String; 1]>::try_from(codes).map_err(|_| Refusal::NoFiscalCode)?;
    let name = |oid| value(oid).next().unwrap_or_default().trim().to_string();
    Ok(Card { fiscal_code, given_name: name(GIVEN_NAME), family_name: name(SURNAME) })
}

/// One DER element: tag, contents, what follows.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |len, &b| (len << 8) | usize::from(b));
        rest = &rest[n..];
        len
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// (attribute type OID contents, string value) of the subject name. A small
/// walk rather than an X.509 crate: by the time we read it, webpki has already
/// parsed and verified the certificate; we only need the subject's strings.
fn subject_attributes(cert: &[u8]) -> Option<Vec<(Vec<u8>, String)>> {
    const SEQUENCE: u8 = 0x30;
    const SET: u8 = 0x31;
    let (SEQUENCE, certificate, _) = der_element(cert)? else { return None };
    let (SEQUENCE, tbs, _) = der_element(certificate)? else { return None };
    // [0] version (optional), serialNumber, signature, issuer, validity, subject.
    let (first, _, mut rest) = der_element(tbs)?;
    let before_subject = if first == 0xa0 { 4 } else { 3 };
    for _ in 0..before_subject {
        rest = der_element(rest)?.2;
    }
    let (SEQUENCE, mut rdns, _) = der_element(rest)? else { return None };
    let mut attributes = Vec::new();
    while !rdns.is_empty() {
        let (SET, mut set, after) = der_element(rdns)? else { return None };
        rdns = after;
        while !set.is_empty() {
            let (SEQUENCE, pair, after) = der_element(set)? else { return None };
            set = after;
            let (0x06, oid, value) = der_element(pair)? else { return None };
            let (tag, value, _) = der_element(value)?;
            let text = match tag {
                // UTF8String, PrintableString, IA5String
                0x0c | 0x13 | 0x16 => String::from_utf8(value.to_vec()).ok()?,
                // TeletexString, as Latin-1 (what issuers actually put there)
                0x14 => value.iter().map(|&b| char::from(b)).collect(),
                // BMPString
                0x1e => char::decode_utf16(value.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])))
                    .collect::<Result<String, _>>()
                    .ok()?,
                _ => continue,
            };
            attributes.push((oid.to_vec(), text));
        }
    }
    Some(attributes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_with(subject: &[(&[u8; 3], u8, &str)]) -> Vec<u8> {
        fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
            let mut out = vec![tag];
            if body.len() < 0x80 {
                out.push(body.len() as u8);
            } else {
                out.extend([0x82, (body.len() >> 8) as u8, body.len() as u8]);
            }
            out.extend_from_slice(body);
            out
        }
        let rdns: Vec<u8> = subject
            .iter()
            .flat_map(|(oid, tag, value)| {
                tlv(0x31, &tlv(0x30, &[tlv(0x06, *oid), tlv(*tag, value.as_bytes())].concat()))
            })
            .collect();
        let tbs = [
            tlv(0xa0, &tlv(0x02, &[2])),
            tlv(0x02, &[1]),
            tlv(0x30, &[]),
            tlv(0x30, &[]),
            tlv(0x30, &[]),
            tlv(0x30, &rdns),
        ]
        .concat();
        tlv(0x30, &[tlv(0x30, &tbs), tlv(0x30, &[]), tlv(0x03, &[0])].concat())
    }

    #[test]
    fn reads_the_fiscal_code_from_cn_serial_number_or_dn_qualifier() {
        let cert = cert_with(&[
            (&CN, 0x0c, "RSSMRA85T10A562S/7420091000012345.abcdef"),
            (&SERIAL_NUMBER, 0x13, "TINIT-RSSMRA85T10A562S"),
            (&GIVEN_NAME, 0x0c, "MARIA"),
            (&SURNAME, 0x0c, "ROSSI"),
        ]);
        let card = card_of(&CertificateDer::from(cert)).unwrap();
        assert_eq!(
            card,
            Card { fiscal_code: "RSSMRA85T10A562S".into(), given_name: "MARIA".into(), family_name: "ROSSI".into() }
        );
        let only_cn = cert_with(&[(&CN, 0x13, "rssmra85t10a562s/123")]);
        assert_eq!(card_of(&CertificateDer::from(only_cn)).unwrap().fiscal_code, "RSSMRA85T10A562S");
        let old_serial = cert_with(&[(&CN, 0x0c, "Maria Rossi"), (&SERIAL_NUMBER, 0x13, "IT:RSSMRA85T10A562S")]);
        assert_eq!(card_of(&CertificateDer::from(old_serial)).unwrap().fiscal_code, "RSSMRA85T10A562S");
        let qualifier = cert_with(&[(&DN_QUALIFIER, 0x13, "RSSMRA85T10A562S")]);
        assert_eq!(card_of(&CertificateDer::from(qualifier)).unwrap().fiscal_code, "RSSMRA85T10A562S");
    }

    #[test]
    fn refuses_missing_invalid_or_conflicting_codes() {
        for subject in [
            vec![(&CN, 0x0c, "Maria Rossi")],
            vec![(&CN, 0x0c, "RSSMRA85T10A562T/123")],
            vec![(&CN, 0x0c, "RSSMRA85T10A562S/1"), (&SERIAL_NUMBER, 0x13, "TINIT-BNCGLI90A41F205H")],
        ] {
            let subject: Vec<(&[u8; 3], u8, &str)> = subject;
            assert_eq!(card_of(&CertificateDer::from(cert_with(&subject))), Err(Refusal::NoFiscalCode), "{subject:?}");
        }
        assert_eq!(card_of(&CertificateDer::from(vec![0x30, 0x05, 1])), Err(Refusal::Invalid));
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-ssl-client-cert",
            "-----BEGIN%20CERTIFICATE-----%0AAAAA%0A-----END%20CERTIFICATE-----%0A".parse().unwrap(),
        );
        assert_eq!(presented_chain(None, false, &headers, "X-SSL-Client-Cert"), Err(Refusal::NoCertificate));
        let chain = presented_chain(None, true, &headers, "X-SSL-Client-Cert").unwrap();
        assert_eq!(chain.len(), 1);
        headers.insert("x-ssl-client-cert", "garbage".parse().unwrap());
        assert_eq!(presented_chain(None, true, &headers, "X-SSL-Client-Cert"), Err(Refusal::Invalid));
    }
}
