//! The process's descriptor limit (`RLIMIT_NOFILE`): raised towards the hard limit when the
//! master starts, because service managers often leave a soft limit of 1024 that a burst of
//! connections exhausts; read by the endpoint to place its descriptor reserve (see
//! [`super::admission::DescriptorBudget`]).

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Highest soft limit the master asks for: the kernel's default `fs.nr_open`, above which
/// `setrlimit` fails even when the hard limit is unlimited.
pub const MAX_SOFT_LIMIT: u64 = 1 << 20;

/// The descriptor limit before and after [`raise_soft_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NofileLimit {
    /// The soft limit found.
    pub before: u64,
    /// The soft limit now.
    pub after: u64,
    /// The hard limit (`u64::MAX` when unlimited).
    pub hard: u64,
}

/// The soft descriptor limit now (`u64::MAX` when unlimited).
pub fn soft_limit() -> u64 {
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Raises the soft descriptor limit to the hard limit (at most [`MAX_SOFT_LIMIT`]); never
/// lowers it. On failure the limit stays as it was and the error is returned.
pub fn raise_soft_limit() -> std::io::Result<NofileLimit> {
    let limit = getrlimit(Resource::Nofile);
    let before = limit.current.unwrap_or(u64::MAX);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    let target = hard.min(MAX_SOFT_LIMIT);
    if target <= before {
        return Ok(NofileLimit {
            before,
            after: before,
            hard,
        });
    }
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(target),
            maximum: limit.maximum,
        },
    )?;
    Ok(NofileLimit {
        before,
        after: soft_limit(),
        hard,
    })
}

/// Sets the soft descriptor limit to `soft` (for tests that need a small one), keeping the
/// hard limit.
pub fn set_soft_limit(soft: u64) -> std::io::Result<()> {
    let limit = getrlimit(Resource::Nofile);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(soft),
            maximum: limit.maximum,
        },
    )
    .map_err(Into::into)
}
