//! Docker-style container names: `adjective_surname` generation (the word lists of Docker's
//! `namesgenerator`) and Docker's container-name validation rule.
//!
//! Leaf module: uses nothing else of the crate.

use rand::Rng;
use rand::seq::IndexedRandom;

/// Adjectives for the first half of a generated name.
const ADJECTIVES: &[&str] = &[
    "admiring",
    "adoring",
    "affectionate",
    "agitated",
    "amazing",
    "angry",
    "awesome",
    "beautiful",
    "blissful",
    "bold",
    "boring",
    "brave",
    "busy",
    "charming",
    "clever",
    "compassionate",
    "competent",
    "condescending",
    "confident",
    "cool",
    "cranky",
    "crazy",
    "dazzling",
    "determined",
    "distracted",
    "dreamy",
    "eager",
    "ecstatic",
    "elastic",
    "elated",
    "elegant",
    "eloquent",
    "epic",
    "exciting",
    "fervent",
    "festive",
    "flamboyant",
    "focused",
    "friendly",
    "frosty",
    "funny",
    "gallant",
    "gifted",
    "goofy",
    "gracious",
    "great",
    "happy",
    "hardcore",
    "heuristic",
    "hopeful",
    "hungry",
    "infallible",
    "inspiring",
    "intelligent",
    "interesting",
    "jolly",
    "jovial",
    "keen",
    "kind",
    "laughing",
    "loving",
    "lucid",
    "magical",
    "modest",
    "musing",
    "mystifying",
    "naughty",
    "nervous",
    "nice",
    "nifty",
    "nostalgic",
    "objective",
    "optimistic",
    "peaceful",
    "pedantic",
    "pensive",
    "practical",
    "priceless",
    "quirky",
    "quizzical",
    "recursing",
    "relaxed",
    "reverent",
    "romantic",
    "sad",
    "serene",
    "sharp",
    "silly",
    "sleepy",
    "stoic",
    "strange",
    "stupefied",
    "suspicious",
    "sweet",
    "tender",
    "thirsty",
    "trusting",
    "unruffled",
    "upbeat",
    "vibrant",
    "vigilant",
    "vigorous",
    "wizardly",
    "wonderful",
    "xenodochial",
    "youthful",
    "zealous",
    "zen",
];

