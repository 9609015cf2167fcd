//! The frame-signing key (Ed25519). Without `--signing-key` the server
//! uses `DIR/secrets/frame-signing.pem` and creates it on first start, so
//! every frame is signed by default. The private key is PKCS#8 PEM, mode
//! 600; the public key sits beside it as `frame-signing.pub` (64 hex
//! digits), which is what a controller is given.

use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};

use super::{fsio, FileProblem, StoreError};
use crate::i18n::Reason;

/// The key's place under a data directory.
pub fn default_path(data: &Path) -> PathBuf {
    data.join("secrets").join("frame-signing.pem")
}

/// Where the public key of the private key at `path` is written.
pub fn public_path(path: &Path) -> PathBuf {
    path.with_extension("pub")
}

/// Reads a PKCS#8 PEM private key.
pub fn load(path: &Path) -> Result<SigningKey, StoreError> {
    let problem = |why: Reason| StoreError::Corrupt(vec![FileProblem::new(path.into(), why)]);
    let pem = std::fs::read_to_string(path).map_err(|e| {
        problem(Reason::FileUnreadable {
            detail: e.to_string(),
        })
    })?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
        problem(Reason::NotASigningKey {
            detail: e.to_string(),
        })
    })
}

/// Writes a new key pair at `path` (and [`public_path`]); refuses to
/// replace an existing key, so none is lost.
pub fn generate(path: &Path) -> Result<SigningKey, StoreError> {
    if path.exists() {
        return Err(StoreError::conflict(crate::i18n::Reason::KeyExists {
            path: path.display().to_string(),
        }));
    }
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .expect("an Ed25519 key encodes");
    fsio::write_secret(path, pem.as_bytes()).map_err(|e| StoreError::io(path, e))?;
    let public = public_path(path);
    let hex = format!("{}\n", public_hex(&key.verifying_key()));
    fsio::write_atomic(&public, hex.as_bytes()).map_err(|e| StoreError::io(&public, e))?;
    Ok(key)
}

/// The data directory's key, created on first use.
pub fn load_or_create(data: &Path) -> Result<SigningKey, StoreError> {
    let path = default_path(data);
    if path.exists() {
        return load(&path);
    }
    let key = generate(&path)?;
    tracing::info!(key = %path.display(), public = %public_hex(&key.verifying_key()), "created the frame-signing key: every frame is signed; give controllers the public key");
    Ok(key)
}

/// The public key as controllers take it: 64 hex digits.
pub fn public_hex(key: &VerifyingKey) -> String {
    hex::encode(key.to_bytes())
}

/// The public key as a PEM `PUBLIC KEY` block.
pub fn public_pem(key: &VerifyingKey) -> String {
    key.to_public_key_pem(LineEnding::LF)
        .expect("an Ed25519 key encodes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_loaded_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        let again = load_or_create(dir.path()).unwrap();
        assert_eq!(first.to_bytes(), again.to_bytes());
        let path = default_path(dir.path());
        let hex = std::fs::read_to_string(public_path(&path)).unwrap();
        assert_eq!(hex.trim(), public_hex(&first.verifying_key()));
        assert!(matches!(generate(&path), Err(StoreError::Conflict(_))));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(public_pem(&first.verifying_key()).starts_with("-----BEGIN PUBLIC KEY-----"));
    }
}
