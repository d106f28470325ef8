//! The app events of the dedupe window, held in memory by a node that owns its
//! database (SQLite), to tell a repeated delivery of an event from a new one
//! without a database lookup.
//!
//! Why: looking each fingerprint up took the intake's serial group commit about a
//! third of its time, and the index it needed has random keys — every stored event
//! dirtied a page anywhere in it, about half of what a commit wrote to the WAL
//! (`bench/events/README.md`). Here a repeat is a hash probe, and SQLite has no
//! fingerprint index (`0017_app_event_fingerprints_in_memory.sql`).
//!
//! Exact, not a cache: the window is loaded from `app_events` on first use (so a
//! restart forgets nothing committed), and every settlement locks it from its
//! lookup until its events are committed and remembered ([`Held::remember`]) — the
//! intake's group commits and a target's job alike — so no event is both looked up
//! and stored by two settlements at once, and an event whose commit failed is never
//! remembered. On a shared database (PostgreSQL) other nodes store events too, so
//! there the database is asked (`EventStore::app_events_with_fingerprints`).
//!
//! Bounded: at most [`CAP`] events (about 60 MB). Decided here where the docs are
//! silent: past a million events within [`DEDUPE_WINDOW_MS`] (3,300 a second,
//! sustained for five minutes) the window is the last million events, so a repeat
//! arriving later than that is stored as a new event.

use std::collections::{HashMap, VecDeque};

use osmosis_store::{AppEventRow, EventStore, StoreError};
use tokio::sync::{Mutex, MutexGuard};

use super::app_events::DEDUPE_WINDOW_MS;

/// The most events held: bounds the memory (an event costs ~56 bytes).
const CAP: usize = 1_000_000;

/// Events are held in slices of this much time, so expiry drops whole maps.
const SLICE_MS: i64 = 10_000;

/// The window, loaded on first use.
#[derive(Default)]
pub(crate) struct RecentEvents {
    window: Mutex<Option<Window>>,
}

/// The window locked for one settlement: look repeats up, commit, then remember
/// what was committed.
pub(crate) struct Held<'a>(MutexGuard<'a, Option<Window>>);

#[derive(Default)]
struct Window {
    /// Oldest first.
    slices: VecDeque<Slice>,
    len: usize,
}

struct Slice {
    from_ms: i64,
    /// Fingerprint → the event's id and creation time, each as [`bits`].
    events: HashMap<u128, (u128, i64)>,
}

impl RecentEvents {
    /// Locks the window, loading it from `store` the first time.
    pub(crate) async fn lock(&self, store: &dyn EventStore) -> Result<Held<'_>, StoreError> {
        let mut window = self.window.lock().await;
        if window.is_none() {
            let since = crate::clock::now_ms() - DEDUPE_WINDOW_MS;
            let mut loaded = Window::default();
            let mut stored = store
                .recent_app_event_fingerprints(since, CAP as i64)
                .await?;
            stored.reverse();
            for (fingerprint, id, created_ms) in stored {
                loaded.insert(&fingerprint, &id, created_ms);
            }
            *window = Some(loaded);
        }
        Ok(Held(window))
    }
}

/// Locks `recent` when there is one (a database this node owns).
pub(crate) async fn hold<'a>(
    recent: Option<&'a RecentEvents>,
    store: &dyn EventStore,
) -> Result<Option<Held<'a>>, StoreError> {
    match recent {
        Some(recent) => Ok(Some(recent.lock(store).await?)),
        None => Ok(None),
    }
}

impl Held<'_> {
    fn window(&self) -> &Window {
        self.0.as_ref().expect("loaded by RecentEvents::lock")
    }

    /// The id of the event with `fingerprint` created at or after `since_ms`, if
    /// one is held.
    pub(crate) fn find(&self, fingerprint: &str, since_ms: i64) -> Option<String> {
        let key = bits(fingerprint)?;
        self.window()
            .slices
            .iter()
            .rev()
            .take_while(|s| s.from_ms + SLICE_MS > since_ms)
            .find_map(|s| s.events.get(&key).filter(|(_, at)| *at >= since_ms))
            .map(|(id, _)| format!("{id:024x}"))
    }

    /// Remembers events just committed; forgets those past the window or the cap.
    pub(crate) fn remember<'e>(&mut self, events: impl IntoIterator<Item = &'e AppEventRow>) {
        let window = self.0.as_mut().expect("loaded by RecentEvents::lock");
        for e in events {
            window.insert(&e.fingerprint, &e.id, e.created_ms);
        }
        window.expire(crate::clock::now_ms() - DEDUPE_WINDOW_MS);
    }
}

