//! A fixed counting window: pure arithmetic, tested natively.

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

#[cfg(test)]
mod tests {
    use super::*;

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
