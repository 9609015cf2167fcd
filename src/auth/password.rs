//! Passwords: Argon2id (the `argon2` crate's defaults, OWASP's minimum:
//! 19 MiB, 2 passes, 1 lane) in PHC strings, a salt of 16 bytes from the
//! OS generator, and the rule a new password must meet.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;

use crate::i18n::Reason;

/// Shortest password accepted.
pub(crate) const MIN_LEN: usize = 10;
/// Longest: hashing cost grows with length, and no person types more.
pub(crate) const MAX_LEN: usize = 256;

/// The PHC string of `password` with a fresh salt.
pub(crate) fn hash(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2id with default parameters hashes any password")
        .to_string()
}

/// Whether `password` is the one `phc` was made from. A broken stored
/// string matches nothing.
pub(crate) fn verify(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Whether `password` may be chosen by `username`: long enough, not
/// absurdly long, not the user name.
pub(crate) fn acceptable(password: &str, username: &str) -> Result<(), Reason> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(Reason::PasswordShort { min: MIN_LEN });
    }
    if n > MAX_LEN {
        return Err(Reason::PasswordLong { max: MAX_LEN });
    }
    if password.trim().eq_ignore_ascii_case(username) {
        return Err(Reason::PasswordIsUsername);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash("mật khẩu dài lắm");
        let b = hash("mật khẩu dài lắm");
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "the same password hashed twice must differ (salt)");
        assert!(verify(&a, "mật khẩu dài lắm"));
        assert!(!verify(&a, "mật khẩu dài lắn"));
        assert!(!verify("not a phc string", "x"));
    }

    #[test]
    fn the_rule_refuses_short_long_and_username_passwords() {
        assert_eq!(
            acceptable("ngắn", "lan"),
            Err(Reason::PasswordShort { min: MIN_LEN })
        );
        assert_eq!(
            acceptable(&"x".repeat(MAX_LEN + 1), "lan"),
            Err(Reason::PasswordLong { max: MAX_LEN })
        );
        assert_eq!(
            acceptable("Lan-Haichau", "lan-haichau"),
            Err(Reason::PasswordIsUsername)
        );
        assert!(acceptable("một mật khẩu tốt", "lan").is_ok());
    }
}