impl Window {
    fn insert(&mut self, fingerprint: &str, id: &str, created_ms: i64) {
        // Ids and fingerprints are 24 hex digits (`app_events::derived_id`); one
        // that is not cannot be held, and is not expected.
        let (Some(key), Some(id)) = (bits(fingerprint), bits(id)) else {
            return;
        };
        let from_ms = created_ms - created_ms.rem_euclid(SLICE_MS);
        // Events arrive in time order, give or take a clock step: an event older
        // than the newest slice joins it (its own time is kept for the lookup).
        if self.slices.back().is_none_or(|s| s.from_ms < from_ms) {
            self.slices.push_back(Slice {
                from_ms,
                events: HashMap::new(),
            });
        }
        let slice = self.slices.back_mut().expect("pushed above");
        if slice.events.insert(key, (id, created_ms)).is_none() {
            self.len += 1;
        }
    }

    /// Drops the slices wholly before `since_ms`, then the oldest past the cap.
    fn expire(&mut self, since_ms: i64) {
        while let Some(oldest) = self.slices.front() {
            let past_window = oldest.from_ms + SLICE_MS <= since_ms;
            if !past_window && self.len <= CAP {
                break;
            }
            self.len -= oldest.events.len();
            self.slices.pop_front();
        }
    }
}

/// The 96 bits of a fingerprint or an event id: 24 lowercase hex digits, which
/// `{:024x}` writes back as they were.
fn bits(hex: &str) -> Option<u128> {
    let lowercase_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    (hex.len() == 24 && hex.bytes().all(lowercase_hex))
        .then(|| u128::from_str_radix(hex, 16).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(window: &Mutex<Option<Window>>) -> Held<'_> {
        Held(window.try_lock().unwrap())
    }

    fn event(fingerprint: &str, id: &str, created_ms: i64) -> AppEventRow {
        AppEventRow {
            seq: 0,
            id: id.into(),
            workspace_id: "w".into(),
            target_id: "t".into(),
            customer_id: "c".into(),
            app_event_type_id: "a".into(),
            app_event_subscription_id: None,
            incoming_webhook_id: "d".into(),
            fingerprint: fingerprint.into(),
            status: "success".into(),
            error: None,
            event: serde_json::json!({}),
            launched_flow_run_ids: vec![],
            created_ms,
        }
    }

    const FP: &str = "00112233445566778899aabb";
    const ID: &str = "0123456789abcdef01234567";

    #[test]
    fn a_remembered_event_is_found_within_the_window_only() {
        let window = Mutex::new(Some(Window::default()));
        let now = crate::clock::now_ms();
        let mut h = held(&window);
        h.remember(&[event(FP, ID, now - 1_000)]);
        assert_eq!(h.find(FP, now - 60_000).as_deref(), Some(ID));
        // Created before the window's start: not a repeat.
        assert_eq!(h.find(FP, now - 500), None);
        assert_eq!(h.find("ffffffffffffffffffffffff", now - 60_000), None);
        // Not a fingerprint this module makes: never a repeat.
        assert_eq!(h.find("xyz", now - 60_000), None);
    }

    #[test]
    fn ids_are_held_as_bits_and_written_back_as_they_were() {
        assert_eq!(bits(ID).map(|b| format!("{b:024x}")).as_deref(), Some(ID));
        // What would not write back the same is not held.
        assert_eq!(bits(&ID.to_uppercase()), None);
        assert_eq!(bits(&ID[1..]), None);
    }

    #[test]
    fn events_past_the_window_are_forgotten() {
        let window = Mutex::new(Some(Window::default()));
        let now = crate::clock::now_ms();
        let mut h = held(&window);
        h.remember(&[event(FP, ID, now - DEDUPE_WINDOW_MS - 2 * SLICE_MS)]);
        assert_eq!(h.window().len, 0, "expired on the way in");
        h.remember(&[event(FP, ID, now)]);
        assert_eq!(h.window().len, 1);
    }

    #[test]
    fn the_cap_forgets_the_oldest_slices_first() {
        let mut w = Window::default();
        let now = crate::clock::now_ms();
        for i in 0..(CAP as i64 + 10) {
            // Two slices: the older holds 10, the newer the rest.
            let at = if i < 10 { now - SLICE_MS } else { now };
            w.insert(&format!("{i:024x}"), ID, at);
        }
        assert_eq!(w.len, CAP + 10);
        w.expire(now - DEDUPE_WINDOW_MS);
        assert_eq!(w.len, CAP);
        assert_eq!(w.slices.len(), 1);
    }
}