/// Surnames of notable scientists and hackers for the second half of a generated name.
const SURNAMES: &[&str] = &[
    "agnesi",
    "albattani",
    "allen",
    "almeida",
    "antonelli",
    "archimedes",
    "ardinghelli",
    "aryabhata",
    "austin",
    "babbage",
    "banach",
    "banzai",
    "bardeen",
    "bartik",
    "bassi",
    "beaver",
    "bell",
    "benz",
    "bhabha",
    "bhaskara",
    "black",
    "blackburn",
    "blackwell",
    "bohr",
    "booth",
    "borg",
    "bose",
    "bouman",
    "boyd",
    "brahmagupta",
    "brattain",
    "brown",
    "buck",
    "burnell",
    "cannon",
    "carson",
    "cartwright",
    "carver",
    "cerf",
    "chandrasekhar",
    "chaplygin",
    "chatelet",
    "chatterjee",
    "chaum",
    "chebyshev",
    "clarke",
    "cohen",
    "colden",
    "cori",
    "cray",
    "curie",
    "curran",
    "darwin",
    "davinci",
    "dewdney",
    "dhawan",
    "diffie",
    "dijkstra",
    "dirac",
    "driscoll",
    "dubinsky",
    "easley",
    "edison",
    "einstein",
    "elbakyan",
    "elgamal",
    "elion",
    "ellis",
    "engelbart",
    "euclid",
    "euler",
    "faraday",
    "feistel",
    "fermat",
    "fermi",
    "feynman",
    "franklin",
    "gagarin",
    "galileo",
    "galois",
    "ganguly",
    "gates",
    "gauss",
    "germain",
    "goldberg",
    "goldstine",
    "goldwasser",
    "golick",
    "goodall",
    "gould",
    "greider",
    "grothendieck",
    "haibt",
    "hamilton",
    "haslett",
    "hawking",
    "heisenberg",
    "hellman",
    "hermann",
    "herschel",
    "hertz",
    "heyrovsky",
    "hodgkin",
    "hofstadter",
    "hoover",
    "hopper",
    "hugle",
    "hypatia",
    "ishizaka",
    "jackson",
    "jang",
    "jemison",
    "jennings",
    "jepsen",
    "johnson",
    "joliot",
    "jones",
    "kalam",
    "kapitsa",
    "kare",
    "keldysh",
    "keller",
    "kepler",
    "khayyam",
    "khorana",
    "kilby",
    "kirch",
    "knuth",
    "kowalevski",
    "lalande",
    "lamarr",
    "lamport",
    "leakey",
    "leavitt",
    "lederberg",
    "lehmann",
    "lewin",
    "lichterman",
    "liskov",
    "lovelace",
    "lumiere",
    "mahavira",
    "margulis",
    "matsumoto",
    "maxwell",
    "mayer",
    "mccarthy",
    "mcclintock",
    "mclaren",
    "mclean",
    "mcnulty",
    "meitner",
    "mendel",
    "mendeleev",
    "meninsky",
    "merkle",
    "mestorf",
    "mirzakhani",
    "montalcini",
    "moore",
    "morse",
    "moser",
    "murdock",
    "napier",
    "nash",
    "neumann",
    "newton",
    "nightingale",
    "nobel",
    "noether",
    "northcutt",
    "noyce",
    "panini",
    "pare",
    "pascal",
    "pasteur",
    "payne",
    "perlman",
    "pike",
    "poincare",
    "poitras",
    "proskuriakova",
    "ptolemy",
    "raman",
    "ramanujan",
    "rhodes",
    "ride",
    "ritchie",
    "robinson",
    "roentgen",
    "rosalind",
    "rubin",
    "saha",
    "sammet",
    "sanderson",
    "satoshi",
    "shamir",
    "shannon",
    "shaw",
    "shirley",
    "shockley",
    "shtern",
    "sinoussi",
    "snyder",
    "solomon",
    "spence",
    "stonebraker",
    "sutherland",
    "swanson",
    "swartz",
    "swirles",
    "taussig",
    "tesla",
    "tharp",
    "thompson",
    "torvalds",
    "tu",
    "turing",
    "varahamihira",
    "vaughan",
    "villani",
    "visvesvaraya",
    "volhard",
    "wescoff",
    "wilbur",
    "wiles",
    "williams",
    "williamson",
    "wilson",
    "wing",
    "wozniak",
    "wright",
    "wu",
    "yalow",
    "yonath",
    "zhukovsky",
];

/// Collisions with taken names after which [`unique_name`] starts appending random digits.
const PLAIN_ATTEMPTS: u32 = 10;

/// Attempts after which [`unique_name`] appends one more digit.
const ATTEMPTS_PER_DIGIT: u32 = 100;

/// A container name that Docker would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name breaks `^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`.
    #[error("Invalid container name ({0}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    Invalid(String),
}

/// A random `adjective_surname` name such as `focused_turing`; never `boring_wozniak`
/// ("Steve Wozniak is not boring", as Docker's generator has it).
pub fn random_name() -> String {
    let mut rng = rand::rng();
    loop {
        let adjective = ADJECTIVES.choose(&mut rng).copied().unwrap_or("admiring");
        let surname = SURNAMES.choose(&mut rng).copied().unwrap_or("turing");
        if adjective == "boring" && surname == "wozniak" {
            continue;
        }
        return format!("{adjective}_{surname}");
    }
}

