//! The run folder's housekeeping: one process at a time ([`RunLock`]) and no temporary files left
//! behind ([`remove_temp_files`]).
//!
//! The lock is an advisory `flock(2)` on `<run>/.lock` (which also records the holder's pid for the
//! error message). The kernel releases it when the holder ends in any way, `kill -9` included, so a
//! lock left by a killed process is taken over without any pid test that could be fooled by pid
//! reuse. The file itself is never deleted while the folder is in use: deleting a lock file races
//! with a process that has just opened it.
//!
//! Temporary files are the `.<name>.tmp-<pid>` files of [`crate::checkpoint::write_atomic`]. A write
//! that fails removes its own; a process killed during a write leaves one, which the next run removes
//! (under the lock, every temporary file in the folder is stale).

use crate::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside a run folder.
pub const LOCK_FILE: &str = ".lock";

/// Whether `name` is a temporary file of [`crate::checkpoint::write_atomic`].
pub fn is_temp_file(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp-")
}

/// Removes the temporary files of interrupted atomic writes from `dir` and its `checkpoints/`
/// folder (missing folders are fine) and returns what it removed. Call it only while holding the
/// folder's [`RunLock`].
pub fn remove_temp_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for d in [dir.to_path_buf(), dir.join("checkpoints")] {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if is_temp_file(&name) && e.file_type().is_ok_and(|t| t.is_file()) {
                let p = e.path();
                std::fs::remove_file(&p).map_err(|err| Error::io(&p, err))?;
                removed.push(p);
            }
        }
    }
    if !removed.is_empty() {
        tracing::warn!(
            count = removed.len(),
            folder = %dir.display(),
            "removed temporary files left by an interrupted write"
        );
    }
    Ok(removed)
}

/// An exclusive lock on a run folder, held until dropped.
#[derive(Debug)]
pub struct RunLock {
    /// Held open for the lock's lifetime: closing it releases the `flock`.
    _file: File,
    dir: PathBuf,
    created_dir: bool,
}

impl RunLock {
    /// Creates `dir` if needed and locks it, then removes the temporary files a killed run left
    /// there. Fails, naming the folder and the holder's pid, when another process holds the lock.
    pub fn acquire(dir: &Path) -> Result<RunLock> {
        let created_dir = !dir.exists();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match try_lock_exclusive(&file) {
            Ok(true) => {}
            Ok(false) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(selfsup_core::Error::config(
                    "out_dir",
                    format!(
                        "the run folder {} is in use by another selfsup process{} (lock {}): wait for it to end, or choose another folder with --out",
                        dir.display(),
                        if holder.is_empty() { String::new() } else { format!(" (pid {holder})") },
                        path.display()
                    ),
                )
                .into());
            }
            Err(e) => return Err(Error::io(&path, e)),
        }
        // Ours now: record our pid for the message another process would print.
        let pid = std::process::id().to_string();
        file.set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(pid.as_bytes()))
            .and_then(|_| file.flush())
            .map_err(|e| Error::io(&path, e))?;
        remove_temp_files(dir)?;
        Ok(RunLock {
            _file: file,
            dir: dir.to_path_buf(),
            created_dir,
        })
    }

    /// The locked folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = remove_temp_files(&self.dir);
        // A folder this lock created and nothing else wrote to (a run refused before training) is
        // removed again, so that a failed start leaves no empty run folder behind.
        let only_lock = std::fs::read_dir(&self.dir).is_ok_and(|rd| {
            rd.flatten()
                .all(|e| e.file_name().to_string_lossy() == LOCK_FILE)
        });
        if self.created_dir && only_lock {
            let _ = std::fs::remove_file(self.dir.join(LOCK_FILE));
            let _ = std::fs::remove_dir(&self.dir);
        }
        // The flock is released when `self._file` is closed, right after this.
    }
}

/// `flock(LOCK_EX | LOCK_NB)` on `file`: `Ok(true)` when this process now holds the lock, `Ok(false)`
/// when another open file description holds it. (`File::try_lock` does the same but needs Rust 1.89;
/// the workspace's `rust-version` is older.) The kernel releases the lock when the descriptor is
/// closed, including when the process is killed.
#[cfg(unix)]
#[allow(unsafe_code)]
fn try_lock_exclusive(file: &File) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: `flock` only reads the descriptor number, which `file` keeps open for the call.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// Without `flock` (not Unix) the folder is not locked.
#[cfg(not(unix))]
fn try_lock_exclusive(_file: &File) -> std::io::Result<bool> {
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_folder_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let a = RunLock::acquire(&run).unwrap();
        let e = RunLock::acquire(&run).unwrap_err().to_string();
        assert!(e.contains("in use") && e.contains("out_dir"), "{e}");
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        drop(a);
        // Nothing else was written: the folder the lock created is gone again.
        assert!(!run.exists());
        std::fs::create_dir_all(run.join("checkpoints")).unwrap();
        let b = RunLock::acquire(&run).unwrap();
        drop(b);
        assert!(run.join("checkpoints").is_dir());
    }

    #[test]
    fn stale_temporary_files_are_removed_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let ck = dir.path().join("checkpoints");
        std::fs::create_dir_all(&ck).unwrap();
        let stale = [
            ck.join(".ckpt-step0000000004.safetensors.tmp-4242"),
            dir.path().join(".config.toml.tmp-17"),
        ];
        for p in &stale {
            std::fs::write(p, b"partial").unwrap();
        }
        let kept = [
            ck.join("ckpt-step0000000002.safetensors"),
            dir.path().join("metrics.jsonl"),
        ];
        for p in &kept {
            std::fs::write(p, b"x").unwrap();
        }
        let _lock = RunLock::acquire(dir.path()).unwrap();
        for p in &stale {
            assert!(!p.exists(), "{} left", p.display());
        }
        for p in &kept {
            assert!(p.exists(), "{} removed", p.display());
        }
    }
}
