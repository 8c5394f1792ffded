//! The request log behind `GET/DELETE /__mock/requests`.

use std::collections::{BTreeMap, VecDeque};

use axum::http::HeaderMap;
use serde_json::{json, Value};

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: BTreeMap<String, String>,
    pub raw_body: String,
    pub received_at_ms: u64,
}

impl Recorded {
    pub fn new(
        method: &str,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        body: &[u8],
        now_ms: u64,
    ) -> Recorded {
        let mut map: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in headers {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            map.entry(name.as_str().to_ascii_lowercase())
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(&value);
                })
                .or_insert(value);
        }
        Recorded {
            seq: 0,
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            headers: map,
            raw_body: String::from_utf8_lossy(body).into_owned(),
            received_at_ms: now_ms,
        }
    }

    fn matches(&self, needle: &str) -> bool {
        self.raw_body.contains(needle) || self.path.contains(needle) || self.query.contains(needle)
    }

    pub fn to_json(&self) -> Value {
        let body = if self.raw_body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str::<Value>(&self.raw_body)
                .unwrap_or_else(|_| Value::String(self.raw_body.clone()))
        };
        json!({
            "seq": self.seq,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": body,
            "raw_body": self.raw_body,
            "received_at_ms": self.received_at_ms,
        })
    }
}

/// A bounded log, oldest first; the oldest entries go when it is full.
#[derive(Debug)]
pub struct Recorder {
    entries: VecDeque<Recorded>,
    capacity: usize,
    next_seq: u64,
}

impl Recorder {
    pub fn new(capacity: usize) -> Recorder {
        Recorder {
            entries: VecDeque::new(),
            capacity: capacity.max(1),
            next_seq: 1,
        }
    }

    pub fn push(&mut self, mut entry: Recorded) {
        entry.seq = self.next_seq;
        self.next_seq += 1;
        if self.entries.len() >= self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    /// The entries whose raw body, path or query contains `needle` (all when `None`).
    pub fn list(&self, needle: Option<&str>) -> Vec<Value> {
        self.entries
            .iter()
            .filter(|e| needle.is_none_or(|n| e.matches(n)))
            .map(Recorded::to_json)
            .collect()
    }

    pub fn clear(&mut self) -> usize {
        let n = self.entries.len();
        self.entries.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_by_body_path_or_query_and_drops_the_oldest() {
        let mut r = Recorder::new(2);
        let h = HeaderMap::new();
        r.push(Recorded::new("POST", "/a", "", &h, b"{\"x\":\"id-1\"}", 1));
        r.push(Recorded::new("GET", "/b", "q=id-2", &h, b"", 2));
        r.push(Recorded::new("POST", "/c/id-3", "", &h, b"plain", 3));
        assert_eq!(r.list(None).len(), 2);
        assert_eq!(r.list(Some("id-2")).len(), 1);
        assert_eq!(r.list(Some("id-3"))[0]["body"], json!("plain"));
        assert!(r.list(Some("id-1")).is_empty());
        assert_eq!(r.clear(), 2);
    }
}
