//! Compressed answers: brotli or gzip, as `Accept-Encoding` asks, for every
//! text response. One negotiation ([`negotiate`]) and one compressor
//! ([`compress`]) serve the three places that answer: the page cache's stored
//! variants (compressed once, at [`Effort::Stored`]), the static assets
//! (precompressed on disk by the design-system build, else once in memory) and
//! every other response, compressed on the fly at [`Effort::OnTheFly`] by the
//! edge ([`compress_response`]). Every text answer says `Vary: Accept-Encoding`.

use std::io::Write as _;

use axum::{
    body::{Body, Bytes},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};

/// Bodies smaller than this go as they are: the headers would cost more.
const MIN_BYTES: usize = 1024;
/// A text body the edge compresses on the fly is read whole first; a longer
/// one (none today) would go uncompressed rather than be held in memory.
const MAX_ON_THE_FLY_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    pub fn token(self) -> Option<&'static str> {
        match self {
            Self::Identity => None,
            Self::Gzip => Some("gzip"),
            Self::Brotli => Some("br"),
        }
    }
}

/// How hard to compress: once for an answer kept and served many times, or
/// fast for an answer made for one visitor.
#[derive(Debug, Clone, Copy)]
pub enum Effort {
    Stored,
    OnTheFly,
}

/// The encoding `Accept-Encoding` prefers among brotli and gzip (highest
/// q-value; brotli on a tie, it is smaller); identity when neither is acceptable.
pub fn negotiate(headers: &HeaderMap) -> Encoding {
    let (mut brotli, mut gzip, mut any) = (None, None, None);
    for value in headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()) {
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match name.as_str() {
                "br" => brotli = Some(q),
                "gzip" | "x-gzip" => gzip = Some(q),
                "*" => any = Some(q),
                _ => {}
            }
        }
    }
    let brotli = brotli.or(any).unwrap_or(0.0);
    let gzip = gzip.or(any).unwrap_or(0.0);
    if brotli > 0.0 && brotli >= gzip {
        Encoding::Brotli
    } else if gzip > 0.0 {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// Whether a body of this type is text that compresses (fonts, images other
/// than SVG, PDFs and archives are compressed already).
pub fn is_compressible(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence.starts_with("text/")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/problem+json"
                | "application/javascript"
                | "application/xml"
                | "application/samlmetadata+xml"
                | "application/manifest+json"
                | "image/svg+xml"
        )
}

/// `data` compressed as `encoding` (unchanged for identity).
pub fn compress(encoding: Encoding, data: &[u8], effort: Effort) -> Bytes {
    match encoding {
        Encoding::Identity => Bytes::copy_from_slice(data),
        Encoding::Gzip => {
            let level = match effort {
                Effort::Stored => flate2::Compression::best(),
                Effort::OnTheFly => flate2::Compression::new(6),
            };
            let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 3), level);
            encoder.write_all(data).expect("writing to memory");
            encoder.finish().expect("writing to memory").into()
        }
        Encoding::Brotli => {
            let quality = match effort {
                Effort::Stored => 9,
                Effort::OnTheFly => 4,
            };
            let mut out = Vec::with_capacity(data.len() / 3);
            let params = brotli::enc::BrotliEncoderParams { quality, lgwin: 22, ..Default::default() };
            brotli::BrotliCompress(&mut &data[..], &mut out, &params).expect("writing to memory");
            out.into()
        }
    }
}

/// Adds `Accept-Encoding` to the response's `Vary` (once).
pub fn vary_on_encoding(headers: &mut HeaderMap) {
    let already = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("accept-encoding")));
    if !already {
        headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
}

/// Whether the edge may compress this answer: text, not encoded already,
/// with a body, and not one it is told to leave alone.
fn wants_compression(method: &Method, response: &Response) -> bool {
    let headers = response.headers();
    let text = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(is_compressible);
    let small = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| !(MIN_BYTES..=MAX_ON_THE_FLY_BYTES).contains(&n));
    text && !small
        && method != Method::HEAD
        && !headers.contains_key(header::CONTENT_ENCODING)
        && !headers.contains_key(header::CONTENT_RANGE)
        && !matches!(response.status(), StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED)
}