/// A random name for which `taken` returns false. After 10 collisions a random digit is
/// appended like Docker does (`focused_turing3`); every 100 further collisions one more digit is
/// appended, so this ends for any finite set of taken names.
pub fn unique_name(taken: &dyn Fn(&str) -> bool) -> String {
    let mut rng = rand::rng();
    let mut attempt: u32 = 0;
    loop {
        let mut name = random_name();
        if attempt >= PLAIN_ATTEMPTS {
            let digits = 1 + (attempt - PLAIN_ATTEMPTS) / ATTEMPTS_PER_DIGIT;
            for _ in 0..digits {
                name.push(char::from(b'0' + rng.random_range(0..10u8)));
            }
        }
        if !taken(&name) {
            return name;
        }
        attempt = attempt.saturating_add(1);
    }
}

/// Checks `name` against Docker's rule `^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$` (so at least two
/// characters after an optional leading `/`).
pub fn validate_name(name: &str) -> Result<(), NameError> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let mut bytes = bare.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric());
    let rest_ok = bare.len() >= 2
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(NameError::Invalid(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::collections::HashSet;

    #[test]
    fn lists_are_sorted_unique_lowercase() {
        for list in [ADJECTIVES, SURNAMES] {
            assert!(
                list.windows(2).all(|pair| pair[0] < pair[1]),
                "sorted and unique"
            );
            assert!(
                list.iter()
                    .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
            );
        }
        assert!(ADJECTIVES.len() >= 100);
        assert!(SURNAMES.len() >= 230);
        assert!(ADJECTIVES.contains(&"boring") && SURNAMES.contains(&"wozniak"));
    }

    #[test]
    fn random_name_format() {
        for _ in 0..1000 {
            let name = random_name();
            let (adjective, surname) = name.split_once('_').unwrap();
            assert!(ADJECTIVES.contains(&adjective), "{name}");
            assert!(SURNAMES.contains(&surname), "{name}");
            validate_name(&name).unwrap();
        }
    }

    #[test]
    fn never_boring_wozniak() {
        for _ in 0..200_000 {
            assert_ne!(random_name(), "boring_wozniak");
        }
    }

    #[test]
    fn unique_name_avoids_taken_names() {
        let taken: HashSet<String> = (0..5).map(|_| random_name()).collect();
        for _ in 0..1000 {
            let name = unique_name(&|candidate| taken.contains(candidate));
            assert!(!taken.contains(&name));
        }
    }

    #[test]
    fn unique_name_appends_digit_after_ten_collisions() {
        let calls = Cell::new(0u32);
        let name = unique_name(&|candidate| {
            calls.set(calls.get() + 1);
            // Every plain name is taken.
            !candidate.ends_with(|c: char| c.is_ascii_digit())
        });
        assert_eq!(calls.get(), 11);
        let (base, digit) = name.split_at(name.len() - 1);
        assert!(digit.bytes().all(|b| b.is_ascii_digit()), "{name}");
        assert!(
            base.split_once('_')
                .is_some_and(|(a, s)| { ADJECTIVES.contains(&a) && SURNAMES.contains(&s) })
        );
    }

    #[test]
    fn unique_name_grows_digits_when_needed() {
        // Only names with at least two digits are free.
        let name = unique_name(&|candidate| {
            candidate
                .bytes()
                .rev()
                .take_while(u8::is_ascii_digit)
                .count()
                < 2
        });
        assert!(
            name.bytes().rev().take_while(u8::is_ascii_digit).count() >= 2,
            "{name}"
        );
    }

    #[test]
    fn validation() {
        for good in ["ab", "/web", "my-app_1.0", "9x", "A.b", "focused_turing3"] {
            assert_eq!(validate_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "/",
            "a",
            "/a",
            "_ab",
            "-ab",
            ".ab",
            "a b",
            "a/b",
            "//ab",
            "caf\u{e9}",
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        assert_eq!(
            validate_name("bad name").unwrap_err().to_string(),
            "Invalid container name (bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        );
    }
}
