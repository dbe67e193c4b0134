//! Outgoing HTTP calls to addresses an ente chose (workflow webhooks): only to
//! public addresses, only over https, unless the platform's settings list the
//! host in `outbound_allowed_hosts`.
//!
//! The check is made on the address actually connected to: the client's DNS
//! resolver drops every non-public address a name resolves to (and fails when
//! none is left), so a name cannot resolve to a public address when checked and
//! to `127.0.0.1` when connected. Hosts written as IP literals never reach a
//! resolver: `check_url` refuses them before anything is sent. Redirects are
//! not followed, and no proxy from the environment is used (a proxy would do
//! the resolving itself).

use std::{
    collections::{BTreeSet, HashMap},
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why a destination is refused. Names the host at most, never the path or
/// query (where a URL's secrets are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Not `https` (or `http` for an allowed host).
    Scheme(String),
    /// No host in the URL.
    NoHost,
    /// The host is, or resolves only to, non-public addresses.
    NotPublic(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Scheme(scheme) => {
                write!(f, "refused: scheme {scheme:?} (https only, http for outbound_allowed_hosts)")
            }
            Self::NoHost => f.write_str("refused: no host"),
            Self::NotPublic(host) => {
                write!(f, "refused: {host} is not a public address (outbound_allowed_hosts can allow it)")
            }
        }
    }
}

impl std::error::Error for Refused {}

/// The hosts of `outbound_allowed_hosts`, normalised (lower case, no trailing
/// dot, IPv6 literals without brackets).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AllowList(BTreeSet<String>);

impl AllowList {
    pub fn new<'a>(hosts: impl IntoIterator<Item = &'a String>) -> Self {
        Self(hosts.into_iter().map(|h| normalise(h)).filter(|h| !h.is_empty()).collect())
    }

    pub fn allows(&self, host: &str) -> bool {
        self.0.contains(&normalise(host))
    }
}

fn normalise(host: &str) -> String {
    host.trim().trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase()
}

/// Checks what can be checked before connecting: the scheme, and a host written
/// as an IP address. A host name is checked by the client's resolver.
pub fn check_url(url: &reqwest::Url, allowed: &AllowList) -> Result<(), Refused> {
    let host = url.host().ok_or(Refused::NoHost)?;
    let name = match &host {
        url::Host::Domain(d) => d.to_string(),
        url::Host::Ipv4(ip) => ip.to_string(),
        url::Host::Ipv6(ip) => ip.to_string(),
    };
    let allowed_host = allowed.allows(&name);
    match url.scheme() {
        "https" => {}
        "http" if allowed_host => {}
        other => return Err(Refused::Scheme(other.to_string())),
    }
    let literal = match host {
        url::Host::Domain(_) => None,
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
    };
    match literal {
        Some(ip) if !allowed_host && !is_public(ip) => Err(Refused::NotPublic(name)),
        _ => Ok(()),
    }
}

/// Whether a `reqwest` error comes from a refusal (of the resolver).
pub fn refusal(error: &reqwest::Error) -> Option<Refused> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused.clone());
        }
        source = e.source();
    }
    None
}

/// A client for calls to ente-chosen destinations, with the resolver that
/// refuses non-public addresses. One per allow list (connections are reused).
pub fn client(allowed: &AllowList) -> reqwest::Client {
    static CLIENTS: OnceLock<Mutex<HashMap<AllowList, reqwest::Client>>> = OnceLock::new();
    let mut clients = CLIENTS.get_or_init(Default::default).lock().expect("outbound clients lock");
    clients
        .entry(allowed.clone())
        .or_insert_with(|| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(20))
                // A redirect could send the body somewhere the ente did not choose,
                // or somewhere inside.
                .redirect(reqwest::redirect::Policy::none())
                // A proxy would resolve the name itself, past our resolver.
                .no_proxy()
                .dns_resolver(Arc::new(PublicOnly { allowed: allowed.clone() }))
                .build()
                .expect("building the outbound HTTP client")
        })
        .clone()
}

