//! Object keys of compiled plans (filters, mappings) that remember where they were last
//! found. Records in one batch usually share a shape, and checking that one entry avoids
//! both hashing the key (SipHash, in `serde_json`'s ordered map) and scanning the
//! entries before it, each a likely cache miss on records that are not hot.

use crate::js;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};

/// An object key looked up first at the position it had in the previous object.
#[derive(Debug)]
pub struct PropertyKey {
    name: String,
    hint: AtomicUsize,
}

impl Clone for PropertyKey {
    fn clone(&self) -> Self {
        PropertyKey {
            name: self.name.clone(),
            hint: AtomicUsize::new(self.hint.load(Ordering::Relaxed)),
        }
    }
}

/// Above this many keys a hash lookup touches less memory than a scan.
const SCAN_LIMIT: usize = 16;

impl PropertyKey {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn new(name: String) -> Self {
        PropertyKey {
            name,
            hint: AtomicUsize::new(0),
        }
    }

    /// The own property `name` of `map`, as `Map::get` finds it.
    #[inline]
    pub fn find<'a>(&self, map: &'a Map<String, Value>) -> Option<&'a Value> {
        let hint = self.hint.load(Ordering::Relaxed);
        if let Some((k, v)) = map.iter().nth(hint) {
            if *k == self.name {
                return Some(v);
            }
        }
        if map.len() > SCAN_LIMIT {
            return map.get(&self.name);
        }
        let (i, v) = map
            .iter()
            .enumerate()
            .find(|(_, (k, _))| **k == self.name)
            .map(|(i, (_, v))| (i, v))?;
        self.hint.store(i, Ordering::Relaxed);
        Some(v)
    }

    /// `value[name]`, as `js::get_property` reads it.
    #[inline]
    pub fn get<'a>(&self, value: &'a Value) -> Option<Cow<'a, Value>> {
        match value {
            Value::Object(map) => self.find(map).and_then(js::slot).map(Cow::Borrowed),
            other => js::get_property(other, &self.name),
        }
    }
}
