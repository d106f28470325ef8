//! What kind of address an IP is, as far as calling out to it is concerned.
//!
//! Only the classification lives here; whether a class is refused, and whether the
//! allow list can open it, is [`super::guard`]'s decision.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Why an address is not a public Internet address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// A cloud provider's instance metadata service (it hands out the machine's
    /// credentials to whoever asks).
    CloudMetadata,
    /// 169.254.0.0/16, fe80::/10: never routed, only the local link.
    LinkLocal,
    /// 0.0.0.0/8, `::`: on Linux, connecting to it reaches this machine.
    Unspecified,
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// 240.0.0.0/4, reserved for future use.
    Reserved,
    /// 127.0.0.0/8, `::1`: this machine.
    Loopback,
    /// 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (RFC 1918).
    Private,
    /// 100.64.0.0/10, carrier-grade NAT (RFC 6598).
    SharedAddressSpace,
    /// fc00::/7 (RFC 4193), the IPv6 private range.
    UniqueLocal,
}

impl AddressClass {
    /// The stable code of the class, as `data.reason` of a refusal.
    pub fn code(self) -> &'static str {
        match self {
            AddressClass::CloudMetadata => "cloud_metadata",
            AddressClass::LinkLocal => "link_local",
            AddressClass::Unspecified => "unspecified",
            AddressClass::Multicast => "multicast",
            AddressClass::Broadcast => "broadcast",
            AddressClass::Reserved => "reserved",
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::SharedAddressSpace => "shared_address_space",
            AddressClass::UniqueLocal => "unique_local",
        }
    }

    /// Whether the operator's allow list may open the class: the ranges where a
    /// team's own services live. Metadata, link-local and addresses that are not a
    /// single host stay refused whatever the allow list says.
    pub fn allowable(self) -> bool {
        matches!(
            self,
            AddressClass::Loopback
                | AddressClass::Private
                | AddressClass::SharedAddressSpace
                | AddressClass::UniqueLocal
        )
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressClass::CloudMetadata => "a cloud metadata endpoint",
            AddressClass::LinkLocal => "a link-local address",
            AddressClass::Unspecified => "an unspecified address",
            AddressClass::Multicast => "a multicast address",
            AddressClass::Broadcast => "the broadcast address",
            AddressClass::Reserved => "a reserved address",
            AddressClass::Loopback => "a loopback address",
            AddressClass::Private => "a private address",
            AddressClass::SharedAddressSpace => "a carrier-grade NAT address",
            AddressClass::UniqueLocal => "a unique local (private IPv6) address",
        })
    }
}

/// Metadata services by address: AWS, GCP, Azure, Oracle and most others answer
/// on 169.254.169.254; AWS ECS task metadata on 169.254.170.2; Alibaba on
/// 100.100.100.200 (inside the carrier-grade NAT range, so an allow list opening
/// that range must not open it); AWS over IPv6 on fd00:ec2::254.
const METADATA_V4: [Ipv4Addr; 3] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(100, 100, 100, 200),
];
const METADATA_V6: [Ipv6Addr; 1] = [Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254)];

/// Metadata services by name, refused before they are resolved (a resolver inside
/// a cloud answers them with the addresses above; elsewhere they may answer
/// anything).
const METADATA_NAMES: [&str; 5] = [
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
];

/// Whether `host` (a DNS name, any case, maybe with the root's trailing dot) names
/// a cloud metadata service.
pub fn is_metadata_name(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    METADATA_NAMES.iter().any(|n| n.eq_ignore_ascii_case(host))
}

/// The IPv4 address an IPv6 address stands for, when it stands for one: mapped
/// (`::ffff:a.b.c.d`, which the socket layer sends over IPv4) and NAT64
/// (`64:ff9b::a.b.c.d`, which a NAT64 gateway forwards to the IPv4 address).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let nat64 = Ipv6Net::new(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96).expect("a /96");
    nat64.contains(&ip).then(|| {
        let [.., a, b, c, d] = ip.octets();
        Ipv4Addr::new(a, b, c, d)
    })
}

