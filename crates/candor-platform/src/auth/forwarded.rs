//! The client's address: the transport peer, or what a trusted proxy says in
//! `x-forwarded-for`.
//!
//! The rule: `x-forwarded-for` counts only when the call comes from a caller
//! in `TRUSTED_PROXY_CALLERS` (authenticated by its own credential, not by
//! its address). Its entries (every header value, comma-separated, in order)
//! are read from the right: each proxy appends the address it was called
//! from, so the right-most entry is the front end's own peer. Entries that
//! are addresses in `TRUSTED_PROXY_ADDRESSES` (further proxies of the
//! deployment) are skipped; the first other entry is the client. An entry
//! that is not an IP address (`v4`, `v6`, `[v6]`, optionally with a port)
//! ends the walk, and the hop to its right is taken (the peer when it is
//! the right-most). When every entry is a trusted proxy, the left-most is
//! the client.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use tonic::Request;

use super::Caller;

/// At most this many entries are read, from the right.
const MAX_HOPS: usize = 32;

/// The client address of an admitted request, in its extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl ClientAddress {
    /// The client address of `request`, when the server could tell.
    pub fn of<T>(request: &Request<T>) -> Option<IpAddr> {
        request
            .extensions()
            .get::<ClientAddress>()
            .map(|address| address.0)
    }
}

/// Which proxies are believed.
#[derive(Debug, Clone, Default)]
pub struct ProxyTrust {
    callers: Vec<Caller>,
    addresses: Vec<IpNet>,
}

impl ProxyTrust {
    /// Believes `x-forwarded-for` from `callers`, skipping `addresses`.
    pub fn new(callers: &[Caller], addresses: &[IpNet]) -> Self {
        Self {
            callers: callers.to_vec(),
            addresses: addresses.to_vec(),
        }
    }

    /// The client address of a call from `caller` over a connection from
    /// `peer` with these headers.
    pub fn client_address(
        &self,
        caller: Option<Caller>,
        peer: Option<IpAddr>,
        headers: &http::HeaderMap,
    ) -> Option<IpAddr> {
        let trusted_caller = caller.is_some_and(|caller| self.callers.contains(&caller));
        if !trusted_caller {
            return peer;
        }
        let entries: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for entry in entries.iter().rev().take(MAX_HOPS) {
            let Some(address) = parse_hop(entry) else {
                return client;
            };
            client = Some(address);
            if !self.is_trusted_address(address) {
                return client;
            }
        }
        client
    }

    fn is_trusted_address(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.addresses.iter().any(|net| net.contains(&address))
    }
}

/// An `x-forwarded-for` entry as an address: `192.0.2.1`, `2001:db8::1`,
/// `[2001:db8::1]`, with or without `:port`.
fn parse_hop(entry: &str) -> Option<IpAddr> {
    if let Ok(address) = entry.parse::<IpAddr>() {
        return Some(canonical(address));
    }
    if let Ok(socket) = entry.parse::<SocketAddr>() {
        return Some(canonical(socket.ip()));
    }
    entry
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse::<IpAddr>().ok())
        .map(canonical)
}

/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) as IPv4, so one client
/// has one address whichever way it came.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Parses `TRUSTED_PROXY_ADDRESSES` entries: CIDR blocks or single addresses.
pub fn parse_proxy_address(value: &str) -> Result<IpNet, String> {
    let value = value.trim();
    if let Ok(net) = value.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    value
        .parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("`{value}` is not an IP address or CIDR block"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    fn trust() -> ProxyTrust {
        ProxyTrust::new(
            &[Caller::FrontEnd],
            &[parse_proxy_address("10.0.0.0/8").unwrap()],
        )
    }

    #[test]
    fn only_trusted_callers_are_believed() {
        let peer = ip("192.0.2.9");
        let forwarded = headers(&["198.51.100.7"]);
        for caller in [None, Some(Caller::Forum), Some(Caller::Operator)] {
            assert_eq!(trust().client_address(caller, peer, &forwarded), peer);
        }
        assert_eq!(
            trust().client_address(Some(Caller::FrontEnd), peer, &forwarded),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let peer = ip("10.1.1.1");
        let caller = Some(Caller::FrontEnd);
        // The left-most entry is whatever the client sent: never believed
        // while an untrusted hop stands to its right.
        let spoofed = headers(&["1.2.3.4, 198.51.100.7", "10.0.0.2"]);
        assert_eq!(
            trust().client_address(caller, peer, &spoofed),
            ip("198.51.100.7")
        );
        let all_trusted = headers(&["10.0.0.3, 10.0.0.2"]);
        assert_eq!(
            trust().client_address(caller, peer, &all_trusted),
            ip("10.0.0.3")
        );
        let with_ports = headers(&["[2001:db8::1]:443, 198.51.100.7:1234"]);
        assert_eq!(
            trust().client_address(caller, peer, &with_ports),
            ip("198.51.100.7")
        );
        let mapped = headers(&["::ffff:198.51.100.8"]);
        assert_eq!(
            trust().client_address(caller, peer, &mapped),
            ip("198.51.100.8")
        );
    }

    #[test]
    fn garbage_ends_the_walk_at_the_last_known_hop() {
        let peer = ip("10.1.1.1");
        let caller = Some(Caller::FrontEnd);
        assert_eq!(
            trust().client_address(caller, peer, &headers(&["unknown"])),
            peer
        );
        let mut not_text = http::HeaderMap::new();
        not_text.append(
            "x-forwarded-for",
            http::HeaderValue::from_bytes(b"1.2.3.4, \xff").unwrap(),
        );
        assert_eq!(
            trust().client_address(caller, peer, &not_text),
            peer,
            "a header that is not text is ignored whole"
        );
        assert_eq!(
            trust().client_address(caller, peer, &headers(&["1.2.3.4, _hidden, 10.0.0.2"])),
            ip("10.0.0.2")
        );
        assert_eq!(trust().client_address(caller, peer, &headers(&[])), peer);
    }

    #[test]
    fn proxy_addresses_parse_as_cidr_or_address() {
        assert!(parse_proxy_address("10.0.0.0/8").is_ok());
        assert!(parse_proxy_address("2001:db8::/32").is_ok());
        assert_eq!(
            parse_proxy_address("10.0.0.1").unwrap(),
            "10.0.0.1/32".parse::<IpNet>().unwrap()
        );
        assert!(parse_proxy_address("10.0.0.0/33").is_err());
        assert!(parse_proxy_address("proxy.local").is_err());
    }
}
