//! Rate limits on sign-in, OTP, registration and password reset, per client
//! address and per account (GCRA via governor). Limits are per node: with N nodes
//! an attacker gets at most N times the budget, still far below brute force.

use std::{net::IpAddr, num::NonZeroU32, sync::Arc, time::Duration};

use governor::{clock::DefaultClock, DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::AppError;

#[derive(Clone, Copy, Debug)]
pub enum Action {
    SignIn,
    Otp,
    Register,
    PasswordReset,
}

#[derive(Clone)]
pub struct RateLimits {
    per_ip: Arc<[DefaultKeyedRateLimiter<(u8, String)>; 4]>,
    per_account: Arc<[DefaultKeyedRateLimiter<(u8, String)>; 4]>,
}

fn limiter(burst: u32, per: Duration) -> DefaultKeyedRateLimiter<(u8, String)> {
    let burst = NonZeroU32::new(burst).expect("burst > 0");
    RateLimiter::keyed(Quota::with_period(per / burst.get()).expect("period > 0").allow_burst(burst))
}

impl Default for RateLimits {
    fn default() -> Self {
        let minute = Duration::from_secs(60);
        let hour = Duration::from_secs(3600);
        Self {
            per_ip: Arc::new([
                limiter(30, minute * 10), // sign-in attempts from one address
                limiter(30, minute * 10), // OTP attempts
                limiter(10, hour),        // registrations
                limiter(10, hour),        // password resets
            ]),
            per_account: Arc::new([
                limiter(5, minute * 5),   // sign-in attempts on one account
                limiter(10, minute * 10), // codes entered by one account (each code also allows only 5)
                limiter(3, hour),         // registrations with one e-mail
                limiter(3, hour),         // password resets of one account
            ]),
        }
    }
}

impl RateLimits {
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
        let ip_key = (index as u8, format!("{tenant}|{}", ip.map(|i| i.to_string()).unwrap_or_default()));
        let mut wait = None;
        if let Err(not_until) = self.per_ip[index].check_key(&ip_key) {
            wait = Some(not_until.wait_time_from(governor::clock::Clock::now(&DefaultClock::default())));
        }
        if let Some(account) = account {
            let key = (index as u8, format!("{tenant}|{}", account.to_lowercase()));
            if let Err(not_until) = self.per_account[index].check_key(&key) {
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
        for l in self.per_ip.iter().chain(self.per_account.iter()) {
            l.retain_recent();
        }
    }
}