/// The edge's last step for an answer not kept by the page cache: compressed
/// on the fly as the visitor's `encoding` asks, when it is text.
pub async fn compress_response(method: &Method, response: Response, encoding: Encoding) -> Response {
    if !wants_compression(method, &response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    vary_on_encoding(&mut parts.headers);
    let Some(token) = encoding.token() else {
        return Response::from_parts(parts, body);
    };
    let bytes = match axum::body::to_bytes(body, MAX_ON_THE_FLY_BYTES).await {
        Ok(bytes) => bytes,
        Err(e) => {
            // The body failed or outgrew the bound after it was started: the
            // answer cannot be sent whole any more.
            tracing::warn!(error = %e, "response body not compressed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "response body failed").into_response();
        }
    };
    if bytes.len() < MIN_BYTES {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let compressed = if bytes.len() > 256 * 1024 {
        tokio::task::spawn_blocking(move || compress(encoding, &bytes, Effort::OnTheFly)).await.unwrap_or_default()
    } else {
        compress(encoding, &bytes, Effort::OnTheFly)
    };
    set_encoded(&mut parts.headers, token, compressed.len());
    Response::from_parts(parts, Body::from(compressed))
}

/// Marks headers as describing a body encoded with `token`, `len` bytes long.
pub fn set_encoded(headers: &mut HeaderMap, token: &'static str, len: usize) {
    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(token));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    // A strong validator names one representation: the encoded one is another.
    if let Some(etag) = headers.get(header::ETAG).and_then(|v| v.to_str().ok()) {
        if let Some(inner) = etag.strip_prefix('"').and_then(|e| e.strip_suffix('"')) {
            if let Ok(value) = HeaderValue::from_str(&format!("\"{inner}-{token}\"")) {
                headers.insert(header::ETAG, value);
            }
        }
    }
    vary_on_encoding(headers);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_visitor_gets_the_encoding_they_prefer_and_never_one_they_refused() {
        assert_eq!(negotiate(&accepting("gzip, deflate, br, zstd")), Encoding::Brotli);
        assert_eq!(negotiate(&accepting("gzip, deflate")), Encoding::Gzip);
        assert_eq!(negotiate(&accepting("br;q=0.5, gzip;q=0.8")), Encoding::Gzip);
        assert_eq!(negotiate(&accepting("br;q=0, gzip;q=0")), Encoding::Identity);
        assert_eq!(negotiate(&accepting("*")), Encoding::Brotli);
        assert_eq!(negotiate(&accepting("*;q=0.1, br;q=0")), Encoding::Gzip);
        assert_eq!(negotiate(&accepting("identity")), Encoding::Identity);
        assert_eq!(negotiate(&HeaderMap::new()), Encoding::Identity);
    }

    #[test]
    fn text_compresses_and_round_trips_media_does_not() {
        assert!(is_compressible("text/html; charset=utf-8") && is_compressible("image/svg+xml"));
        assert!(is_compressible("application/json") && is_compressible("text/javascript"));
        assert!(!is_compressible("font/woff2") && !is_compressible("application/pdf") && !is_compressible("image/png"));
        let page = "<p>Comune di Valmora — servizi online</p>".repeat(200);
        for effort in [Effort::Stored, Effort::OnTheFly] {
            let gz = compress(Encoding::Gzip, page.as_bytes(), effort);
            let mut back = String::new();
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut back).unwrap();
            assert_eq!(back, page);
            let br = compress(Encoding::Brotli, page.as_bytes(), effort);
            let mut back = Vec::new();
            brotli::BrotliDecompress(&mut &br[..], &mut back).unwrap();
            assert_eq!(back, page.as_bytes());
            assert!(br.len() < page.len() / 10 && gz.len() < page.len() / 10);
        }
    }
}
