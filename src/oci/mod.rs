//! LEAF: the OCI and distribution vocabulary: digests, references, media types and the image
//! documents. Uses nothing else of the crate.

pub mod digest;
pub mod image;
pub mod media_type;
pub mod reference;

pub use digest::Digest;
pub use reference::Reference;
