//! Sealed state files: the source configs and task files kept in the state directory hold
//! passwords, so they are stored encrypted (AES-256-GCM) with a key of the state directory,
//! never in clear.
//!
//! The key is `<state>/secret.key`: 64 hexadecimal characters, the form of DM's
//! `secret-key-path` file, created (mode 0600) with random bytes the first time something is
//! sealed. A sealed file is one line of text, `startpoint-sealed-v1:<hex of nonce, ciphertext
//! and tag>`. Files that are not sealed are read as they are, so a config copied into the state
//! directory by hand still works. Encryption is ring's (already in the tree through rustls):
//! no new crate, and no hand-written cipher.

use std::io::Write;
use std::path::{Path, PathBuf};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// What a sealed file starts with.
const SEALED: &str = "startpoint-sealed-v1:";

/// Why a state file could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    #[error(
        "{}: not a secret key (it must hold 64 hexadecimal characters, an AES-256 key); \
         restore it from a backup or remove the state directory's sources and tasks and \
         create them again",
        path.display()
    )]
    BadKey { path: PathBuf },
    #[error(
        "{}: cannot be opened with {}: the file is damaged or was sealed with another key; \
         restore the key or create the source or task again",
        path.display(),
        key.display()
    )]
    Unseal { path: PathBuf, key: PathBuf },
    #[error("the system random number generator failed")]
    Random,
    #[error("{name}: {len} bytes are too many to seal")]
    TooLarge { name: String, len: usize },
}

/// The key of one state directory.
pub struct SecretKey {
    path: PathBuf,
    key: LessSafeKey,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.path.display())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// The most a key file may hold: 64 hexadecimal characters and a newline, with room to spare.
const KEY_FILE_BYTES: u64 = 4096;

/// DM's secret key (`secret-key-path`, 64 hex characters), for passwords a DM user encrypted
/// with `dmctl encrypt`; set once per process by the command line.
static DM_SECRET_KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();

/// Reads DM's `secret-key-path` file and keeps the key for [`dm_decrypt_or_plaintext`].
pub fn load_dm_secret_key(path: &Path) -> Result<(), SecretError> {
    let text = crate::input::read_text_capped(path, "a key file", KEY_FILE_BYTES)?;
    let key: [u8; 32] = unhex(&text)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| SecretError::BadKey {
            path: path.to_path_buf(),
        })?;
    let _ = DM_SECRET_KEY.set(key);
    Ok(())
}

/// A password as DM reads it (`DecryptOrPlaintext`, tiflow `dm/pkg/utils/encrypt.go` and
/// `dm/pkg/encrypt/encrypt.go`): base64 of a 16-byte IV, `@`, and the password under
/// AES-256-CFB with DM's secret key; anything that does not decrypt (no key given, not base64,
/// no `@`) is the password itself.
pub fn dm_decrypt_or_plaintext(text: &str) -> String {
    DM_SECRET_KEY
        .get()
        .and_then(|key| dm_decrypt(key, text))
        .unwrap_or_else(|| text.to_owned())
}

fn dm_decrypt(key: &[u8; 32], text: &str) -> Option<String> {
    use aes::cipher::{AsyncStreamCipher, KeyIvInit};
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    if bytes.len() < 17 || bytes[16] != b'@' {
        return None;
    }
    let mut plain = bytes[17..].to_vec();
    cfb_mode::Decryptor::<aes::Aes256>::new(key.into(), bytes[..16].into()).decrypt(&mut plain);
    // Go's string() takes any bytes; a password here is text.
    String::from_utf8(plain).ok()
}

impl SecretKey {
    /// The key at `path`, created if there is none yet.
    pub fn load_or_create(path: &Path) -> Result<SecretKey, SecretError> {
        let io = |source| SecretError::Io {
            path: path.to_path_buf(),
            source,
        };
        match crate::input::read_text_capped(path, "a key file", KEY_FILE_BYTES) {
            Ok(text) => return SecretKey::from_hex(path, &text),
            Err(crate::input::InputError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| SecretError::Random)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        file.write_all(format!("{}\n", hex(&bytes)).as_bytes())
            .map_err(io)?;
        file.as_file().sync_all().map_err(io)?;
        // Two first runs at once: the one that loses the race uses the winner's key.
        match file.persist_noclobber(path) {
            Ok(_) => SecretKey::from_hex(path, &hex(&bytes)),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = crate::input::read_text_capped(path, "a key file", KEY_FILE_BYTES)?;
                SecretKey::from_hex(path, &text)
            }
            Err(e) => Err(io(e.error)),
        }
    }

