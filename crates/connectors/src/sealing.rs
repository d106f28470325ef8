//! Credentials at rest: AES-256-GCM with a 32-byte key, in a versioned format that
//! names the key, so keys can be rotated (open with the old, seal with the new).
//!
//! Sealed layout: `version (1 byte = 1) ‖ key id (8 bytes) ‖ nonce (12) ‖ ciphertext+tag`.
//! The version and key id are authenticated as associated data together with the
//! caller's context (e.g. the connection id), so a sealed value moved to another record
//! does not open.

use std::fs;
use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 12;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;
/// Name of the generated key file.
pub const KEY_FILE_NAME: &str = "credentials.key";

#[derive(Debug, thiserror::Error)]
pub enum SealingError {
    #[error("the encryption key must be 32 bytes of base64 (got {0} bytes)")]
    KeyLength(usize),
    #[error("the encryption key is not valid base64")]
    KeyEncoding,
    #[error("key file {path}: {source}")]
    KeyFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("sealed data is too short or has an unknown format version")]
    Malformed,
    #[error("sealed with key {0}, which is not configured")]
    UnknownKey(String),
    /// Wrong key, wrong context, or the bytes were changed.
    #[error("sealed data failed authentication")]
    Tampered,
    #[error("sealed text is not valid base64")]
    TextEncoding,
}

/// A 32-byte AES-256 key and its id (first 8 bytes of its SHA-256).
#[derive(Clone)]
pub struct EncryptionKey {
    key: [u8; 32],
    id: [u8; KEY_ID_LEN],
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncryptionKey(id {})", self.id_hex())
    }
}

impl EncryptionKey {
    pub fn from_bytes(key: [u8; 32]) -> Self {
        let digest = Sha256::digest(key);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Self { key, id }
    }

    /// From a base64 value (e.g. an environment variable).
    pub fn from_base64(text: &str) -> Result<Self, SealingError> {
        let bytes = STANDARD
            .decode(text.trim())
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim()))
            .map_err(|_| SealingError::KeyEncoding)?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| SealingError::KeyLength(bytes.len()))?;
        Ok(Self::from_bytes(key))
    }

    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self::from_bytes(key)
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.key)
    }

    pub fn id_hex(&self) -> String {
        self.id.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The key in `dir/credentials.key`, generated on first use (owner-only
    /// permissions on Unix, created exclusively so two nodes starting together cannot
    /// write different keys).
    pub fn load_or_create(dir: &Path) -> Result<Self, SealingError> {
        let path = dir.join(KEY_FILE_NAME);
        let file_error = |source| SealingError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        if let Ok(text) = fs::read_to_string(&path) {
            return Self::from_base64(&text);
        }
        fs::create_dir_all(dir).map_err(file_error)?;
        let key = Self::generate();
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(&path) {
            Ok(mut file) => {
                file.write_all(key.to_base64().as_bytes())
                    .map_err(file_error)?;
                file.sync_all().map_err(file_error)?;
                Ok(key)
            }
            // Someone else created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::from_base64(&fs::read_to_string(&path).map_err(file_error)?)
            }
            Err(e) => Err(file_error(e)),
        }
    }

    /// The key from the environment value when set, else the key file in `dir`.
    pub fn from_env_or_dir(env_value: Option<&str>, dir: &Path) -> Result<Self, SealingError> {
        match env_value.filter(|v| !v.trim().is_empty()) {
            Some(value) => Self::from_base64(value),
            None => Self::load_or_create(dir),
        }
    }
}

/// Seals with the current key; opens with the current or any previous key.
#[derive(Debug, Clone)]
pub struct CredentialsCipher {
    current: EncryptionKey,
    previous: Vec<EncryptionKey>,
}

impl CredentialsCipher {
    pub fn new(current: EncryptionKey) -> Self {
        Self {
            current,
            previous: Vec::new(),
        }
    }

    /// Keeps `key` for opening values sealed before a rotation.
    pub fn with_previous(mut self, key: EncryptionKey) -> Self {
        self.previous.push(key);
        self
    }

    fn aad(header: &[u8], context: &[u8]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(1 + KEY_ID_LEN + context.len());
        aad.extend_from_slice(&header[..1 + KEY_ID_LEN]);
        aad.extend_from_slice(context);
        aad
    }

    /// Encrypts `plaintext`, bound to `context`.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + 16);
        out.push(VERSION);
        out.extend_from_slice(&self.current.id);
        out.extend_from_slice(&nonce);
        let cipher = Aes256Gcm::new_from_slice(&self.current.key).expect("32-byte key");
        let aad = Self::aad(&out, context);
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts what [`Self::seal`] produced with the same `context`.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, SealingError> {
        if sealed.len() < HEADER_LEN + 16 || sealed[0] != VERSION {
            return Err(SealingError::Malformed);
        }
        let id = &sealed[1..1 + KEY_ID_LEN];
        let key = std::iter::once(&self.current)
            .chain(self.previous.iter())
            .find(|k| k.id == id)
            .ok_or_else(|| {
                SealingError::UnknownKey(id.iter().map(|b| format!("{b:02x}")).collect())
            })?;
        let cipher = Aes256Gcm::new_from_slice(&key.key).expect("32-byte key");
        let aad = Self::aad(sealed, context);
        cipher
            .decrypt(
                Nonce::from_slice(&sealed[1 + KEY_ID_LEN..HEADER_LEN]),
                Payload {
                    msg: &sealed[HEADER_LEN..],
                    aad: &aad,
                },
            )
            .map_err(|_| SealingError::Tampered)
    }

