//! Server-assigned identifiers.

/// A new element id: 24 lowercase hex digits in the shape of the hosted service's
/// ObjectIds. Taken from a UUIDv7 (48 bits of milliseconds, then randomness), so ids
/// never repeat across nodes sharing one database and sort roughly by creation time.
pub fn object_id() -> String {
    let id = uuid::Uuid::now_v7().simple().to_string();
    // Keep the 12 timestamp digits and 12 of the random ones (skipping the version nibble).
    format!("{}{}", &id[..12], &id[20..32])
}

/// A new opaque revision token.
pub fn revision() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_string()
}

/// A new random UUID for elements whose client gave none.
pub fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}
