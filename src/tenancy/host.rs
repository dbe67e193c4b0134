//! Turning a `Host` header into a lookup key, refusing anything that is not a
//! plausible DNS name or IP literal.

use std::net::IpAddr;

use http::{header::HOST, HeaderMap};
use ipnet::IpNet;

pub const MAX_HOST_LEN: usize = 253;

#[derive(Debug, PartialEq, Eq)]
pub enum HostError {
    Missing,
    Invalid,
}

/// Lower-cases, strips the port and one trailing dot, and validates the labels.
pub fn normalize_host(raw: &str) -> Result<String, HostError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(HostError::Missing);
    }
    if raw.len() > MAX_HOST_LEN + 7 {
        return Err(HostError::Invalid);
    }
    let name = if let Some(rest) = raw.strip_prefix('[') {
        // IPv6 literal: "[::1]" or "[::1]:8080".
        let (addr, after) = rest.split_once(']').ok_or(HostError::Invalid)?;
        if !(after.is_empty() || valid_port(after.strip_prefix(':').ok_or(HostError::Invalid)?)) {
            return Err(HostError::Invalid);
        }
        let addr: std::net::Ipv6Addr = addr.parse().map_err(|_| HostError::Invalid)?;
        return Ok(format!("[{addr}]"));
    } else {
        match raw.rsplit_once(':') {
            Some((name, port)) if valid_port(port) => name,
            Some(_) => return Err(HostError::Invalid),
            None => raw,
        }
    };
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if name.is_empty() || name.len() > MAX_HOST_LEN {
        return Err(HostError::Invalid);
    }
    let labels_ok = name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    if labels_ok {
        Ok(name)
    } else {
        Err(HostError::Invalid)
    }
}

fn valid_port(port: &str) -> bool {
    !port.is_empty() && port.len() <= 5 && port.parse::<u16>().is_ok()
}

/// Whether the peer of the connection is one of our reverse proxies, whose
/// forwarding headers (host, client address, client certificate) are believed.
pub fn is_trusted_peer(peer: Option<IpAddr>, trusted_proxies: &[IpNet]) -> bool {
    peer.is_some_and(|ip| trusted_proxies.iter().any(|net| net.contains(&ip)))
}

/// The host the client asked for: `X-Forwarded-Host` only when the peer is one of
/// our trusted proxies, otherwise `Host`.
pub fn requested_host<'h>(headers: &'h HeaderMap, peer: Option<IpAddr>, trusted_proxies: &[IpNet]) -> Option<&'h str> {
    if is_trusted_peer(peer, trusted_proxies) {
        if let Some(forwarded) = headers.get("x-forwarded-host").and_then(|v| v.to_str().ok()) {
            // The proxy nearest the client wrote the first entry.
            return forwarded.split(',').next().map(str::trim);
        }
    }
    headers.get(HOST).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_port_and_trailing_dot() {
        assert_eq!(normalize_host("Valmora.LocalHost:8080").unwrap(), "valmora.localhost");
        assert_eq!(normalize_host("valmora.localhost.").unwrap(), "valmora.localhost");
        assert_eq!(normalize_host("127.0.0.1:80").unwrap(), "127.0.0.1");
        assert_eq!(normalize_host("[::1]:8080").unwrap(), "[::1]");
    }

    #[test]
    fn refuses_hostile_hosts() {
        for bad in [
            "",
            "a..b",
            "-a.b",
            "a_b.example",
            "valmora.localhost:99999",
            "valmora.localhost:80:80",
            "valmora.localhost/../x",
            "val mora.localhost",
            "vàlmora.localhost",
            "[::1",
            &"a".repeat(64),
            &format!("{}.it", ["abcdefghij"; 25].join(".")),
        ] {
            assert!(normalize_host(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
