//! Image references — `[registry/]repository[:tag][@digest]` — parsed and normalised exactly as
//! Docker does it (`distribution/reference` v0.6: `ParseNormalizedNamed`, then `TagNameOnly`).
//!
//! The grammar, as `distribution/reference` writes it:
//!
//! ```text
//! reference        := name [ ":" tag ] [ "@" digest ]
//! name             := [domain "/"] path-component ["/" path-component]*
//! domain           := host [":" port-number]
//! host             := domain-name | "[" ipv6-hex-and-colons "]"
//! domain-name      := domain-component ["." domain-component]*
//! domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//! port-number      := /[0-9]+/
//! path-component   := /[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*/
//! tag              := /[\w][\w.-]{0,127}/
//! digest           := /[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}/
//! ```
//!
//! Normalisation: the first `/`-separated component is the registry when it is `localhost`,
//! contains a `.` or a `:`, or contains an uppercase letter; otherwise the whole name is a path
//! on Docker Hub (`docker.io`). A name without `/` is always on Docker Hub (`localhost:5000` is
//! `docker.io/library/localhost` tagged `5000`). `index.docker.io` is spelled `docker.io`, and single-component
//! Docker Hub paths get the `library/` namespace. [`Reference::parse`] then adds the tag
//! `latest` when neither tag nor digest was given; [`Reference::parse_repository`] does not.
//!
//! Only sha256 digests are representable (see [`Digest`]).
//!
//! Leaf module: uses nothing else of the crate except [`super::digest::Digest`].

use std::fmt;
use std::str::FromStr;

use super::digest::Digest;

/// Docker Hub, the registry of familiar names such as `alpine` or `myuser/app`.
const DEFAULT_REGISTRY: &str = "docker.io";
/// The legacy name of Docker Hub, normalised to [`DEFAULT_REGISTRY`].
const LEGACY_DEFAULT_REGISTRY: &str = "index.docker.io";
/// The Docker Hub namespace of official images.
const OFFICIAL_PREFIX: &str = "library/";
/// The tag assumed when a reference names neither a tag nor a digest.
const DEFAULT_TAG: &str = "latest";
/// The one registry name that needs neither a `.` nor a port.
const LOCALHOST: &str = "localhost";
/// The longest repository path (the name without its registry), in bytes.
const MAX_PATH_LEN: usize = 255;
/// The longest tag, in bytes.
const MAX_TAG_LEN: usize = 128;
/// The fewest hex digits the reference grammar accepts in a digest.
const MIN_DIGEST_HEX: usize = 32;

/// A normalised image reference: registry, repository path, and an optional tag and digest.
///
/// Always fully qualified: `alpine` is held as registry `docker.io`, repository
/// `library/alpine`. Ordering and hashing follow the fields in that order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// Why a reference string was refused. The messages are Docker's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// The text does not match the reference grammar (empty, stray `:` or `/`, bad characters…).
    #[error("invalid reference format")]
    InvalidFormat,
    /// The repository path (as normalised, e.g. `library/UPPER`) contains uppercase letters.
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    UppercaseRepository(String),
    /// The name only matches the grammar once lowercased (uppercase in a would-be registry
    /// that is not a valid host name, e.g. `Foo_bar/app`).
    #[error("repository name must be lowercase")]
    NameContainsUppercase,
    /// The whole text is 64 lowercase hex digits, which Docker reserves for image IDs.
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexIdentifier(String),
    /// The repository path (without the registry) is longer than 255 characters.
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,
    /// A tag given to [`Reference::with_tag`] does not match `[\w][\w.-]{0,127}`.
    #[error("invalid tag format")]
    InvalidTag,
    /// A sha256 digest whose hex part has the right length but is not lowercase hex, or a digest
    /// whose algorithm is not lowercase.
    #[error("invalid checksum digest format")]
    DigestFormat,
    /// A sha256 digest whose hex part is not 64 digits long.
    #[error("invalid checksum digest length")]
    DigestLength,
    /// A well-formed digest with an algorithm other than sha256.
    #[error("unsupported digest algorithm")]
    DigestUnsupported,
}

