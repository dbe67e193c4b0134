//! `Host` / `X-Forwarded-Host` normalisation (src/tenancy/host.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sportello::tenancy::host::{normalize_host, HostError, MAX_HOST_LEN};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    match normalize_host(raw) {
        Ok(host) => {
            // What is accepted is a lookup key: short, lower-case ASCII, no port,
            // no path, no whitespace, and normalising it again changes nothing.
            assert!(host.len() <= MAX_HOST_LEN + 2, "{raw:?} -> {host:?}");
            assert!(host.is_ascii() && !host.contains(['/', '\\', ' ', '@', '?', '#']), "{raw:?} -> {host:?}");
            assert_eq!(host, host.to_ascii_lowercase(), "{raw:?}");
            assert_eq!(normalize_host(&host).as_deref(), Ok(host.as_str()), "{raw:?} -> {host:?} not idempotent");
        }
        Err(HostError::Missing) => assert!(raw.trim().is_empty(), "{raw:?}"),
        Err(HostError::Invalid) => {}
    }
    // The header path: the first X-Forwarded-Host entry, as a trusted proxy sends it.
    if let Some(first) = raw.split(',').next() {
        let _ = normalize_host(first.trim());
    }
});
