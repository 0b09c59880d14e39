//! Random identifiers and short-ID prefix matching.
//!
//! Leaf module: uses nothing else of the crate.

use rand::Rng;

/// `bytes` random bytes as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill(&mut buffer[..]);
    hex::encode(buffer)
}

/// Whether `text` could be a (possibly shortened) hex ID.
pub fn is_hex_prefix(text: &str) -> bool {
    !text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}
