//! DNS resolution that hands the connector only addresses the guard accepts.
//!
//! Checking at resolution, not on the URL, is what stops DNS tricks: a name that
//! resolves to a private address (or to a public one first and a private one on
//! the next lookup) is judged by the addresses the connection would really use,
//! on every connection.

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::guard::AddressGuard;

/// The system resolver (getaddrinfo, as reqwest's default), filtered by the guard.
pub(crate) struct GuardedResolver {
    pub(crate) guard: Arc<AddressGuard>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = Arc::clone(&self.guard);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            guard.check_name(&host)?;
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let mut allowed: Vec<SocketAddr> = Vec::new();
            let mut refusal = None;
            for addr in resolved {
                match guard.check_resolved(&host, addr.ip()) {
                    Ok(()) => allowed.push(addr),
                    Err(refused) => {
                        refusal.get_or_insert(refused);
                    }
                }
            }
            // Some addresses of a name may be refused and others not (a public and a
            // private one): connecting to the accepted ones is safe.
            if let (true, Some(refused)) = (allowed.is_empty(), refusal) {
                return Err(refused.into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}