impl Reference {
    /// Parses and normalises `text` like `docker pull` does, adding the tag `latest` when
    /// neither a tag nor a digest is given: `alpine` → `docker.io/library/alpine:latest`.
    ///
    /// # Errors
    ///
    /// Any [`ReferenceError`] but [`ReferenceError::InvalidTag`], with Docker's message.
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        let mut reference = Self::parse_repository(text)?;
        if reference.tag.is_none() && reference.digest.is_none() {
            reference.tag = Some(DEFAULT_TAG.to_owned());
        }
        Ok(reference)
    }

    /// Parses and normalises `text` like [`Reference::parse`] but without adding a default tag
    /// (for filters such as `reference=alpine`): `alpine` → `docker.io/library/alpine`.
    ///
    /// # Errors
    ///
    /// As [`Reference::parse`].
    pub fn parse_repository(text: &str) -> Result<Self, ReferenceError> {
        if is_identifier(text) {
            return Err(ReferenceError::HexIdentifier(text.to_owned()));
        }
        let (registry, remainder) = split_docker_domain(text);
        let remote = remainder
            .split_once(':')
            .map_or(remainder.as_str(), |(remote, _)| remote);
        if remote.to_lowercase() != remote {
            return Err(ReferenceError::UppercaseRepository(remote.to_owned()));
        }
        parse_qualified(&format!("{registry}/{remainder}"))
    }

    /// The registry host, with its port if any: `docker.io`, `localhost:5000`, `[::1]:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path without the registry: `library/alpine`, `myuser/app`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What a pull asks the registry's manifest endpoint for: the digest if there is one,
    /// else the tag, else `latest` (also the first word of Docker's `…: Pulling from` line).
    pub fn pull_target(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => "latest".to_owned(),
        }
    }

    /// The fully qualified name without tag or digest: `docker.io/library/alpine`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The name as Docker shows it: `alpine`, `myuser/app`, `localhost:5000/app`.
    ///
    /// Docker Hub loses its registry, and official images their `library/` namespace (only when
    /// nothing is nested below it: `docker.io/library/a/b` stays `library/a/b`).
    pub fn familiar_name(&self) -> String {
        if self.registry != DEFAULT_REGISTRY {
            return self.name();
        }
        match self.repository.strip_prefix(OFFICIAL_PREFIX) {
            Some(rest) if !rest.contains('/') => rest.to_owned(),
            _ => self.repository.clone(),
        }
    }

    /// The reference as Docker shows it: [`Reference::familiar_name`], then `:tag`, then
    /// `@digest`: `alpine:latest`, `localhost:5000/app:v1`, `alpine@sha256:…`, `a:t@sha256:…`.
    pub fn familiar(&self) -> String {
        let mut text = self.familiar_name();
        self.push_suffixes(&mut text);
        text
    }

    /// The same reference with its tag set to `tag` (any digest is kept, as Docker's `WithTag`).
    ///
    /// # Errors
    ///
    /// [`ReferenceError::InvalidTag`] when `tag` does not match `[\w][\w.-]{0,127}`.
    pub fn with_tag(&self, tag: &str) -> Result<Self, ReferenceError> {
        if !is_tag(tag) {
            return Err(ReferenceError::InvalidTag);
        }
        Ok(Self {
            tag: Some(tag.to_owned()),
            ..self.clone()
        })
    }

    /// The same reference without its digest. The tag is kept; no default tag is added, so a
    /// digest-only reference becomes a bare name.
    pub fn without_digest(&self) -> Self {
        Self {
            digest: None,
            ..self.clone()
        }
    }

    /// Appends `:tag` and `@digest`, when present.
    fn push_suffixes(&self, text: &mut String) {
        if let Some(tag) = &self.tag {
            text.push(':');
            text.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            text.push('@');
            text.push_str(&digest.to_string());
        }
    }
}

impl fmt::Display for Reference {
    /// The full form: `docker.io/library/alpine:latest`, `…:tag@sha256:…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = self.name();
        self.push_suffixes(&mut text);
        f.write_str(&text)
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    /// Same as [`Reference::parse`] (adds `:latest` to bare names).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl serde::Serialize for Reference {
    /// Serialises as the full string ([`fmt::Display`]).
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Reference {
    /// Deserialises from a string with [`Reference::parse_repository`], so that every serialised
    /// reference, including a bare name, reads back unchanged (no `:latest` is added).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse_repository(&text).map_err(serde::de::Error::custom)
    }
}

/// A name written without its registry — `busybox`, `myorg/app:1`, `app@sha256:…` — split into
/// the path as written and the `:tag`/`@digest` after it; `None` when the text names its
/// registry (`docker.io/busybox`, `localhost/app`, `quay.io/a/b`), by the rule
/// [`Reference::parse`] uses. The text is not validated: parse it too.
pub fn split_short_name(text: &str) -> Option<(&str, &str)> {
    let before_digest = text.find('@').unwrap_or(text.len());
    let name_and_tag = &text[..before_digest];
    let name_end = match name_and_tag.rfind(':') {
        Some(colon) if !name_and_tag[colon..].contains('/') => colon,
        _ => before_digest,
    };
    let (name, suffix) = text.split_at(name_end);
    if name
        .split_once('/')
        .is_some_and(|(first, _)| is_registry(first))
    {
        return None;
    }
    Some((name, suffix))
}

/// Whether the first path component of a name is a registry (Docker's rule): `localhost`, or
/// anything with a dot, a port or an upper-case letter.
fn is_registry(first: &str) -> bool {
    first == LOCALHOST || first.contains(['.', ':']) || first.to_lowercase() != first
}

/// Docker's `splitDockerDomain`: the registry, and the rest of `name` with `library/` added
/// to single-component Docker Hub paths. The rest may still carry `:tag` and `@digest`.
fn split_docker_domain(name: &str) -> (&str, String) {
    let Some((first, rest)) = name.split_once('/') else {
        return (DEFAULT_REGISTRY, format!("{OFFICIAL_PREFIX}{name}"));
    };
    let (registry, remote) = if first == LEGACY_DEFAULT_REGISTRY {
        (DEFAULT_REGISTRY, rest)
    } else if is_registry(first) {
        (first, rest)
    } else {
        (DEFAULT_REGISTRY, name)
    };
    if registry == DEFAULT_REGISTRY && !remote.contains('/') {
        (registry, format!("{OFFICIAL_PREFIX}{remote}"))
    } else {
        (registry, remote.to_owned())
    }
}