/// Resolves with the system's resolver, then keeps only public addresses
/// (every address of an allowed host).
struct PublicOnly {
    allowed: AllowList,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let allowed = self.allowed.allows(&host);
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = addresses.iter().copied().filter(|a| allowed || is_public(a.ip())).collect();
            if kept.is_empty() {
                let refused: Box<dyn std::error::Error + Send + Sync> = Box::new(Refused::NotPublic(host));
                return Err(refused);
            }
            if kept.len() < addresses.len() {
                tracing::warn!(host, "outbound call: non-public addresses of the host dropped");
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// Whether `ip` is a public unicast address: not loopback, private, link-local,
/// shared (CGNAT), unspecified, broadcast, multicast, reserved, documentation or
/// benchmarking, nor an IPv6 form of one of those.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    const NOT_PUBLIC: [([u8; 4], u32); 15] = [
        ([0, 0, 0, 0], 8),       // "this network", unspecified
        ([10, 0, 0, 0], 8),      // private
        ([100, 64, 0, 0], 10),   // shared address space (CGNAT)
        ([127, 0, 0, 0], 8),     // loopback
        ([169, 254, 0, 0], 16),  // link-local (cloud metadata services)
        ([172, 16, 0, 0], 12),   // private
        ([192, 0, 0, 0], 24),    // IETF protocol assignments
        ([192, 0, 2, 0], 24),    // documentation (TEST-NET-1)
        ([192, 88, 99, 0], 24),  // 6to4 relay anycast
        ([192, 168, 0, 0], 16),  // private
        ([198, 18, 0, 0], 15),   // benchmarking
        ([198, 51, 100, 0], 24), // documentation (TEST-NET-2)
        ([203, 0, 113, 0], 24),  // documentation (TEST-NET-3)
        ([224, 0, 0, 0], 4),     // multicast
        ([240, 0, 0, 0], 4),     // reserved, and 255.255.255.255 broadcast
    ];
    !NOT_PUBLIC.iter().any(|(net, prefix)| in_v4(ip, *net, *prefix))
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, prefix: u32) -> bool {
    let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - prefix) };
    (u128::from(ip) & mask) == (u128::from(net) & mask)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    // IPv4-mapped (::ffff:a.b.c.d): the IPv4 address is what is reached.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // NAT64 (64:ff9b::a.b.c.d): as the IPv4 address it translates to.
    if in_v6(ip, Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96) {
        let [.., a, b, c, d] = ip.octets();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    // Only global unicast (2000::/3) is public: this leaves out ::, ::1, the
    // IPv4-compatible ::a.b.c.d, ULA fc00::/7, link-local fe80::/10, site-local
    // fec0::/10, multicast ff00::/8, discard 100::/64 and the rest.
    if !in_v6(ip, Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3) {
        return false;
    }
    const NOT_PUBLIC: [(Ipv6Addr, u32); 4] = [
        (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23), // IETF protocol assignments (Teredo, benchmarking, ORCHID)
        (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
        (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16), // 6to4 (embeds any IPv4 address)
        (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20), // documentation
    ];
    !NOT_PUBLIC.iter().any(|(net, prefix)| in_v6(ip, *net, *prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn only_public_unicast_addresses_are_public() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.255.255",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.10",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "100::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001::1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "3fff::1",
        ] {
            assert!(!public(ip), "{ip} is not public");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "193.206.141.1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2a00:1450:4002::1",
            "2606:4700::1111",
        ] {
            assert!(public(ip), "{ip} is public");
        }
    }

    fn check(url: &str, allowed: &[&str]) -> Result<(), Refused> {
        let allowed: Vec<String> = allowed.iter().map(|h| h.to_string()).collect();
        check_url(&reqwest::Url::parse(url).unwrap(), &AllowList::new(&allowed))
    }

    #[test]
    fn urls_need_https_and_a_public_literal_unless_the_host_is_allowed() {
        assert_eq!(check("https://hooks.example.it/x?sig=1", &[]), Ok(()));
        assert_eq!(check("https://8.8.8.8/x", &[]), Ok(()));
        assert!(matches!(check("http://hooks.example.it/x", &[]), Err(Refused::Scheme(_))));
        assert!(matches!(check("ftp://hooks.example.it/x", &["hooks.example.it"]), Err(Refused::Scheme(_))));
        assert!(matches!(check("https://127.0.0.1/x", &[]), Err(Refused::NotPublic(_))));
        // The URL parser reads every spelling of an address as the address.
        assert!(matches!(check("https://2130706433/x", &[]), Err(Refused::NotPublic(_))));
        assert!(matches!(check("https://0x7f.1/x", &[]), Err(Refused::NotPublic(_))));
        assert!(matches!(check("https://[::ffff:169.254.169.254]/x", &[]), Err(Refused::NotPublic(_))));
        assert!(matches!(check("https://[fd00::1]/x", &[]), Err(Refused::NotPublic(_))));
        assert_eq!(check("http://127.0.0.1:8080/x", &["127.0.0.1"]), Ok(()));
        assert_eq!(check("http://[::1]:8080/x", &["[::1]"]), Ok(()));
        assert_eq!(check("http://Hooks.Comune.Local./x", &["hooks.comune.local"]), Ok(()));
        let refused = check("https://10.0.0.1/p?token=s3cret", &[]).unwrap_err().to_string();
        assert!(refused.contains("10.0.0.1") && !refused.contains("s3cret"), "{refused}");
    }
}
