//! Counting windows for throttles: pure arithmetic, tested natively.

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FixedWindow {
    pub started_at: i64,
    pub count: u32,
}

impl FixedWindow {
    /// Starts a new window when the current one is over.
    pub fn roll(&mut self, now: i64, window_secs: u32) {
        if self.count == 0 || now >= self.started_at + i64::from(window_secs) || now < self.started_at {
            *self = FixedWindow {
                started_at: now,
                count: 0,
            };
        }
    }

    pub fn hit(&mut self, now: i64, window_secs: u32) {
        self.roll(now, window_secs);
        self.count = self.count.saturating_add(1);
    }

    /// Seconds until the window resets (at least 1 while it holds a count).
    pub fn retry_after(&self, now: i64, window_secs: u32) -> u64 {
        if self.count == 0 {
            return 0;
        }
        u64::try_from(self.started_at + i64::from(window_secs) - now)
            .unwrap_or(0)
            .max(1)
    }
}

impl FixedWindow {
    /// Counts one attempt if the window has room (`count < limit`): the check and the count are
    /// one step, so parallel attempts can never together pass the limit. `Err` carries the
    /// seconds until the window resets.
    pub fn take(&mut self, now: i64, limit: u32, window_secs: u32) -> Result<(), u64> {
        self.roll(now, window_secs);
        if self.count >= limit {
            return Err(self.retry_after(now, window_secs));
        }
        self.count += 1;
        Ok(())
    }

    /// Gives back an attempt taken in this window (it turned out not to be a failure).
    pub fn give(&mut self, now: i64, window_secs: u32) {
        self.roll(now, window_secs);
        self.count = self.count.saturating_sub(1);
    }
}

/// The longest a lock may grow to: a day.
pub const MAX_LOCK_SECS: i64 = 86_400;

/// Failed sign-ins of one (email, client IP) pair, with a lock that doubles each time the pair
/// reaches its limit again (`window`, 2 × `window`, 4 × … up to a day). Every attempt is
/// counted before the password is checked; a success forgets the pair entirely.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Strikes {
    pub started_at: i64,
    pub count: u32,
    /// How many times the pair has been locked since its last success.
    pub lockouts: u32,
    pub locked_until: i64,
}

impl Strikes {
    /// The lock a pair gets on its `lockouts`-th lockout.
    pub fn lock_secs(window_secs: u32, lockouts: u32) -> i64 {
        let doublings = lockouts.saturating_sub(1).min(20);
        (i64::from(window_secs) << doublings).min(MAX_LOCK_SECS)
    }

    /// Counts an attempt about to be checked, or refuses it (`Err`: seconds until the lock
    /// ends) without counting. The attempt that reaches `limit` is still checked; it sets the
    /// lock that refuses the next ones.
    pub fn attempt(&mut self, now: i64, limit: u32, window_secs: u32) -> Result<(), u64> {
        if self.locked_until > now {
            return Err(u64::try_from(self.locked_until - now).unwrap_or(1).max(1));
        }
        // A pair quiet for a day past its last lock starts its back-off afresh.
        if self.lockouts > 0 && now >= self.locked_until + MAX_LOCK_SECS {
            self.lockouts = 0;
        }
        if self.count == 0 || now >= self.started_at + i64::from(window_secs) || now < self.started_at {
            self.started_at = now;
            self.count = 0;
        }
        self.count = self.count.saturating_add(1);
        if self.count >= limit {
            self.lockouts = self.lockouts.saturating_add(1);
            self.locked_until = now + Strikes::lock_secs(window_secs, self.lockouts);
            self.count = 0;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_counts_up_to_the_limit_and_refuses_without_counting() {
        let mut window = FixedWindow::default();
        for i in 0..3 {
            assert_eq!(window.take(1000 + i, 3, 60), Ok(()));
        }
        assert_eq!(window.take(1003, 3, 60), Err(57));
        assert_eq!(window.count, 3, "a refused attempt is not counted");
        window.give(1004, 60);
        assert_eq!(window.take(1005, 3, 60), Ok(()));
        assert_eq!(window.take(1060, 3, 60), Ok(()), "a new window");
        assert_eq!(window.count, 1);
    }

    #[test]
    fn strikes_allow_exactly_limit_checks_then_lock_with_a_doubling_back_off() {
        let mut pair = Strikes::default();
        let checked = (0..25)
            .filter(|i| pair.attempt(1000 + i, 10, 900).is_ok())
            .count();
        assert_eq!(checked, 10);
        assert_eq!(pair.lockouts, 1);
        assert_eq!(pair.locked_until, 1009 + 900);
        // After the first lock: ten more, then twice as long.
        let later = pair.locked_until;
        let checked = (0..15)
            .filter(|i| pair.attempt(later + i, 10, 900).is_ok())
            .count();
        assert_eq!(checked, 10);
        assert_eq!(pair.locked_until, later + 9 + 1800);
        assert_eq!(Strikes::lock_secs(900, 3), 3600);
        assert_eq!(Strikes::lock_secs(900, 40), MAX_LOCK_SECS);
    }

    #[test]
    fn a_quiet_day_after_a_lock_starts_the_back_off_afresh() {
        let mut pair = Strikes {
            started_at: 0,
            count: 0,
            lockouts: 5,
            locked_until: 10_000,
        };
        for i in 0..10 {
            assert!(pair.attempt(10_000 + MAX_LOCK_SECS + i, 10, 900).is_ok());
        }
        assert_eq!(pair.lockouts, 1);
    }

    #[test]
    fn counts_within_a_window_and_resets_after_it() {
        let mut window = FixedWindow::default();
        for i in 0..3 {
            window.hit(1000 + i, 60);
        }
        assert_eq!(window.count, 3);
        assert_eq!(window.retry_after(1010, 60), 50);
        window.roll(1059, 60);
        assert_eq!(window.count, 3);
        window.roll(1060, 60);
        assert_eq!(window.count, 0);
        assert_eq!(window.retry_after(1060, 60), 0);
    }

    #[test]
    fn a_clock_that_went_backwards_starts_afresh() {
        let mut window = FixedWindow {
            started_at: 5000,
            count: 9,
        };
        window.hit(4000, 60);
        assert_eq!(
            window,
            FixedWindow {
                started_at: 4000,
                count: 1
            }
        );
    }
}
