//! Where webhooks may go: the guard against server-side request forgery.
//!
//! A webhook URL is typed by an admin, but the request leaves from inside the clinic's network,
//! so an unguarded URL could reach the database, the cloud's metadata service
//! (169.254.169.254) or an internal admin page. Deliveries therefore go only to public
//! addresses, unless configuration lists a network as allowed (`WEBHOOK_ALLOWED_NETWORKS`,
//! for a receiver inside the clinic). The check runs on every address a host name resolves to,
//! at connection time (so a name re-pointed at an internal address after registration is
//! caught), and on literal addresses in the URL at registration.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An address range in CIDR notation (`10.0.0.0/8`, `fd00::/8`) or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an address or CIDR range"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix must be 0 to {max}"))?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }
}

impl Network {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if a[..full] != b[..full] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[full] & mask == b[full] & mask
}

/// An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Whether `ip` is an ordinary address on the internet: not loopback, private, link-local,
/// shared (carrier NAT), documentation, benchmarking, multicast, broadcast or reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    const BLOCKED: [(&str, u8); 15] = [
        ("0.0.0.0", 8),
        ("10.0.0.0", 8),
        ("100.64.0.0", 10),
        ("127.0.0.0", 8),
        ("169.254.0.0", 16),
        ("172.16.0.0", 12),
        ("192.0.0.0", 24),
        ("192.0.2.0", 24),
        ("192.88.99.0", 24),
        ("192.168.0.0", 16),
        ("198.18.0.0", 15),
        ("198.51.100.0", 24),
        ("203.0.113.0", 24),
        ("224.0.0.0", 4),
        ("240.0.0.0", 4),
    ];
    !BLOCKED.iter().any(|(net, prefix)| {
        let net: Ipv4Addr = net.parse().expect("a literal");
        prefix_eq(&net.octets(), &ip.octets(), *prefix)
    })
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let o = ip.octets();
    let blocked = ip.is_unspecified()
        || ip.is_loopback()
        || o[0] & 0xfe == 0xfc // unique local fc00::/7
        || (o[0] == 0xfe && o[1] & 0xc0 == 0x80) // link-local fe80::/10
        || (o[0] == 0xfe && o[1] & 0xc0 == 0xc0) // site-local fec0::/10 (deprecated)
        || o[0] == 0xff // multicast
        || o[..4] == [0x20, 0x01, 0x0d, 0xb8] // documentation 2001:db8::/32
        || o[..12] == [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0] // NAT64: an IPv4 inside
        || o[..6] == [0, 0x64, 0xff, 0x9b, 0, 1] // local-use NAT64 64:ff9b:1::/48
        || o[..12] == [0; 12] // IPv4-compatible (deprecated)
        || o[..12] == [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0] // IPv4-translated ::ffff:0:0:0/96
        || o[..8] == [1, 0, 0, 0, 0, 0, 0, 0] // discard-only 100::/64
        || o[..4] == [0x20, 0x01, 0, 0] // Teredo 2001::/32: an IPv4 inside
        || o[..2] == [0x20, 0x02]; // 6to4: an IPv4 inside
    !blocked
}

/// The addresses deliveries may reach: the public internet, plus the configured networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    allowed: Vec<Network>,
}

impl AddressPolicy {
    pub fn new(allowed: Vec<Network>) -> Self {
        Self { allowed }
    }

    /// Parses `WEBHOOK_ALLOWED_NETWORKS`: comma-separated addresses or CIDR ranges.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let allowed = raw
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(str::parse)
            .collect::<Result<Vec<Network>, _>>()?;
        Ok(Self { allowed })
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.allowed.iter().any(|n| n.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_refused() {
        let policy = AddressPolicy::default();
        for blocked in [
            "127.0.0.1",
            "127.9.9.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::1",
            "2001:db8::1",
            "64:ff9b:1::a00:1",
            "::ffff:0:7f00:1",
            "100::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        ] {
            assert!(!policy.permits(ip(blocked)), "{blocked}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(policy.permits(ip(public)), "{public}");
        }
    }

    #[test]
    fn configured_networks_are_allowed_and_nothing_more() {
        let policy = AddressPolicy::parse("127.0.0.1, 10.20.0.0/16,fd00::/8").unwrap();
        assert!(policy.permits(ip("127.0.0.1")));
        assert!(policy.permits(ip("::ffff:127.0.0.1")));
        assert!(!policy.permits(ip("127.0.0.2")));
        assert!(policy.permits(ip("10.20.255.1")));
        assert!(!policy.permits(ip("10.21.0.1")));
        assert!(policy.permits(ip("fd12::1")));
        assert!(!policy.permits(ip("169.254.169.254")));
        assert!(AddressPolicy::parse("10.0.0.0/33").is_err());
        assert!(AddressPolicy::parse("intranet").is_err());
        assert_eq!(AddressPolicy::parse("").unwrap(), AddressPolicy::default());
    }

    #[test]
    fn odd_prefixes() {
        let n: Network = "172.16.0.0/12".parse().unwrap();
        assert!(n.contains(ip("172.31.0.1")));
        assert!(!n.contains(ip("172.32.0.1")));
        let all: Network = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("1.2.3.4")));
        assert!(!all.contains(ip("::2")));
    }
}
