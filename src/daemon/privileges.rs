//! Running unprivileged: started as root, the daemon binds its sockets,
//! then becomes `[server] user` (supplementary groups, group, user; every
//! capability gone) before it reads a zone, starts a health check or a
//! plugin. Started as root without a user it refuses, unless told
//! `allow_root = true` (signpost.toml(5)).
//!
//! `nix` wraps the system calls, so no `unsafe` lives here.

use std::path::Path;

use nix::unistd::{self, Gid, Group, Uid, User};

use crate::config::RunAs;

/// Why the daemon cannot become the user it should run as.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error("{position}: no user \"{user}\" on this system (create it, or change [server] user)")]
    NoUser { user: String, position: String },
    #[error(
        "{position}: no group \"{group}\" on this system (create it, or change [server] group)"
    )]
    NoGroup { group: String, position: String },
    #[error("looking up user or group \"{name}\": {source}")]
    Lookup { name: String, source: nix::Error },
    #[error(
        "started as uid {uid}, which cannot become user \"{user}\": start as root or as that user"
    )]
    NotRoot { uid: u32, user: String },
    #[error("refusing to run as root: set [server] user (for example \"signpost\"), or allow_root = true to run as root anyway (signpost.toml(5))")]
    Root,
    #[error("cannot drop to user \"{user}\": {what}: {source}")]
    Drop {
        user: String,
        what: &'static str,
        source: nix::Error,
    },
    #[error("still privileged after dropping to user \"{user}\": {what}")]
    StillPrivileged { user: String, what: String },
    #[error("cannot hand {path} to user \"{user}\": {source}")]
    Chown {
        path: String,
        user: String,
        source: nix::Error,
    },
}

/// The user and group to become, looked up.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub uid: Uid,
    pub gid: Gid,
}

/// What to do about privileges, decided before anything is bound.
#[derive(Debug)]
pub enum Plan {
    /// Not root, or root allowed: stay as we are.
    Stay,
    /// Root now; become `Target` once the sockets are bound.
    Become(Target),
}

/// Decides from who we are and what the config says. `config_file`: the
/// rule applies to servers run from a config file; the config-less form
/// (`--listen`/`--zone`, for tests and trials) drops only when given a
/// user.
pub fn plan(
    run_as: Option<&RunAs>,
    allow_root: bool,
    config_file: bool,
) -> Result<Plan, PrivilegeError> {
    let euid = unistd::geteuid();
    let Some(run_as) = run_as else {
        if euid.is_root() && config_file && !allow_root {
            return Err(PrivilegeError::Root);
        }
        return Ok(Plan::Stay);
    };
    let target = lookup(run_as)?;
    if euid == target.uid {
        return Ok(Plan::Stay);
    }
    if !euid.is_root() {
        return Err(PrivilegeError::NotRoot {
            uid: euid.as_raw(),
            user: target.name,
        });
    }
    Ok(Plan::Become(target))
}

fn lookup(run_as: &RunAs) -> Result<Target, PrivilegeError> {
    let position = run_as.position.to_string();
    let user = User::from_name(&run_as.user)
        .map_err(|source| PrivilegeError::Lookup {
            name: run_as.user.clone(),
            source,
        })?
        .ok_or_else(|| PrivilegeError::NoUser {
            user: run_as.user.clone(),
            position: position.clone(),
        })?;
    let gid = match &run_as.group {
        None => user.gid,
        Some(name) => {
            Group::from_name(name)
                .map_err(|source| PrivilegeError::Lookup {
                    name: name.clone(),
                    source,
                })?
                .ok_or_else(|| PrivilegeError::NoGroup {
                    group: name.clone(),
                    position,
                })?
                .gid
        }
    };
    Ok(Target {
        name: user.name,
        uid: user.uid,
        gid,
    })
}

/// Gives a file we created as root (the control socket) to the target,
/// so the server can still remove it and the target's own tools use it.
pub fn hand_over(path: &Path, target: &Target) -> Result<(), PrivilegeError> {
    unistd::chown(path, Some(target.uid), Some(target.gid)).map_err(|source| {
        PrivilegeError::Chown {
            path: path.display().to_string(),
            user: target.name.clone(),
            source,
        }
    })
}

/// Becomes `target` for good: supplementary groups, then group, then user
/// (real, effective and saved, so there is no way back). Leaving uid 0
/// clears the permitted, effective and ambient capabilities; that is
/// checked, not assumed.
pub fn become_user(target: &Target) -> Result<(), PrivilegeError> {
    let fail = |what: &'static str| {
        let user = target.name.clone();
        move |source| PrivilegeError::Drop { user, what, source }
    };
    unistd::setgroups(&[target.gid]).map_err(fail("setgroups"))?;
    unistd::setresgid(target.gid, target.gid, target.gid).map_err(fail("setresgid"))?;
    unistd::setresuid(target.uid, target.uid, target.uid).map_err(fail("setresuid"))?;
    let still = |what: String| PrivilegeError::StillPrivileged {
        user: target.name.clone(),
        what,
    };
    if unistd::geteuid() != target.uid || unistd::getuid() != target.uid {
        return Err(still("the user did not change".into()));
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for line in status.lines() {
        for field in ["CapInh:", "CapPrm:", "CapEff:", "CapAmb:"] {
            if let Some(value) = line.strip_prefix(field) {
                if value.trim().trim_start_matches('0').is_empty() {
                    continue;
                }
                return Err(still(format!("{} {}", field, value.trim())));
            }
        }
    }
    tracing::info!(
        user = %target.name,
        uid = target.uid.as_raw(),
        gid = target.gid.as_raw(),
        "dropped privileges"
    );
    Ok(())
}