/// Docker's `Parse` applied to the already split `registry/rest` text.
fn parse_qualified(text: &str) -> Result<Reference, ReferenceError> {
    let Some(parts) = match_reference(text) else {
        let lower = text.to_lowercase();
        if lower != text && match_reference(&lower).is_some() {
            return Err(ReferenceError::NameContainsUppercase);
        }
        return Err(ReferenceError::InvalidFormat);
    };
    // Docker would accept a name whose first component is not a valid host but whose whole text
    // is a valid path (`a.b_c/app`) as a reference with an empty domain; we refuse it.
    let Some(registry) = parts.registry else {
        return Err(ReferenceError::InvalidFormat);
    };
    if parts.repository.len() > MAX_PATH_LEN {
        return Err(ReferenceError::NameTooLong);
    }
    let digest = parts.digest.map(parse_digest).transpose()?;
    Ok(Reference {
        registry: registry.to_owned(),
        repository: parts.repository.to_owned(),
        tag: parts.tag.map(str::to_owned),
        digest,
    })
}

/// The pieces of a text matching the reference grammar.
struct Parts<'a> {
    /// The domain, when the first component is a valid host and the rest a valid path.
    registry: Option<&'a str>,
    /// The path, or the whole name when there is no domain.
    repository: &'a str,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

/// Matches `text` against `distribution/reference`'s anchored `ReferenceRegexp`, splitting the
/// name as its `anchoredNameRegexp` does (a domain is taken whenever possible).
fn match_reference(text: &str) -> Option<Parts<'_>> {
    // `@` appears nowhere but before the digest.
    let (name_and_tag, digest) = match text.split_once('@') {
        Some((before, digest)) => {
            if !is_digest_pattern(digest) {
                return None;
            }
            (before, Some(digest))
        }
        None => (text, None),
    };
    // A `:` in the name only occurs in the domain, which a `/` always follows: a `:` after the
    // last `/` can only start the tag.
    let (name, tag) = match name_and_tag.rfind(':') {
        Some(colon) if !name_and_tag[colon..].contains('/') => {
            let tag = &name_and_tag[colon + 1..];
            if !is_tag(tag) {
                return None;
            }
            (&name_and_tag[..colon], Some(tag))
        }
        _ => (name_and_tag, None),
    };
    if let Some((first, rest)) = name.split_once('/')
        && is_domain_and_port(first)
        && is_remote_name(rest)
    {
        return Some(Parts {
            registry: Some(first),
            repository: rest,
            tag,
            digest,
        });
    }
    is_remote_name(name).then_some(Parts {
        registry: None,
        repository: name,
        tag,
        digest,
    })
}

/// go-digest's `Parse` of a text already matching the digest pattern, restricted to sha256.
fn parse_digest(text: &str) -> Result<Digest, ReferenceError> {
    let (algorithm, hex) = text.split_once(':').ok_or(ReferenceError::DigestFormat)?;
    if algorithm == "sha256" {
        if hex.len() != 64 {
            return Err(ReferenceError::DigestLength);
        }
        return Digest::parse(text).map_err(|_| ReferenceError::DigestFormat);
    }
    if algorithm.bytes().any(|b| b.is_ascii_uppercase()) {
        Err(ReferenceError::DigestFormat)
    } else {
        Err(ReferenceError::DigestUnsupported)
    }
}

