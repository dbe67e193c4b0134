//! Rate limits on sign-in, OTP, registration, password reset and SPID/CIE/staff
//! sign-in starts, per client address and per account (GCRA via governor).
//! Limits are per node: with N nodes an attacker gets at most N times the
//! budget, still far below brute force. (What must hold across nodes — codes
//! sent, SMS spent — is counted in the database: see `auth::otp::send_codes`.)
//!
//! The client address is the one `web::dispatch` decided (`web::client::ClientAddr`:
//! the right-most address not in `trusted_proxies`); an IPv6 client is limited
//! by its /64, which one subscriber usually holds whole.

use std::{net::IpAddr, num::NonZeroU32, sync::Arc, time::Duration};

use governor::{clock::DefaultClock, DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;

use crate::error::AppError;

#[derive(Clone, Copy, Debug)]
pub enum Action {
    SignIn,
    Otp,
    Register,
    PasswordReset,
    /// An anonymous start of a SPID, CIE or staff sign-in: each one stores a
    /// pending request (and, for SAML, signs one). Per address only.
    SignInStart,
}

const ACTIONS: usize = 5;

pub use crate::config::DEFAULT_SIGN_IN_STARTS;

type Limiter = DefaultKeyedRateLimiter<(u8, String)>;

#[derive(Clone)]
pub struct RateLimits {
    per_ip: Arc<[Limiter; ACTIONS]>,
    per_account: Arc<[Option<Limiter>; ACTIONS]>,
}

fn limiter(burst: u32, per: Duration) -> Limiter {
    let burst = NonZeroU32::new(burst.max(1)).expect("burst > 0");
    RateLimiter::keyed(Quota::with_period(per / burst.get()).expect("period > 0").allow_burst(burst))
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::new(DEFAULT_SIGN_IN_STARTS)
    }
}

impl RateLimits {
    /// The limits, with `sign_in_starts` SPID/CIE/staff starts per address per 10 minutes.
    pub fn new(sign_in_starts: u32) -> Self {
        let minute = Duration::from_secs(60);
        let hour = Duration::from_secs(3600);
        Self {
            per_ip: Arc::new([
                limiter(30, minute * 10),             // sign-in attempts from one address
                limiter(30, minute * 10),             // OTP attempts
                limiter(10, hour),                    // registrations
                limiter(10, hour),                    // password resets
                limiter(sign_in_starts, minute * 10), // SPID/CIE/staff sign-in starts
            ]),
            per_account: Arc::new([
                Some(limiter(5, minute * 5)),   // sign-in attempts on one account
                Some(limiter(10, minute * 10)), // codes entered by one account (each code also allows only 5)
                Some(limiter(3, hour)),         // registrations with one e-mail
                Some(limiter(3, hour)),         // password resets of one account
                None,
            ]),
        }
    }

    /// Counts one attempt; refuses with the seconds to wait when over the limit.
    /// `tenant` keeps enti apart: the same address may use two portals.
    pub fn check(
        &self,
        action: Action,
        tenant: &str,
        ip: Option<IpAddr>,
        account: Option<&str>,
    ) -> Result<(), AppError> {
        let index = action as usize;
        let ip_key = (index as u8, format!("{tenant}|{}", address_key(ip)));
        let mut wait = None;
        if let Err(not_until) = self.per_ip[index].check_key(&ip_key) {
            wait = Some(not_until.wait_time_from(governor::clock::Clock::now(&DefaultClock::default())));
        }
        if let (Some(account), Some(limiter)) = (account, &self.per_account[index]) {
            let key = (index as u8, format!("{tenant}|{}", account.to_lowercase()));
            if let Err(not_until) = limiter.check_key(&key) {
                let w = not_until.wait_time_from(governor::clock::Clock::now(&DefaultClock::default()));
                wait = Some(wait.map_or(w, |x: Duration| x.max(w)));
            }
        }
        match wait {
            None => Ok(()),
            Some(w) => Err(AppError::RateLimited { retry_after_secs: w.as_secs().max(1) }),
        }
    }

    /// Drops keys that have recovered their full budget (memory stays bounded).
    pub fn sweep(&self) {
        for l in self.per_ip.iter().chain(self.per_account.iter().flatten()) {
            l.retain_recent();
        }
    }
}

/// What a client address is limited as: an IPv4 address itself, an IPv6
/// address by its /64 (IPv4-mapped IPv6 addresses count as the IPv4 one).
pub fn address_net(ip: IpAddr) -> IpNet {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpNet::from(IpAddr::V4(v4)),
        IpAddr::V6(v6) => IpNet::new(IpAddr::V6(v6), 64).expect("64 <= 128").trunc(),
    }
}

/// The key of `ip` in the limiters (empty when the address is unknown).
pub fn address_key(ip: Option<IpAddr>) -> String {
    ip.map(|ip| address_net(ip).to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    #[test]
    fn ipv6_clients_share_their_64_and_mapped_ipv4_is_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(Some(a)), address_key(Some(b)));
        assert_eq!(address_key(Some(a)), "2001:db8:1:2::/64");
        assert_ne!(address_key(Some(a)), address_key(Some(c)));
        let mapped = IpAddr::V6(Ipv6Addr::from([0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201]));
        assert_eq!(address_key(Some(mapped)), "192.0.2.1/32");
        assert_eq!(address_key(Some("192.0.2.1".parse().unwrap())), "192.0.2.1/32");
    }

    #[test]
    fn one_address_of_a_64_exhausts_the_budget_of_the_others() {
        let limits = RateLimits::default();
        for i in 0..10u16 {
            let ip: IpAddr = format!("2001:db8:1:2::{i:x}").parse().unwrap();
            limits.check(Action::Register, "valmora", Some(ip), None).unwrap();
        }
        let other: IpAddr = "2001:db8:1:2:abcd::1".parse().unwrap();
        assert!(limits.check(Action::Register, "valmora", Some(other), None).is_err());
        let elsewhere: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(limits.check(Action::Register, "valmora", Some(elsewhere), None).is_ok());
    }
}
