//! Time-based one-time passwords (RFC 6238, the authenticator-app kind):
//! HMAC-SHA1, 30-second steps, six digits, one step of clock drift either way.
//! A code is good once: the step it matched is kept, and a code of that step or
//! an earlier one is refused afterwards (replay).

use hmac::{Hmac, Mac};
use sha1::Sha1;

const STEP_SECS: i64 = 30;
const DIGITS: u32 = 6;
/// Steps of drift accepted either side of the server's clock.
const DRIFT: i64 = 1;

/// A fresh 160-bit secret (RFC 4226 recommends at least 128).
pub fn new_secret() -> Vec<u8> {
    rand::random::<[u8; 20]>().to_vec()
}

/// The code of `step` (`unix_time / 30`).
pub fn code_at(secret: &[u8], step: i64) -> u32 {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&(step as u64).to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let word = u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
    word % 10u32.pow(DIGITS)
}

pub fn step_of(unix_time: i64) -> i64 {
    unix_time.div_euclid(STEP_SECS)
}

/// The step `code` matches at `unix_time` (within the drift), if it is later
/// than `last_used_step`: what to store as the new last used step.
pub fn verify(secret: &[u8], code: &str, unix_time: i64, last_used_step: i64) -> Option<i64> {
    let code = code.trim().replace(' ', "");
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted: u32 = code.parse().ok()?;
    let now = step_of(unix_time);
    (now - DRIFT..=now + DRIFT).filter(|&step| step > last_used_step).find(|&step| code_at(secret, step) == wanted)
}

/// RFC 4648 base32 without padding: how authenticator apps take the secret.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    for chunk in bytes.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            out.push(char::from(ALPHABET[((bits >> (35 - i * 5)) & 31) as usize]));
        }
    }
    out
}

/// The `otpauth://` URI an authenticator app reads from the QR code.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20");
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

/// The URI as an SVG QR code (inline in the enrolment page; no script).
pub fn qr_svg(uri: &str) -> String {
    let code = qrcode::QrCode::new(uri.as_bytes()).expect("an otpauth URI fits a QR code");
    code.render::<qrcode::render::svg::Color>().min_dimensions(220, 220).quiet_zone(true).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (eight digits there; six here are the
    /// last six of theirs).
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, eight) in [
            (59, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(code_at(secret, step_of(time)), eight % 1_000_000, "t = {time}");
        }
    }

    #[test]
    fn a_code_is_good_once_and_only_near_its_time() {
        let secret = new_secret();
        let now = 1_800_000_000;
        let code = format!("{:06}", code_at(&secret, step_of(now)));
        let used = verify(&secret, &code, now, 0).expect("the current code");
        assert_eq!(verify(&secret, &code, now, used), None, "replayed");
        let previous = format!("{:06}", code_at(&secret, step_of(now) - 1));
        assert_eq!(verify(&secret, &previous, now, 0), Some(step_of(now) - 1), "one step of drift");
        assert_eq!(verify(&secret, &previous, now, used), None, "older than the last used one");
        let old = format!("{:06}", code_at(&secret, step_of(now) - 3));
        assert_eq!(verify(&secret, &old, now, 0), None, "too old");
        assert_eq!(verify(&secret, "12345", now, 0), None);
        assert_eq!(verify(&secret, "abcdef", now, 0), None);
    }

    #[test]
    fn base32_and_the_uri_are_what_apps_read() {
        assert_eq!(base32(b"12345678901234567890"), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        let uri = otpauth_uri("Comune di Valmora", "anna@valmora.example", b"12345678901234567890");
        assert!(
            uri.starts_with("otpauth://totp/Comune%20di%20Valmora:anna%40valmora.example?secret=GEZDGNBV"),
            "{uri}"
        );
        assert!(qr_svg(&uri).starts_with("<?xml") || qr_svg(&uri).contains("<svg"));
    }
}
