//! `-u name|uid[:gid]` resolved against the image's /etc/passwd and /etc/group, as Docker
//! does: a name must exist there; a number need not.

use std::path::Path;

use fs_err as fs;

use super::RuntimeError;

/// The process identity inside the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    /// uid.
    pub uid: u32,
    /// gid.
    pub gid: u32,
    /// Supplementary groups from /etc/group.
    pub additional_gids: Vec<u32>,
    /// Home directory (for `HOME` when the image does not set it).
    pub home: String,
}

/// Resolves `spec` (empty = root) against the root filesystem at `rootfs`.
pub fn resolve(rootfs: &Path, spec: &str) -> Result<ResolvedUser, RuntimeError> {
    let passwd = fs::read_to_string(rootfs.join("etc/passwd")).unwrap_or_default();
    let group = fs::read_to_string(rootfs.join("etc/group")).unwrap_or_default();
    resolve_in(&passwd, &group, spec)
}

/// [`resolve`] over the files' contents.
pub fn resolve_in(passwd: &str, group: &str, spec: &str) -> Result<ResolvedUser, RuntimeError> {
    let spec = if spec.is_empty() { "0" } else { spec };
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entries: Vec<Vec<&str>> = passwd
        .lines()
        .map(|l| l.split(':').collect())
        .filter(|f: &Vec<&str>| f.len() >= 7)
        .collect();
    let by_name = entries.iter().find(|f| f[0] == user_part);
    let by_uid = user_part.parse::<u32>().ok();
    let (uid, mut gid, home, name) = match (by_uid, by_name) {
        (Some(uid), _) => {
            let entry = entries
                .iter()
                .find(|f| f[2].parse::<u32>().ok() == Some(uid));
            (
                uid,
                entry.and_then(|f| f[3].parse().ok()).unwrap_or(0),
                entry.map_or("/", |f| f[5]).to_owned(),
                entry.map(|f| f[0].to_owned()),
            )
        }
        (None, Some(f)) => (
            f[2].parse().map_err(|_| bad_user(spec))?,
            f[3].parse().map_err(|_| bad_user(spec))?,
            f[5].to_owned(),
            Some(f[0].to_owned()),
        ),
        (None, None) => {
            return Err(RuntimeError::User(format!(
                "unable to find user {user_part}: no matching entries in passwd file"
            )));
        }
    };
    let groups: Vec<Vec<&str>> = group
        .lines()
        .map(|l| l.split(':').collect())
        .filter(|f: &Vec<&str>| f.len() >= 4)
        .collect();
    if let Some(group_part) = group_part {
        gid = match group_part.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => groups
                .iter()
                .find(|f| f[0] == group_part)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| {
                    RuntimeError::User(format!(
                        "unable to find group {group_part}: no matching entries in group file"
                    ))
                })?,
        };
    }
    let additional_gids = match &name {
        Some(name) => groups
            .iter()
            .filter(|f| f[3].split(',').any(|member| member == name))
            .filter_map(|f| f[2].parse().ok())
            .filter(|g| *g != gid)
            .collect(),
        None => Vec::new(),
    };
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

fn bad_user(spec: &str) -> RuntimeError {
    RuntimeError::User(format!("invalid user `{spec}` in the image's /etc/passwd"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:u:/home/user:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nuser:x:1000:\nwheel:x:10:user\n";

    #[test]
    fn resolves_names_numbers_and_groups() {
        let root = resolve_in(PASSWD, GROUP, "").unwrap();
        assert_eq!((root.uid, root.gid, root.home.as_str()), (0, 0, "/root"));
        let user = resolve_in(PASSWD, GROUP, "user").unwrap();
        assert_eq!(
            (user.uid, user.gid, user.additional_gids.clone()),
            (1000, 1000, vec![10])
        );
        let numeric = resolve_in(PASSWD, GROUP, "4242:4343").unwrap();
        assert_eq!((numeric.uid, numeric.gid), (4242, 4343));
        let named_group = resolve_in(PASSWD, GROUP, "1000:wheel").unwrap();
        assert_eq!(named_group.gid, 10);
        assert!(resolve_in(PASSWD, GROUP, "nobody").is_err());
        assert!(resolve_in(PASSWD, GROUP, "user:nogroup").is_err());
    }
}