    fn from_hex(path: &Path, text: &str) -> Result<SecretKey, SecretError> {
        let bad = || SecretError::BadKey {
            path: path.to_path_buf(),
        };
        let bytes = unhex(text).filter(|b| b.len() == 32).ok_or_else(bad)?;
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| bad())?;
        Ok(SecretKey {
            path: path.to_path_buf(),
            key: LessSafeKey::new(key),
        })
    }

    /// `text` sealed, as a file's contents. `name` (the file's name) is bound to it, so a
    /// sealed file renamed to another source's name does not open.
    pub fn seal(&self, name: &str, text: &str) -> Result<String, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SecretError::Random)?;
        let mut buffer = text.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(name.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| SecretError::TooLarge {
                name: name.to_owned(),
                len: text.len(),
            })?;
        Ok(format!("{SEALED}{}{}\n", hex(&nonce), hex(&buffer)))
    }

    /// The text of a file at `path` named `name`: opened if sealed, as it is otherwise.
    pub fn open(&self, path: &Path, name: &str, contents: &str) -> Result<String, SecretError> {
        let Some(sealed) = contents.strip_prefix(SEALED) else {
            return Ok(contents.to_owned());
        };
        let unseal = || SecretError::Unseal {
            path: path.to_path_buf(),
            key: self.path.clone(),
        };
        let bytes = unhex(sealed).ok_or_else(unseal)?;
        if bytes.len() < NONCE_LEN {
            return Err(unseal());
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| unseal())?;
        let mut buffer = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(name.as_bytes()), &mut buffer)
            .map_err(|_| unseal())?;
        String::from_utf8(plain.to_vec()).map_err(|_| unseal())
    }
}

/// Whether a file's contents are sealed.
pub fn is_sealed(contents: &str) -> bool {
    contents.starts_with(SEALED)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A password `dmctl encrypt` produced is decrypted with DM's secret key before use, as DM
    /// does, never used as its literal text. DM's format, built here with the same cipher
    /// (AES-256-CFB, IV, `@`) and checked both ways.
    #[test]
    fn dm_encrypted_passwords_decrypt_as_dm_does() {
        use aes::cipher::{AsyncStreamCipher, KeyIvInit};
        use base64::Engine;
        let key = [7u8; 32];
        let iv = [9u8; 16];
        let mut sealed = b"p@ss-word".to_vec();
        cfb_mode::Encryptor::<aes::Aes256>::new((&key).into(), (&iv).into()).encrypt(&mut sealed);
        let mut raw = iv.to_vec();
        raw.push(b'@');
        raw.extend_from_slice(&sealed);
        let text = base64::engine::general_purpose::STANDARD.encode(&raw);
        assert_eq!(dm_decrypt(&key, &text).as_deref(), Some("p@ss-word"));
        assert_eq!(dm_decrypt(&key, "plain-password"), None);
        assert_eq!(
            dm_decrypt(&[8u8; 32], &text).filter(|p| p == "p@ss-word"),
            None
        );
        // Without a key (none loaded in this test process), the text is the password.
        assert_eq!(dm_decrypt_or_plaintext("plain-password"), "plain-password");
    }

    #[test]
    fn sealed_text_opens_only_with_its_key_and_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let key = SecretKey::load_or_create(&path).unwrap();
        let text = "from: {password: hunter2}\n";
        let sealed = key.seal("a.yaml", text).unwrap();
        assert!(is_sealed(&sealed) && !sealed.contains("hunter2"));
        let file = dir.path().join("a.yaml");
        assert_eq!(key.open(&file, "a.yaml", &sealed).unwrap(), text);
        // The same key comes back from the file.
        let again = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(again.open(&file, "a.yaml", &sealed).unwrap(), text);
        // Another name, another key, a flipped character: errors naming the file.
        assert!(key.open(&file, "b.yaml", &sealed).is_err());
        let other = SecretKey::load_or_create(&dir.path().join("other.key")).unwrap();
        let err = other
            .open(&file, "a.yaml", &sealed)
            .unwrap_err()
            .to_string();
        assert!(err.contains("a.yaml") && err.contains("other.key"), "{err}");
        let mut damaged = sealed.clone().into_bytes();
        let at = damaged.len() - 5;
        damaged[at] = if damaged[at] == b'0' { b'1' } else { b'0' };
        let damaged = String::from_utf8(damaged).unwrap();
        assert!(key.open(&file, "a.yaml", &damaged).is_err());
        // Plain files are read as they are.
        assert_eq!(key.open(&file, "a.yaml", text).unwrap(), text);
    }

    #[test]
    fn a_bad_key_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        std::fs::write(&path, "not hex").unwrap();
        let err = SecretKey::load_or_create(&path).unwrap_err().to_string();
        assert!(
            err.contains("secret.key") && err.contains("64 hexadecimal"),
            "{err}"
        );
    }
}
