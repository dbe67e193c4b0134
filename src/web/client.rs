//! Who is on the other end of a request: the client's address behind our
//! trusted proxies, decided once per request by `web::dispatch`.

use std::net::IpAddr;

use axum::http::{header, HeaderMap};

/// The client's address, decided once per request by `web::dispatch` (see
/// `client_address`); every rate limit and session record uses it.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub Option<IpAddr>);

/// The client address of a request whose connection came from `peer`.
///
/// Only a trusted proxy's `X-Forwarded-For` is read, and from the right: each
/// proxy appends the address it received the request from, so the entries a
/// client wrote itself are on the left, where nobody checked them. The client is
/// the right-most address that is not one of our proxies; if every entry is a
/// proxy, the left-most. An entry that is not an address ends the walk (the hop
/// to its right is the last one we can vouch for).
pub fn client_address(peer: Option<IpAddr>, headers: &HeaderMap, trusted_proxies: &[ipnet::IpNet]) -> Option<IpAddr> {
    let peer = peer.map(|p| p.to_canonical());
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    let Some(mut client) = peer.filter(trusted) else { return peer };
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for entry in entries.iter().rev() {
        let Ok(ip) = entry.parse::<IpAddr>().map(|ip| ip.to_canonical()) else { break };
        client = ip;
        if !trusted(&ip) {
            break;
        }
    }
    Some(client)
}

/// Marks a request that came through one of the configured trusted proxies.
#[derive(Clone, Copy, Debug)]
pub struct TrustedPeer;

/// The value of the request's cookie `name`, if it sent one.
pub fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn xff(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_client_is_the_right_most_address_not_ours() {
        let proxies: Vec<ipnet::IpNet> = vec!["127.0.0.1/32".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        let proxy = Some("127.0.0.1".parse().unwrap());
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // What the old nginx config forwarded: the client's own claim, then the real address.
        assert_eq!(client_address(proxy, &xff("198.51.100.7, 203.0.113.9"), &proxies), ip("203.0.113.9"));
        // Through two of our proxies.
        assert_eq!(client_address(proxy, &xff("1.2.3.4, 203.0.113.9, 10.1.2.3"), &proxies), ip("203.0.113.9"));
        // Every hop is ours: the left-most.
        assert_eq!(client_address(proxy, &xff("10.9.9.9, 10.1.2.3"), &proxies), ip("10.9.9.9"));
        // Garbage written by a client stops the walk at the hop we trust.
        assert_eq!(client_address(proxy, &xff("x, 10.1.2.3"), &proxies), ip("10.1.2.3"));
        assert_eq!(client_address(proxy, &xff("::ffff:192.0.2.1"), &proxies), ip("192.0.2.1"));
        assert_eq!(client_address(proxy, &HeaderMap::new(), &proxies), proxy);
        // From anyone else the header means nothing.
        let stranger = ip("203.0.113.50");
        assert_eq!(client_address(stranger, &xff("198.51.100.7"), &proxies), stranger);
    }
}
