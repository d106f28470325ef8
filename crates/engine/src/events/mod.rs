//! Events (semantics §2.4, §4.3, §5.5–5.7): what Osmosis notices and the flow runs
//! it starts. An incoming webhook is stored before it is answered and processed by a
//! job ([`intake`]); app events come from the workspace's own app ([`app_events`]);
//! external events from the apps behind connections ([`external`]).

pub mod app_events;
pub mod external;
pub mod intake;
pub mod logs;
pub(crate) mod recent_events;