/// The address a connection to `ip` really reaches: IPv6 forms of an IPv4 address
/// become that IPv4 address, so `::ffff:169.254.169.254` is judged as what it is.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => embedded_v4(v6).map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

fn v4_net(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new(Ipv4Addr::new(a, b, c, d), prefix).expect("a valid prefix")
}

/// The class of `ip` (after [`canonical`]), or `None` for a public address.
pub fn classify(ip: IpAddr) -> Option<AddressClass> {
    match canonical(ip) {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<AddressClass> {
    let class = if METADATA_V4.contains(&ip) {
        AddressClass::CloudMetadata
    } else if ip.is_broadcast() {
        AddressClass::Broadcast
    } else if v4_net(0, 0, 0, 0, 8).contains(&ip) {
        AddressClass::Unspecified
    } else if ip.is_link_local() {
        AddressClass::LinkLocal
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_private() {
        AddressClass::Private
    } else if v4_net(100, 64, 0, 0, 10).contains(&ip) {
        AddressClass::SharedAddressSpace
    } else if ip.is_multicast() {
        AddressClass::Multicast
    } else if v4_net(240, 0, 0, 0, 4).contains(&ip) {
        AddressClass::Reserved
    } else {
        return None;
    };
    Some(class)
}

fn classify_v6(ip: Ipv6Addr) -> Option<AddressClass> {
    let in_net = |net: &str| {
        net.parse::<IpNet>()
            .expect("a literal network")
            .contains(&IpAddr::V6(ip))
    };
    let class = if METADATA_V6.contains(&ip) {
        AddressClass::CloudMetadata
    } else if ip.is_unspecified() {
        AddressClass::Unspecified
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if in_net("fe80::/10") {
        AddressClass::LinkLocal
    } else if in_net("fc00::/7") {
        AddressClass::UniqueLocal
    } else if ip.is_multicast() {
        AddressClass::Multicast
    } else {
        return None;
    };
    Some(class)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(ip: &str) -> Option<AddressClass> {
        classify(ip.parse().unwrap())
    }

    #[test]
    fn metadata_addresses_are_metadata_in_every_spelling() {
        for ip in [
            "169.254.169.254",
            "169.254.170.2",
            "100.100.100.200",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert_eq!(class(ip), Some(AddressClass::CloudMetadata), "{ip}");
        }
        assert!(is_metadata_name("metadata.google.internal"));
        assert!(is_metadata_name("Metadata.Google.Internal."));
        assert!(!is_metadata_name("metadata.example.com"));
    }

    #[test]
    fn ranges_have_their_class() {
        for (ip, expected) in [
            ("169.254.1.1", AddressClass::LinkLocal),
            ("fe80::1", AddressClass::LinkLocal),
            ("0.0.0.0", AddressClass::Unspecified),
            ("::", AddressClass::Unspecified),
            ("224.0.0.1", AddressClass::Multicast),
            ("ff02::1", AddressClass::Multicast),
            ("255.255.255.255", AddressClass::Broadcast),
            ("240.0.0.1", AddressClass::Reserved),
            ("127.0.0.1", AddressClass::Loopback),
            ("::1", AddressClass::Loopback),
            ("::ffff:127.0.0.1", AddressClass::Loopback),
            ("10.1.2.3", AddressClass::Private),
            ("172.16.0.1", AddressClass::Private),
            ("172.31.255.255", AddressClass::Private),
            ("192.168.1.1", AddressClass::Private),
            ("100.64.0.1", AddressClass::SharedAddressSpace),
            ("fd12:3456::1", AddressClass::UniqueLocal),
        ] {
            assert_eq!(class(ip), Some(expected), "{ip}");
        }
        for public in ["8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111"] {
            assert_eq!(class(public), None, "{public}");
        }
    }
}
