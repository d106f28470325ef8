//! Notifications Osmosis sends out: the workspace webhook's connection events.
//! (Inbound webhooks from external apps are a different thing and live elsewhere.)

pub mod outbound;
