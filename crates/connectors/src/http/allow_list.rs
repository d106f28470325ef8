//! The operator's outbound allow list (`OSMOSIS_OUTBOUND_ALLOW`): the private
//! networks and host names this server may call although they are not public.
//!
//! Entries are separated by commas (or white space): a network in CIDR notation
//! (`10.0.0.0/8`, `fd00::/8`), a single address (`127.0.0.1`, `::1`), or a host
//! name (`api.corp.internal`) whose resolved private addresses are then accepted.
//! An entry opens only the private classes ([`AddressClass::allowable`]); cloud
//! metadata and link-local addresses stay refused even when an entry covers them,
//! so `0.0.0.0/0` means "every private network", not "everything".
//!
//! The server may add one address and port of its own ([`AllowList::with_socket`]):
//! with `--demo` its connector calls the demo app at the server's listen address,
//! and only that port of this machine opens, not the whole of loopback. Such an entry
//! covers URLs that name the address itself (`http://127.0.0.1:8080/…`), not a host
//! name resolving to it: the resolver is not told the port.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use ipnet::IpNet;

#[cfg(doc)]
use super::address::AddressClass;

/// Networks and host names outbound calls may reach beyond the public Internet.
/// The default is empty: only public addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    networks: Vec<IpNet>,
    /// Lower case, without a trailing dot.
    hosts: Vec<String>,
    /// Single ports of single addresses ([`AllowList::with_socket`]), canonical.
    sockets: Vec<SocketAddr>,
}

/// An allow-list entry that is neither a network, an address nor a host name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("outbound allow list: `{entry}` is not a network (10.0.0.0/8), an address or a host name")]
pub struct AllowListError {
    pub entry: String,
}

impl AllowList {
    /// This machine (127.0.0.0/8 and `::1`): what tests and local development
    /// against mock APIs need.
    pub fn loopback() -> Self {
        "127.0.0.0/8,::1".parse().expect("literal networks")
    }

    pub fn is_empty(&self) -> bool {
        self.networks.is_empty() && self.hosts.is_empty() && self.sockets.is_empty()
    }

    /// Also lets calls reach exactly `addr`: that address on that port, nothing else
    /// of its host (the server's own listen address, for the demo app).
    pub fn with_socket(mut self, addr: SocketAddr) -> Self {
        self.sockets.push(SocketAddr::new(
            super::address::canonical(addr.ip()),
            addr.port(),
        ));
        self
    }

    /// Whether a [`Self::with_socket`] entry is `ip` on `port`.
    pub fn covers_socket(&self, ip: IpAddr, port: u16) -> bool {
        let ip = super::address::canonical(ip);
        self.sockets
            .iter()
            .any(|s| s.ip() == ip && s.port() == port)
    }

    /// Whether a network entry covers `ip`.
    pub fn covers_address(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|n| n.contains(&ip))
    }

    /// Whether a host-name entry names `host`.
    pub fn covers_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }
}

impl FromStr for AllowList {
    type Err = AllowListError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut list = AllowList::default();
        for entry in text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
        {
            if let Ok(network) = entry.parse::<IpNet>() {
                list.networks.push(network.trunc());
            } else if let Ok(ip) = entry.parse::<IpAddr>() {
                list.networks.push(IpNet::from(ip));
            } else if is_host_name(entry) {
                list.hosts
                    .push(entry.trim_end_matches('.').to_ascii_lowercase());
            } else {
                return Err(AllowListError {
                    entry: entry.to_owned(),
                });
            }
        }
        Ok(list)
    }
}

/// Letters, digits, hyphens and dots, with at least one letter: a DNS name, and not
/// a mistyped network such as `10.0.0/8`.
fn is_host_name(entry: &str) -> bool {
    entry
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && entry.chars().any(|c| c.is_ascii_alphabetic())
        && !entry.starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_networks_addresses_and_host_names() {
        let list: AllowList = "10.0.0.0/8, 127.0.0.1 ::1,api.Corp.internal."
            .parse()
            .unwrap();
        assert!(list.covers_address("10.200.0.1".parse().unwrap()));
        assert!(list.covers_address("127.0.0.1".parse().unwrap()));
        assert!(!list.covers_address("127.0.0.2".parse().unwrap()));
        assert!(list.covers_address("::1".parse().unwrap()));
        assert!(list.covers_host("API.corp.internal"));
        assert!(!list.covers_host("corp.internal"));
        assert!("".parse::<AllowList>().unwrap().is_empty());
    }

    #[test]
    fn a_socket_entry_covers_one_port_of_one_address() {
        let list = AllowList::default().with_socket("127.0.0.1:8080".parse().unwrap());
        assert!(!list.is_empty());
        assert!(list.covers_socket("127.0.0.1".parse().unwrap(), 8080));
        assert!(list.covers_socket("::ffff:127.0.0.1".parse().unwrap(), 8080));
        assert!(!list.covers_socket("127.0.0.1".parse().unwrap(), 8081));
        assert!(!list.covers_socket("127.0.0.2".parse().unwrap(), 8080));
        assert!(!list.covers_address("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn refuses_what_is_no_entry() {
        for bad in ["10.0.0/8", "10.0.0.0/33", "http://10.0.0.1", "a_b"] {
            assert_eq!(
                bad.parse::<AllowList>(),
                Err(AllowListError { entry: bad.into() }),
                "{bad}"
            );
        }
    }
}