    /// Whether a sealed value uses a key other than the current one.
    pub fn needs_rotation(&self, sealed: &[u8]) -> bool {
        sealed.len() < 1 + KEY_ID_LEN || sealed[1..1 + KEY_ID_LEN] != self.current.id
    }

    /// Opens with whichever key sealed it and seals again with the current key.
    pub fn reseal(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, SealingError> {
        let plaintext = self.open(sealed, context)?;
        Ok(self.seal(&plaintext, context))
    }

    /// Seals JSON into base64 text, for storage in text columns.
    pub fn seal_json(&self, value: &serde_json::Value, context: &[u8]) -> String {
        STANDARD.encode(self.seal(value.to_string().as_bytes(), context))
    }

    /// [`Self::needs_rotation`] of text from [`Self::seal_json`] (text that is not
    /// base64 needs it too, and will not open).
    pub fn text_needs_rotation(&self, text: &str) -> bool {
        STANDARD
            .decode(text)
            .map_or(true, |sealed| self.needs_rotation(&sealed))
    }

    /// [`Self::reseal`] of text from [`Self::seal_json`].
    pub fn reseal_text(&self, text: &str, context: &[u8]) -> Result<String, SealingError> {
        let sealed = STANDARD
            .decode(text)
            .map_err(|_| SealingError::TextEncoding)?;
        Ok(STANDARD.encode(self.reseal(&sealed, context)?))
    }

    pub fn open_json(&self, text: &str, context: &[u8]) -> Result<serde_json::Value, SealingError> {
        let sealed = STANDARD
            .decode(text)
            .map_err(|_| SealingError::TextEncoding)?;
        let plaintext = self.open(&sealed, context)?;
        serde_json::from_slice(&plaintext).map_err(|_| SealingError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plaintext_never_appears_and_round_trips() {
        let cipher = CredentialsCipher::new(EncryptionKey::generate());
        let secret = b"access_token=super-secret-token-value";
        let sealed = cipher.seal(secret, b"conn-1");
        assert!(!sealed.windows(secret.len()).any(|w| w == secret));
        assert!(!sealed.windows(12).any(|w| w == b"super-secret"));
        assert_eq!(cipher.open(&sealed, b"conn-1").unwrap(), secret);
        // Two seals of the same plaintext differ (fresh nonce).
        assert_ne!(sealed, cipher.seal(secret, b"conn-1"));
    }

    #[test]
    fn tampering_and_wrong_context_fail() {
        let cipher = CredentialsCipher::new(EncryptionKey::generate());
        let sealed = cipher.seal(b"{\"k\":\"v\"}", b"conn-1");
        for i in [0, 1, 9, 20, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(
                cipher.open(&bad, b"conn-1").is_err(),
                "byte {i} flipped still opened"
            );
        }
        assert!(matches!(
            cipher.open(&sealed, b"conn-2"),
            Err(SealingError::Tampered)
        ));
        assert!(matches!(
            cipher.open(&sealed[..10], b"conn-1"),
            Err(SealingError::Malformed)
        ));
    }

    #[test]
    fn rotation_opens_with_old_key_and_reseals_with_new() {
        let old = EncryptionKey::generate();
        let new = EncryptionKey::generate();
        let old_cipher = CredentialsCipher::new(old.clone());
        let text = old_cipher.seal_json(&json!({"token": "t-1"}), b"c");
        let sealed_old = STANDARD.decode(&text).unwrap();

        let new_only = CredentialsCipher::new(new.clone());
        assert!(matches!(
            new_only.open(&sealed_old, b"c"),
            Err(SealingError::UnknownKey(_))
        ));

        let rotating = CredentialsCipher::new(new).with_previous(old);
        assert!(rotating.needs_rotation(&sealed_old));
        let resealed = rotating.reseal(&sealed_old, b"c").unwrap();
        assert!(!rotating.needs_rotation(&resealed));
        assert_eq!(
            rotating
                .open_json(&STANDARD.encode(&resealed), b"c")
                .unwrap(),
            json!({"token": "t-1"})
        );
        assert!(new_only.open(&resealed, b"c").is_ok());

        // The same on text.
        assert!(rotating.text_needs_rotation(&text));
        let resealed_text = rotating.reseal_text(&text, b"c").unwrap();
        assert!(!rotating.text_needs_rotation(&resealed_text));
        assert_eq!(
            new_only.open_json(&resealed_text, b"c").unwrap(),
            json!({"token": "t-1"})
        );
        assert!(matches!(
            new_only.reseal_text(&text, b"c"),
            Err(SealingError::UnknownKey(_))
        ));
        assert!(rotating.text_needs_rotation("not base64!"));
    }

    #[test]
    fn key_file_is_created_once_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let first = EncryptionKey::load_or_create(dir.path()).unwrap();
        let second = EncryptionKey::load_or_create(dir.path()).unwrap();
        assert_eq!(first.to_base64(), second.to_base64());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(KEY_FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let from_env =
            EncryptionKey::from_env_or_dir(Some(&first.to_base64()), Path::new("/nonexistent"))
                .unwrap();
        assert_eq!(from_env.id_hex(), first.id_hex());
        assert!(matches!(
            EncryptionKey::from_base64("AAAA"),
            Err(SealingError::KeyLength(3))
        ));
        assert!(format!("{first:?}").starts_with("EncryptionKey(id "));
    }
}
