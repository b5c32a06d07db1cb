//! An exclusive advisory lock on a file (`flock(2)`), held until dropped.
//!
//! `flock` locks belong to an open file description, so two threads of one process that each
//! open the lock file exclude each other just as two processes do, and the kernel drops the
//! lock when a process dies.

use std::fs::{File, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// An exclusive lock on a lock file; released on drop.
pub(crate) struct FileLock {
    file: File,
}

impl FileLock {
    /// Opens (creating it if needed) `path` and waits for an exclusive lock on it.
    pub(crate) fn acquire(path: &Path) -> FileLock {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .unwrap_or_else(|e| panic!("cannot open lock file {}: {e}", path.display()));
        loop {
            // SAFETY: flock on a file descriptor that `file` owns and keeps open.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return FileLock { file };
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                panic!("cannot lock {}: {err}", path.display());
            }
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // SAFETY: as above; closing the file would release the lock anyway.
        unsafe {
            libc::flock(self.file.as_raw_fd(), libc::LOCK_UN);
        }
    }
}
