//! The client address per-IP limits count by. Only `CF-Connecting-IP` is believed: Cloudflare
//! sets it and overwrites whatever a client sent, while `X-Forwarded-For` and `X-Real-IP` are
//! whatever the client wrote. IPv6 clients are counted per /64, the block one subscriber holds.

use std::net::{IpAddr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(Option<IpAddr>);

impl ClientIp {
    /// From the value of `CF-Connecting-IP` (absent or unparseable: unknown).
    pub fn from_header(value: Option<&str>) -> ClientIp {
        let addr = value
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
            .map(|addr| match addr {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
                v4 => v4,
            });
        ClientIp(addr)
    }

    /// The name of this client's counters: the IPv4 address, or the IPv6 /64 it belongs to.
    /// Every client without a usable address shares one bucket.
    pub fn key(&self) -> String {
        match self.0 {
            Some(IpAddr::V4(v4)) => v4.to_string(),
            Some(IpAddr::V6(v6)) => {
                let s = v6.segments();
                format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
            None => "unknown".to_owned(),
        }
    }

    /// Whether the per-IP limits skip this client (`THROTTLE_EXEMPT_IPS`).
    pub fn is_exempt(&self, exempt: &[IpAddr]) -> bool {
        self.0.is_some_and(|addr| exempt.contains(&addr))
    }
}

/// `THROTTLE_EXEMPT_IPS`: comma-separated addresses; the malformed ones come back as `Err`.
pub fn parse_exempt_list(text: &str) -> Result<Vec<IpAddr>, Vec<String>> {
    let mut addrs = Vec::new();
    let mut bad = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        match ClientIp::from_header(Some(entry)).0 {
            Some(addr) => addrs.push(addr),
            None => bad.push(entry.to_owned()),
        }
    }
    if bad.is_empty() {
        Ok(addrs)
    } else {
        Err(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_is_counted_per_address_and_ipv6_per_64() {
        assert_eq!(ClientIp::from_header(Some(" 203.0.113.7 ")).key(), "203.0.113.7");
        let a = ClientIp::from_header(Some("2001:db8:1:2:aaaa::1")).key();
        let b = ClientIp::from_header(Some("2001:db8:1:2:ffff:ffff:ffff:ffff")).key();
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, b);
        assert_ne!(a, ClientIp::from_header(Some("2001:db8:1:3::1")).key());
        assert_eq!(
            ClientIp::from_header(Some("::ffff:198.51.100.4")).key(),
            "198.51.100.4"
        );
    }

    #[test]
    fn a_missing_or_forged_looking_header_is_the_unknown_bucket() {
        for value in [None, Some(""), Some("1.2.3.4, 5.6.7.8"), Some("localhost")] {
            assert_eq!(ClientIp::from_header(value).key(), "unknown", "{value:?}");
        }
    }

    #[test]
    fn the_exempt_list_matches_exact_addresses() {
        let exempt = parse_exempt_list("127.0.0.1, ::1").unwrap();
        assert!(ClientIp::from_header(Some("127.0.0.1")).is_exempt(&exempt));
        assert!(ClientIp::from_header(Some("::1")).is_exempt(&exempt));
        assert!(!ClientIp::from_header(Some("127.0.0.2")).is_exempt(&exempt));
        assert!(!ClientIp::from_header(None).is_exempt(&exempt));
        assert_eq!(parse_exempt_list(""), Ok(vec![]));
        assert_eq!(parse_exempt_list("10.0.0.1,nope"), Err(vec!["nope".to_owned()]));
    }
}
