//! The decision: may an outbound call reach this host or address?
//!
//! Every URL the engine calls is one a customer can influence (connection inputs,
//! connector base URIs built from them, webhook URIs), so the rule is the same for
//! all of them: public addresses are reachable; cloud metadata, link-local,
//! unspecified, multicast, broadcast and reserved addresses never are; loopback and
//! private ranges are when the operator's [`AllowList`] covers them.

use std::net::IpAddr;

use super::address::{self, AddressClass};
use super::allow_list::AllowList;
use super::error::AddressRefused;

#[derive(Debug, Clone, Default)]
pub struct AddressGuard {
    allow: AllowList,
}

impl AddressGuard {
    pub fn new(allow: AllowList) -> Self {
        AddressGuard { allow }
    }

    /// Checks what can be known from the URL alone: an IP-literal host, or a
    /// metadata service's name. Names are checked again, by address, when they are
    /// resolved ([`Self::check_resolved`]).
    ///
    /// An IP-literal URL is also let through when an [`AllowList::with_socket`]
    /// entry is its address and port.
    pub fn check_url(&self, url: &url::Url) -> Result<(), AddressRefused> {
        let port = url.port_or_known_default();
        match url.host() {
            Some(url::Host::Ipv4(ip)) => self.check(&url_host(url), IpAddr::V4(ip), false, port),
            Some(url::Host::Ipv6(ip)) => self.check(&url_host(url), IpAddr::V6(ip), false, port),
            Some(url::Host::Domain(name)) => self.check_name(name),
            None => Ok(()),
        }
    }

    /// Refuses metadata services by name, before asking DNS.
    pub fn check_name(&self, name: &str) -> Result<(), AddressRefused> {
        if address::is_metadata_name(name) {
            return Err(AddressRefused {
                host: name.to_owned(),
                address: None,
                class: AddressClass::CloudMetadata,
            });
        }
        Ok(())
    }

    /// Checks one address `name` resolved to: a host-name entry of the allow list
    /// opens the private addresses of that name.
    pub fn check_resolved(&self, name: &str, ip: IpAddr) -> Result<(), AddressRefused> {
        self.check(name, ip, self.allow.covers_host(name), None)
    }

    /// Checks an address the URL names directly.
    pub fn check_address(&self, host: &str, ip: IpAddr) -> Result<(), AddressRefused> {
        self.check(host, ip, false, None)
    }

    /// `port`: the URL's, when the address came from the URL itself (socket entries
    /// apply only then).
    fn check(
        &self,
        host: &str,
        ip: IpAddr,
        host_allowed: bool,
        port: Option<u16>,
    ) -> Result<(), AddressRefused> {
        let Some(class) = address::classify(ip) else {
            return Ok(());
        };
        let canonical = address::canonical(ip);
        let allowed = class.allowable()
            && (host_allowed
                || self.allow.covers_address(canonical)
                || self.allow.covers_address(ip)
                || port.is_some_and(|port| self.allow.covers_socket(canonical, port)));
        if allowed {
            return Ok(());
        }
        Err(AddressRefused {
            host: host.to_owned(),
            address: Some(canonical),
            class,
        })
    }
}

/// The host as written in the URL (`[::1]` keeps its brackets).
fn url_host(url: &url::Url) -> String {
    url.host_str().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(allow: &str) -> AddressGuard {
        AddressGuard::new(allow.parse().unwrap())
    }

    fn check(guard: &AddressGuard, url: &str) -> Result<(), AddressRefused> {
        guard.check_url(&url::Url::parse(url).unwrap())
    }

    #[test]
    fn metadata_is_refused_even_when_a_network_covers_it() {
        let open = guard("0.0.0.0/0,::/0");
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
            "http://[::ffff:169.254.169.254]/",
            "http://2852039166/", // 169.254.169.254 as one decimal number
            "http://metadata.google.internal/computeMetadata/v1/",
        ] {
            let refused = check(&open, url).unwrap_err();
            assert_eq!(refused.class, AddressClass::CloudMetadata, "{url}");
        }
        assert_eq!(
            check(&open, "http://169.254.1.1/").unwrap_err().class,
            AddressClass::LinkLocal
        );
    }

    #[test]
    fn private_literals_are_refused_unless_allowed() {
        let closed = guard("");
        let refused = check(&closed, "http://10.1.2.3:8080/api?key=secret").unwrap_err();
        assert_eq!(refused.class, AddressClass::Private);
        assert_eq!(refused.host, "10.1.2.3");
        assert!(!refused.to_string().contains("secret"), "{refused}");
        assert!(refused.to_string().contains("OSMOSIS_OUTBOUND_ALLOW"));
        assert!(check(&closed, "http://[::1]/").is_err());
        assert!(check(&closed, "https://93.184.215.14/").is_ok());
        assert!(check(&closed, "https://api.example.com/").is_ok());

        let open = guard("10.0.0.0/8,::1");
        assert!(check(&open, "http://10.1.2.3:8080/").is_ok());
        assert!(check(&open, "http://[::1]/").is_ok());
        assert!(check(&open, "http://192.168.0.1/").is_err());
    }

    #[test]
    fn a_socket_entry_opens_that_port_of_that_address_only() {
        let own =
            AddressGuard::new(AllowList::default().with_socket("127.0.0.1:8080".parse().unwrap()));
        assert!(check(&own, "http://127.0.0.1:8080/demo-app/api/me").is_ok());
        assert!(check(&own, "http://[::ffff:127.0.0.1]:8080/").is_ok());
        for url in [
            "http://127.0.0.1:8081/",
            "http://127.0.0.1/",
            "http://127.0.0.2:8080/",
            "http://[::1]:8080/",
        ] {
            assert!(check(&own, url).is_err(), "{url}");
        }
        // A name is judged by the addresses it resolves to, without the port.
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(own.check_resolved("localhost", ip).is_err());
    }

    #[test]
    fn host_entries_open_the_names_resolved_addresses() {
        let open = guard("api.corp.internal");
        let ip: IpAddr = "10.0.0.5".parse().unwrap();
        assert!(open.check_resolved("api.corp.internal", ip).is_ok());
        assert!(open.check_resolved("other.corp.internal", ip).is_err());
        let metadata: IpAddr = "169.254.169.254".parse().unwrap();
        assert!(open.check_resolved("api.corp.internal", metadata).is_err());
    }
}
