//! Signed, expiring download links: the one-stop system fetches each PDF from sohoa's API with no token
//! of its own. A link names the file by its SHA-256 and carries an expiry and an HMAC-SHA-256 of both
//! under a key only the service knows (kept in the records, so every API process checks every link).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Makes the links of one sender.
#[derive(Clone)]
pub struct Links {
    key: Vec<u8>,
    /// The API's address as the receiver reaches it, without a trailing slash.
    base: String,
    /// How long a link is valid, in seconds.
    valid_s: i64,
}

/// Why a link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefusal {
    /// Its time is past.
    Expired,
    /// The signature is not ours for this file and expiry (altered or made up).
    Forged,
}

fn mac(key: &[u8], sha256: &str, expires: i64) -> Hmac<Sha256> {
    // Any key length is accepted by HMAC; the error arm cannot happen.
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    m.update(sha256.as_bytes());
    m.update(b"\n");
    m.update(expires.to_string().as_bytes());
    m
}

impl Links {
    /// Links under `base` (the API's public address), valid for `hours`.
    pub fn new(key: Vec<u8>, base: &str, hours: u64) -> Links {
        Links { key, base: base.trim_end_matches('/').to_string(), valid_s: (hours as i64).max(1) * 3600 }
    }

    /// The download link of a stored PDF, valid from `now_s` (seconds since the epoch).
    pub fn url(&self, sha256: &str, now_s: i64) -> String {
        let expires = now_s + self.valid_s;
        let signature = hex::encode(mac(&self.key, sha256, expires).finalize().into_bytes());
        format!("{}/api/v1/files/{sha256}?expires={expires}&signature={signature}", self.base)
    }
}

/// Checks a link's expiry and signature for a file at `now_s`.
pub fn check(key: &[u8], sha256: &str, expires: i64, signature: &str, now_s: i64) -> Result<(), LinkRefusal> {
    let Ok(given) = hex::decode(signature) else { return Err(LinkRefusal::Forged) };
    // The signature first: an altered expiry is a forgery, not an expired link.
    mac(key, sha256, expires).verify_slice(&given).map_err(|_| LinkRefusal::Forged)?;
    if expires < now_s {
        return Err(LinkRefusal::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_checks_until_it_expires_and_not_once_altered() {
        let links = Links::new(b"key".to_vec(), "http://h:1/", 1);
        let sha = "ab".repeat(32);
        let url = links.url(&sha, 1000);
        let q = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let (e, s) = q.split_once('&').unwrap_or_default();
        let expires: i64 = e.trim_start_matches("expires=").parse().unwrap_or(0);
        let sig = s.trim_start_matches("signature=");
        assert!(url.starts_with("http://h:1/api/v1/files/"));
        assert_eq!(check(b"key", &sha, expires, sig, 1000), Ok(()));
        assert_eq!(check(b"key", &sha, expires, sig, expires + 1), Err(LinkRefusal::Expired));
        assert_eq!(check(b"key", &sha, expires + 3600, sig, 1000), Err(LinkRefusal::Forged));
        assert_eq!(check(b"key", &"cd".repeat(32), expires, sig, 1000), Err(LinkRefusal::Forged));
        assert_eq!(check(b"other", &sha, expires, sig, 1000), Err(LinkRefusal::Forged));
        assert_eq!(check(b"key", &sha, expires, "zz", 1000), Err(LinkRefusal::Forged));
    }
}
