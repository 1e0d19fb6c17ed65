//! Disk and mount usage: the real mounts of this host (as the metric sampler picks them)
//! with `statvfs` sizes, free space for unprivileged users, inodes and the read-only flag.

use crate::metrics;
use protocol::ops::host::MountUsage;
use std::path::Path;

/// `statvfs` figures of one file system.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FsStats {
    /// Size, bytes.
    pub total: u64,
    /// Used (blocks − free), bytes.
    pub used: u64,
    /// Available to unprivileged users, bytes.
    pub avail: u64,
    /// Inodes in all.
    pub inodes: u64,
    /// Free inodes.
    pub inodes_free: u64,
    /// Mounted read-only.
    pub read_only: bool,
}

/// `statvfs` of the file system holding `path`, or `None` when it fails.
pub fn fs_stats(path: &Path) -> Option<FsStats> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call, and `st`
    // points to zero-initialised, writable memory of the right type that statvfs only
    // writes into. It is read only after the call reported success.
    #[allow(unsafe_code)]
    let st = unsafe {
        if libc::statvfs(c_path.as_ptr(), st.as_mut_ptr()) != 0 {
            return None;
        }
        st.assume_init()
    };
    // Field widths differ between targets; widening to u64 never truncates.
    let frsize = (if st.f_frsize > 0 {
        st.f_frsize
    } else {
        st.f_bsize
    }) as u64;
    let blocks = st.f_blocks as u64;
    Some(FsStats {
        total: blocks.saturating_mul(frsize),
        used: blocks
            .saturating_sub(st.f_bfree as u64)
            .saturating_mul(frsize),
        avail: (st.f_bavail as u64).saturating_mul(frsize),
        inodes: st.f_files as u64,
        inodes_free: st.f_ffree as u64,
        read_only: st.f_flag & libc::ST_RDONLY != 0,
    })
}

/// Usage of every real mount (zero figures where `statvfs` failed).
pub fn usage() -> Vec<MountUsage> {
    let mut buf = String::new();
    metrics::read_real_mounts(&mut buf)
        .into_iter()
        .map(|m| {
            let s = fs_stats(Path::new(&m.mount)).unwrap_or_default();
            MountUsage {
                mount: m.mount,
                device: m.device,
                fs_type: m.fs_type,
                read_only: s.read_only,
                total_bytes: s.total,
                used_bytes: s.used,
                avail_bytes: s.avail,
                inodes_total: s.inodes,
                inodes_used: s.inodes.saturating_sub(s.inodes_free),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn root_has_a_size_and_usage_lists_it() {
        let s = fs_stats(Path::new("/")).unwrap();
        assert!(s.total > 0 && s.used <= s.total && s.avail <= s.total);
        assert!(fs_stats(Path::new("/no/such/path")).is_none());
        let all = usage();
        assert!(all.iter().any(|m| m.total_bytes > 0), "{all:?}");
    }
}
