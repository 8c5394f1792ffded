//! `Server-Timing`: one entry per sequential step that waited on a remote call before the
//! answer began (calls made in parallel share one entry), then `upstream`. An operator sees in
//! the browser's devtools where the time went; tests count the steps.
//!
//! The Workers clock advances only across I/O, which is exactly what these steps are.

use crate::time;

#[derive(Debug, Clone, Default)]
pub struct Timing {
    steps: Vec<(&'static str, u64)>,
}

impl Timing {
    pub fn new() -> Timing {
        Timing::default()
    }

    pub fn record(&mut self, name: &'static str, started_ms: u64) {
        self.steps.push((name, time::now_ms().saturating_sub(started_ms)));
    }

    pub fn push(&mut self, name: &'static str, ms: u64) {
        self.steps.push((name, ms));
    }

    pub fn header(&self) -> String {
        self.steps
            .iter()
            .map(|(name, ms)| format!("{name};dur={ms}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// Puts `entry` in front of a response's `Server-Timing` (the router's `auth` step comes first).
pub fn prepend(existing: Option<String>, entry: &str) -> String {
    match existing.filter(|e| !e.is_empty()) {
        Some(rest) => format!("{entry}, {rest}"),
        None => entry.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_in_order_with_their_durations() {
        let timing = Timing {
            steps: vec![("admit+hold", 4), ("upstream", 120)],
        };
        assert_eq!(timing.header(), "admit+hold;dur=4, upstream;dur=120");
        assert_eq!(
            prepend(Some(timing.header()), "auth;dur=2"),
            "auth;dur=2, admit+hold;dur=4, upstream;dur=120"
        );
        assert_eq!(prepend(None, "auth;dur=2"), "auth;dur=2");
    }
}