/// `[a-f0-9]{64}`: an image ID, refused as a name.
fn is_identifier(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `path-component ("/" path-component)*`.
fn is_remote_name(text: &str) -> bool {
    text.split('/').all(is_path_component)
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`.
fn is_path_component(text: &str) -> bool {
    let is_alphanumeric = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let is_separator_byte = |b: u8| matches!(b, b'.' | b'_' | b'-');
    let mut rest = text.as_bytes();
    loop {
        let run = rest.iter().take_while(|&&b| is_alphanumeric(b)).count();
        if run == 0 {
            return false;
        }
        rest = &rest[run..];
        if rest.is_empty() {
            return true;
        }
        let run = rest.iter().take_while(|&&b| is_separator_byte(b)).count();
        let separator = &rest[..run];
        let valid = matches!(separator, b"." | b"_" | b"__")
            || (!separator.is_empty() && separator.iter().all(|&b| b == b'-'));
        if !valid {
            return false;
        }
        rest = &rest[run..];
    }
}

/// `host (":" [0-9]+)?` where host is a dotted domain name or a bracketed IPv6 address.
fn is_domain_and_port(text: &str) -> bool {
    let port = if let Some(bracketed) = text.strip_prefix('[') {
        let Some((address, port)) = bracketed.split_once(']') else {
            return false;
        };
        if address.is_empty() || !address.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        port
    } else {
        let end = text.find(':').unwrap_or(text.len());
        if !text[..end].split('.').all(is_domain_component) {
            return false;
        }
        &text[end..]
    };
    port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`.
fn is_domain_component(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with('-')
        && !text.ends_with('-')
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `[\w][\w.-]{0,127}` (`\w` being ASCII letters, digits and `_`).
fn is_tag(text: &str) -> bool {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    match text.as_bytes().split_first() {
        Some((&first, rest)) => {
            text.len() <= MAX_TAG_LEN
                && is_word(first)
                && rest.iter().all(|&b| is_word(b) || b == b'.' || b == b'-')
        }
        None => false,
    }
}

/// `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`.
fn is_digest_pattern(text: &str) -> bool {
    let Some((algorithm, hex)) = text.split_once(':') else {
        return false;
    };
    let is_algorithm_part = |part: &str| {
        part.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && part.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    algorithm.split(['-', '_', '+', '.']).all(is_algorithm_part)
        && hex.len() >= MIN_DIGEST_HEX
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_names_are_split_from_their_suffix() {
        use super::split_short_name as split;
        assert_eq!(split("busybox"), Some(("busybox", "")));
        assert_eq!(split("myorg/app:1"), Some(("myorg/app", ":1")));
        let digest = format!("@sha256:{}", "a".repeat(64));
        assert_eq!(
            split(&format!("app:1{digest}")),
            Some(("app", &*format!(":1{digest}")))
        );
        assert_eq!(split("library/busybox"), Some(("library/busybox", "")));
        for qualified in [
            "docker.io/busybox",
            "index.docker.io/library/busybox:1",
            "localhost/app",
            "localhost:5000/app:1",
            "quay.io/a/b",
            "[::1]:5000/a",
            "Upper/app",
        ] {
            assert_eq!(split(qualified), None, "{qualified}");
        }
    }

    use super::*;

    fn hex(c: char) -> String {
        c.to_string().repeat(64)
    }

    fn ok(text: &str) -> Reference {
        Reference::parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
    }

    fn err(text: &str) -> String {
        match Reference::parse(text) {
            Ok(r) => panic!("{text:?} should not parse, got {r}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn official_image() {
        let r = ok("alpine");
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.repository(), "library/alpine");
        assert_eq!(r.tag(), Some("latest"));
        assert_eq!(r.digest(), None);
        assert_eq!(r.name(), "docker.io/library/alpine");
        assert_eq!(r.familiar_name(), "alpine");
        assert_eq!(r.familiar(), "alpine:latest");
        assert_eq!(r.to_string(), "docker.io/library/alpine:latest");
    }

    #[test]
    fn docker_hub_spellings() {
        for text in [
            "alpine",
            "alpine:latest",
            "library/alpine",
            "docker.io/alpine",
            "docker.io/library/alpine",
            "index.docker.io/alpine",
            "index.docker.io/library/alpine:latest",
            "docker.io/library/alpine:latest",
        ] {
            assert_eq!(
                ok(text).to_string(),
                "docker.io/library/alpine:latest",
                "{text}"
            );
        }
        let r = ok("index.docker.io/library/a");
        assert_eq!((r.registry(), r.repository()), ("docker.io", "library/a"));
    }

    #[test]
    fn user_repositories() {
        let r = ok("docker.io/myuser/app:v1");
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.repository(), "myuser/app");
        assert_eq!(r.familiar(), "myuser/app:v1");
        assert_eq!(r.familiar_name(), "myuser/app");
        assert_eq!(ok("myuser/app").to_string(), "docker.io/myuser/app:latest");
        // Nested below library/: not shortened (Docker's familiarizeName).
        let r = ok("library/a/b");
        assert_eq!(r.to_string(), "docker.io/library/a/b:latest");
        assert_eq!(r.familiar(), "library/a/b:latest");
    }

    #[test]
    fn localhost() {
        let r = ok("localhost/foo");
        assert_eq!((r.registry(), r.repository()), ("localhost", "foo"));
        assert_eq!(r.familiar(), "localhost/foo:latest");
        let r = ok("localhost:5000/foo:1");
        assert_eq!(r.registry(), "localhost:5000");
        assert_eq!(r.repository(), "foo");
        assert_eq!(r.tag(), Some("1"));
        assert_eq!(r.familiar(), "localhost:5000/foo:1");
        assert_eq!(r.familiar_name(), "localhost:5000/foo");
        assert_eq!(r.to_string(), "localhost:5000/foo:1");
        // A bare "localhost" (or "localhost:5000") is a Docker Hub name, as in Docker.
        assert_eq!(
            ok("localhost").to_string(),
            "docker.io/library/localhost:latest"
        );
        let r = ok("localhost:5000");
        assert_eq!(
            (r.repository(), r.tag()),
            ("library/localhost", Some("5000"))
        );
    }

    #[test]
    fn other_registries() {
        let r = ok("127.0.0.1:5000/foo");
        assert_eq!((r.registry(), r.repository()), ("127.0.0.1:5000", "foo"));
        let r = ok("registry.example.com/team/app:v2");
        assert_eq!(
            (r.registry(), r.repository()),
            ("registry.example.com", "team/app")
        );
        assert_eq!(r.familiar(), "registry.example.com/team/app:v2");
        let r = ok("[::1]:5000/a");
        assert_eq!((r.registry(), r.repository()), ("[::1]:5000", "a"));
        assert_eq!(r.to_string(), "[::1]:5000/a:latest");
        let r = ok("[2001:DB8::1]/a:t");
        assert_eq!((r.registry(), r.repository()), ("[2001:DB8::1]", "a"));
        let r = ok("my-host:443/x/y/z");
        assert_eq!((r.registry(), r.repository()), ("my-host:443", "x/y/z"));
        let r = ok("Registry.Example.com/app");
        assert_eq!(r.registry(), "Registry.Example.com");
        // Single-component names are never registries, even with a dot (Docker's fast path).
        assert_eq!(
            ok("docker.io").to_string(),
            "docker.io/library/docker.io:latest"
        );
        let r = ok("example.com:5000");
        assert_eq!(
            (r.repository(), r.tag()),
            ("library/example.com", Some("5000"))
        );
    }

    #[test]
    fn uppercase_first_component_is_a_registry() {
        // Docker: an uppercase first component is taken as a domain name.
        let r = ok("Foo/bar");
        assert_eq!((r.registry(), r.repository()), ("Foo", "bar"));
        assert_eq!(err("Foo_bar/x"), "repository name must be lowercase");
    }

    #[test]
    fn uppercase_repository() {
        assert_eq!(
            err("UPPER"),
            "invalid reference format: repository name (library/UPPER) must be lowercase"
        );
        assert_eq!(
            err("myuser/App:v1"),
            "invalid reference format: repository name (myuser/App) must be lowercase"
        );
        assert_eq!(
            err("localhost/Foo:bar"),
            "invalid reference format: repository name (Foo) must be lowercase"
        );
        assert_eq!(
            err("docker.io/Alpine"),
            "invalid reference format: repository name (library/Alpine) must be lowercase"
        );
        assert_eq!(
            Reference::parse("UPPER"),
            Err(ReferenceError::UppercaseRepository("library/UPPER".into()))
        );
        // Uppercase in tags is fine.
        assert_eq!(ok("alpine:V1.2-RC_3").tag(), Some("V1.2-RC_3"));
    }

    #[test]
    fn malformed() {
        for text in [
            "",
            "a::b",
            ":tag",
            "foo:",
            "foo/",
            "/foo",
            "foo//bar",
            "-x",
            "x-",
            "_x",
            ".x",
            "a..b",
            "a___b",
            "a_.b",
            "a.-b",
            "a-.b",
            "foo bar",
            "foo:bar:baz",
            "foo:ta/g",
            "foo:.tag",
            "foo:-tag",
            "foo@",
            "foo@sha256:",
            "foo@sha256:abc",
            "foo@sha256",
            "foo@@sha256:abc",
            "@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "my-host:notaport/foo",
            "my-host:/foo",
            "-host.com/foo",
            "host-.com/foo",
            "host..com/foo",
            "[::1]",
            "[]/foo",
            "[::1/foo",
            "[fe80::1%eth0]/foo",
            "localhost/",
            "localhost:5000/",
            "ünïcode",
            "a/b:c/d",
            "docker.io/",
        ] {
            assert_eq!(err(text), "invalid reference format", "{text:?}");
        }
    }

    #[test]
    fn path_components() {
        for text in [
            "hello_world:v1",
            "a__b",
            "a---b",
            "a.b",
            "a_b",
            "a-b",
            "0",
            "a.b.c/d_e-f",
        ] {
            ok(text);
        }
        let r = ok("hello_world:v1");
        assert_eq!(
            (r.repository(), r.tag()),
            ("library/hello_world", Some("v1"))
        );
        assert_eq!(ok("a---b").repository(), "library/a---b");
        assert_eq!(ok("a__b").repository(), "library/a__b");
    }

    #[test]
    fn invalid_first_component_that_is_a_valid_path_is_refused() {
        // Docker would return a reference with an empty domain; we refuse it.
        assert_eq!(err("a.b_c/app"), "invalid reference format");
    }

    #[test]
    fn hex_identifier() {
        let id = hex('a');
        assert_eq!(
            err(&id),
            format!("invalid repository name ({id}), cannot specify 64-byte hexadecimal strings")
        );
        assert_eq!(
            Reference::parse_repository(&id),
            Err(ReferenceError::HexIdentifier(id.clone()))
        );
        // Only the bare identifier is refused, as in Docker.
        assert_eq!(
            ok(&format!("{id}:v1")).repository(),
            format!("library/{id}")
        );
        assert_eq!(ok(&id[..63]).repository(), format!("library/{}", &id[..63]));
        ok(&format!("{id}a"));
        assert_eq!(
            err(&hex('A')),
            format!(
                "invalid reference format: repository name (library/{}) must be lowercase",
                hex('A')
            )
        );
    }

    #[test]
    fn tag_length() {
        let tag128 = format!("v{}", "1".repeat(127));
        assert_eq!(ok(&format!("alpine:{tag128}")).tag(), Some(tag128.as_str()));
        assert_eq!(
            err(&format!("alpine:{tag128}1")),
            "invalid reference format"
        );
        assert_eq!(ok("alpine:_x").tag(), Some("_x"));
    }

    #[test]
    fn name_length() {
        // The limit applies to the path, without the registry (distribution/reference v0.6).
        let name = "a".repeat(MAX_PATH_LEN - OFFICIAL_PREFIX.len());
        assert_eq!(ok(&name).repository().len(), 255);
        assert_eq!(
            err(&format!("{name}a")),
            "repository name must not be more than 255 characters"
        );
        let path = "b".repeat(255);
        assert_eq!(
            ok(&format!("registry.example.com/{path}")).repository(),
            path
        );
        assert_eq!(
            Reference::parse(&format!("registry.example.com/{path}b")),
            Err(ReferenceError::NameTooLong)
        );
    }

    #[test]
    fn digests() {
        let digest = format!("sha256:{}", hex('0'));
        let r = ok(&format!("alpine@{digest}"));
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest().map(ToString::to_string), Some(digest.clone()));
        assert_eq!(r.familiar(), format!("alpine@{digest}"));
        assert_eq!(r.to_string(), format!("docker.io/library/alpine@{digest}"));

        let r = ok(&format!("a:t@{digest}"));
        assert_eq!(r.tag(), Some("t"));
        assert!(r.digest().is_some());
        assert_eq!(r.familiar(), format!("a:t@{digest}"));
        assert_eq!(r.to_string(), format!("docker.io/library/a:t@{digest}"));

        let r = ok(&format!("localhost:5000/x/y:1.0@{digest}"));
        assert_eq!(r.familiar(), format!("localhost:5000/x/y:1.0@{digest}"));
    }

    #[test]
    fn digest_errors() {
        let short = "0".repeat(32);
        assert_eq!(
            err(&format!("a@sha256:{short}")),
            "invalid checksum digest length"
        );
        assert_eq!(
            err(&format!("a@sha256:{}", "0".repeat(65))),
            "invalid checksum digest length"
        );
        assert_eq!(
            err(&format!("a@sha256:{}", "0".repeat(31))),
            "invalid reference format"
        );
        assert_eq!(
            err(&format!("a:t@sha256:{}", hex('A'))),
            "invalid checksum digest format"
        );
        assert_eq!(
            err(&format!("a@sha512:{}", "0".repeat(128))),
            "unsupported digest algorithm"
        );
        assert_eq!(
            err(&format!("a@sha256+b64:{short}")),
            "unsupported digest algorithm"
        );
        assert_eq!(
            err(&format!("a:t@SHA256:{}", hex('0'))),
            "invalid checksum digest format"
        );
        // Without a tag, Docker's lowercase check sees `library/a@SHA256` as the repository.
        assert_eq!(
            err(&format!("a@SHA256:{}", hex('0'))),
            "invalid reference format: repository name (library/a@SHA256) must be lowercase"
        );
        assert_eq!(
            err(&format!("a@sha256:{}", "g".repeat(64))),
            "invalid reference format"
        );
    }

    #[test]
    fn parse_repository_adds_no_tag() {
        let r = Reference::parse_repository("alpine").expect("valid");
        assert_eq!(r.tag(), None);
        assert_eq!(r.to_string(), "docker.io/library/alpine");
        assert_eq!(r.familiar(), "alpine");
        let r = Reference::parse_repository("alpine:3").expect("valid");
        assert_eq!(r.tag(), Some("3"));
        assert_eq!(
            Reference::parse_repository("a::b"),
            Err(ReferenceError::InvalidFormat)
        );
    }

    #[test]
    fn with_tag_and_without_digest() {
        let digest = format!("sha256:{}", hex('1'));
        let r = ok(&format!("alpine@{digest}"));
        let tagged = r.with_tag("3.20").expect("valid tag");
        assert_eq!(
            tagged.to_string(),
            format!("docker.io/library/alpine:3.20@{digest}")
        );
        assert_eq!(
            tagged.without_digest().to_string(),
            "docker.io/library/alpine:3.20"
        );
        assert_eq!(r.without_digest().to_string(), "docker.io/library/alpine");
        assert_eq!(r.with_tag(".x"), Err(ReferenceError::InvalidTag));
        assert_eq!(
            r.with_tag("").map_err(|e| e.to_string()),
            Err("invalid tag format".into())
        );
        assert_eq!(
            r.with_tag(&"x".repeat(129)),
            Err(ReferenceError::InvalidTag)
        );
        assert_eq!(
            ok("alpine").with_tag("edge").expect("valid").familiar(),
            "alpine:edge"
        );
    }

    #[test]
    fn round_trips() {
        let digest = format!("sha256:{}", hex('f'));
        for text in [
            "alpine".to_owned(),
            "myuser/app:v1".to_owned(),
            "library/a/b".to_owned(),
            "localhost/foo".to_owned(),
            "localhost:5000/foo:1".to_owned(),
            "[::1]:5000/a".to_owned(),
            "Foo/bar:Tag".to_owned(),
            "registry.example.com/a/b/c:1.0-rc.1".to_owned(),
            format!("alpine@{digest}"),
            format!("a:t@{digest}"),
            format!("{}:v1", hex('a')),
        ] {
            let r = ok(&text);
            assert_eq!(ok(&r.to_string()), r, "{text}");
            assert_eq!(ok(&r.familiar()), r, "{text}");
            assert_eq!(
                Reference::parse_repository(&r.to_string()),
                Ok(r.clone()),
                "{text}"
            );
            assert_eq!(text.parse::<Reference>(), Ok(r.clone()), "{text}");
            let bare = Reference::parse_repository(&text)
                .expect("valid")
                .without_digest();
            assert_eq!(
                Reference::parse_repository(&bare.to_string()),
                Ok(bare),
                "{text}"
            );
        }
    }

    #[test]
    fn serde_as_full_string() {
        let r = ok("alpine");
        let json = serde_json::to_string(&r).expect("serialise");
        assert_eq!(json, "\"docker.io/library/alpine:latest\"");
        assert_eq!(
            serde_json::from_str::<Reference>(&json).expect("deserialise"),
            r
        );
        let bare = Reference::parse_repository("alpine").expect("valid");
        let json = serde_json::to_string(&bare).expect("serialise");
        assert_eq!(json, "\"docker.io/library/alpine\"");
        assert_eq!(
            serde_json::from_str::<Reference>(&json).expect("deserialise"),
            bare
        );
        let e = serde_json::from_str::<Reference>("\"a::b\"").expect_err("invalid");
        assert!(e.to_string().contains("invalid reference format"), "{e}");
        assert!(serde_json::from_str::<Reference>("42").is_err());
    }

    #[test]
    fn ordering_and_hashing() {
        let set: std::collections::BTreeSet<Reference> =
            ["b", "a", "a:1", "docker.io/library/a:latest"]
                .into_iter()
                .map(ok)
                .collect();
        let texts: Vec<String> = set.iter().map(Reference::familiar).collect();
        assert_eq!(texts, ["a:1", "a:latest", "b:latest"]);
        let hashed: std::collections::HashSet<Reference> = set.into_iter().collect();
        assert!(hashed.contains(&ok("a")));
    }

    #[test]
    fn grammar_helpers() {
        assert!(is_domain_and_port("a"));
        assert!(is_domain_and_port("a-b.c:1"));
        assert!(is_domain_and_port("[::]"));
        assert!(!is_domain_and_port("a:"));
        assert!(!is_domain_and_port("a:1:2"));
        assert!(!is_domain_and_port("[::1]x"));
        assert!(!is_domain_and_port("a_b.com"));
        assert!(is_digest_pattern(&format!("a-b+c.d_e:{}", "F".repeat(32))));
        assert!(!is_digest_pattern(&format!("1a:{}", "0".repeat(32))));
        assert!(!is_digest_pattern(&format!("a-:{}", "0".repeat(32))));
        assert!(is_path_component("a--------b"));
        assert!(!is_path_component("a__-b"));
    }

    /// Cases from distribution/reference's `normalize_test.go`.
    #[test]
    fn upstream_normalize_cases() {
        let id = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a";
        let valid = [
            "docker/docker",
            "library/debian",
            "debian",
            "localhost/library/debian",
            "localhost/debian",
            "LOCALDOMAIN/library/debian",
            "LOCALDOMAIN/debian",
            "docker.io/docker/docker",
            "docker.io/library/debian",
            "docker.io/debian",
            "index.docker.io/docker/docker",
            "index.docker.io/library/debian",
            "index.docker.io/debian",
            "127.0.0.1:5000/docker/docker",
            "127.0.0.1:5000/library/debian",
            "127.0.0.1:5000/debian",
            "192.168.0.1",
            "192.168.0.1:80",
            "192.168.0.1:8/debian",
            "192.168.0.2:25000/debian",
            "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
            "[fc00::1]:5000/docker",
            "[fc00::1]:5000/docker/docker",
            "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
            &format!("docker.io/{id}"),
            "Docker/docker",
            "DOCKER/docker",
            "docker-rules/docker",
            "docker---rules/docker",
            "doc/docker",
            "d/docker",
            "jess/t",
            "dock__er/docker",
        ];
        for text in valid {
            ok(text);
        }
        let too_long =
            "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_".repeat(4);
        let invalid = [
            "https://github.com/docker/docker",
            "docker/Docker",
            "-docker",
            "-docker/docker",
            "-docker.io/docker/docker",
            "docker///docker",
            "docker.io/docker/Docker",
            "docker.io/docker///docker",
            "[fc00::1]",
            "[fc00::1]:5000",
            "fc00::1:5000/debian",
            "[fe80::1%eth0]:5000/debian",
            "[2001:db8:3:4::192.0.2.33]:5000/debian",
            id,
            "docker-/docker",
            "-docker-/docker",
            "____/____",
            "_docker/_docker",
            "dock..er/docker",
            "dock_.er/docker",
            "dock-.er/docker",
            "docker/",
            &format!("{too_long}/docker"),
        ];
        for text in invalid {
            assert!(
                Reference::parse(text).is_err(),
                "{text:?} should be invalid"
            );
        }

        // (input, familiar name, registry, repository)
        let cases = [
            ("localhost/fooo", "localhost/fooo", "localhost", "fooo"),
            (
                "localhost/fooo/bar",
                "localhost/fooo/bar",
                "localhost",
                "fooo/bar",
            ),
            (
                "LOCALDOMAIN/fooo",
                "LOCALDOMAIN/fooo",
                "LOCALDOMAIN",
                "fooo",
            ),
            ("fooo/bar", "fooo/bar", "docker.io", "fooo/bar"),
            (
                "index.docker.io/fooo/bar",
                "fooo/bar",
                "docker.io",
                "fooo/bar",
            ),
            ("library/ubuntu", "ubuntu", "docker.io", "library/ubuntu"),
            (
                "nonlibrary/ubuntu",
                "nonlibrary/ubuntu",
                "docker.io",
                "nonlibrary/ubuntu",
            ),
            (
                "other/library",
                "other/library",
                "docker.io",
                "other/library",
            ),
            (
                "127.0.0.1:8000/private/moonbase",
                "127.0.0.1:8000/private/moonbase",
                "127.0.0.1:8000",
                "private/moonbase",
            ),
            (
                "example.com:8000/privatebasee",
                "example.com:8000/privatebasee",
                "example.com:8000",
                "privatebasee",
            ),
            (
                "index.docker.io/library/ubuntu-12.04-base",
                "ubuntu-12.04-base",
                "docker.io",
                "library/ubuntu-12.04-base",
            ),
            ("docker.io/foo", "foo", "docker.io", "library/foo"),
            (
                "library/foo/bar",
                "library/foo/bar",
                "docker.io",
                "library/foo/bar",
            ),
            (
                "store/foo/bar",
                "store/foo/bar",
                "docker.io",
                "store/foo/bar",
            ),
            ("Foo/bar", "Foo/bar", "Foo", "bar"),
            ("FOO/bar", "FOO/bar", "FOO", "bar"),
            ("test.com/foo", "test.com/foo", "test.com", "foo"),
            ("test_com/foo", "test_com/foo", "docker.io", "test_com/foo"),
            (
                "test-com:8080/foo",
                "test-com:8080/foo",
                "test-com:8080",
                "foo",
            ),
            (
                "xn--n3h.com:18080/foo",
                "xn--n3h.com:18080/foo",
                "xn--n3h.com:18080",
                "foo",
            ),
        ];
        for (text, familiar, registry, repository) in cases {
            let r = Reference::parse_repository(text).expect(text);
            assert_eq!(r.familiar_name(), familiar, "{text}");
            assert_eq!(r.registry(), registry, "{text}");
            assert_eq!(r.repository(), repository, "{text}");
            assert_eq!(r.to_string(), format!("{registry}/{repository}"), "{text}");
        }

        let short = "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
        let r = ok(short);
        assert_eq!(r.to_string(), format!("docker.io/library/{short}"));
        assert_eq!(r.familiar(), short);
        assert!(ok("busybox").with_tag("-foo").is_err());
    }

    /// Cases from distribution/reference's `reference_test.go` (`Parse` on qualified names).
    #[test]
    fn upstream_parse_cases() {
        let f64 = "f".repeat(64);
        // (input, registry, repository, tag, digest hex)
        let valid = [
            ("test.com/repo:tag", "test.com", "repo", Some("tag"), false),
            ("test:5000/repo", "test:5000", "repo", None, false),
            (
                "test:5000/repo:tag",
                "test:5000",
                "repo",
                Some("tag"),
                false,
            ),
            (
                &format!("test:5000/repo@sha256:{f64}"),
                "test:5000",
                "repo",
                None,
                true,
            ),
            (
                &format!("test:5000/repo:tag@sha256:{f64}"),
                "test:5000",
                "repo",
                Some("tag"),
                true,
            ),
            (
                "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
                "sub-dom1.foo.com",
                "bar/baz/quux",
                Some("some-long-tag"),
                false,
            ),
            (
                "b.gcr.io/test.example.com/my-app:test.example.com",
                "b.gcr.io",
                "test.example.com/my-app",
                Some("test.example.com"),
                false,
            ),
            (
                &format!("xn--7o8h.com/myimage:xn--7o8h.com@sha256:{f64}"),
                "xn--7o8h.com",
                "myimage",
                Some("xn--7o8h.com"),
                true,
            ),
            ("192.168.1.1/repo", "192.168.1.1", "repo", None, false),
            (
                "192.168.1.1:5000/repo:5050",
                "192.168.1.1:5000",
                "repo",
                Some("5050"),
                false,
            ),
            ("[2001:db8::1]/repo", "[2001:db8::1]", "repo", None, false),
            (
                "[2001:db8:1:2:3:4:5:6]/repo:tag",
                "[2001:db8:1:2:3:4:5:6]",
                "repo",
                Some("tag"),
                false,
            ),
            (
                &format!("[2001:db8::1]:5000/repo:tag@sha256:{f64}"),
                "[2001:db8::1]:5000",
                "repo",
                Some("tag"),
                true,
            ),
            (
                "[2001:db8::]:5000/repo",
                "[2001:db8::]:5000",
                "repo",
                None,
                false,
            ),
            (
                &format!("example.com/{}:tag", "a".repeat(255)),
                "example.com",
                &"a".repeat(255),
                Some("tag"),
                false,
            ),
        ];
        for (text, registry, repository, tag, digested) in valid {
            let r = parse_qualified(text).expect(text);
            assert_eq!(r.to_string(), text);
            assert_eq!(
                (r.registry(), r.repository(), r.tag()),
                (registry, repository, tag),
                "{text}"
            );
            assert_eq!(r.digest().is_some(), digested, "{text}");
        }
        let nested = format!("{}a:tag-puts-this-over-max", "a/".repeat(127));
        let r = parse_qualified(&nested).expect("valid");
        assert_eq!(r.registry(), "a");

        let errors = [
            (":justtag".to_owned(), ReferenceError::InvalidFormat),
            (format!("@sha256:{f64}"), ReferenceError::InvalidFormat),
            (
                format!("repo/x@sha256:{}", "f".repeat(34)),
                ReferenceError::DigestLength,
            ),
            (
                format!("repo/x@invaliddigest:{f64}"),
                ReferenceError::DigestUnsupported,
            ),
            (
                format!("repo/x@sha512:{}", "f".repeat(128)),
                ReferenceError::DigestUnsupported,
            ),
            (
                "test:5000/Uppercase/lowercase:tag".to_owned(),
                ReferenceError::NameContainsUppercase,
            ),
            (
                format!("domain/{}:tag", "a".repeat(256)),
                ReferenceError::NameTooLong,
            ),
            ("aa/asdf$$^/aa".to_owned(), ReferenceError::InvalidFormat),
            (
                "[2001:db8::1]:tag".to_owned(),
                ReferenceError::InvalidFormat,
            ),
            (
                "[fe80::1%eth0]:5000/repo".to_owned(),
                ReferenceError::InvalidFormat,
            ),
            (
                "[fe80::1%@invalidzone]:5000/repo".to_owned(),
                ReferenceError::InvalidFormat,
            ),
        ];
        for (text, expected) in errors {
            assert_eq!(parse_qualified(&text), Err(expected), "{text}");
        }
        assert_eq!(
            err("test:5000/Uppercase/lowercase:tag"),
            "invalid reference format: repository name (Uppercase/lowercase) must be lowercase"
        );
        assert_eq!(
            err(&format!("domain/{}:tag", "a".repeat(256))),
            "repository name must not be more than 255 characters"
        );
    }
}
