//! Files that must never be seen half-written: the device key, the pinned certificate, the
//! configuration `provision` writes, the managed settings the agent keeps for a restart.
//!
//! A kiosk loses power without warning. Writing in place could leave a truncated key or
//! configuration behind, and the station would not start again without a technician's visit;
//! so every such file is written to a temporary file in the same directory, flushed to disk,
//! renamed over the old one (atomic on POSIX), and the directory is flushed too so the rename
//! itself survives the power cut.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Why a file could not be written. The codes are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The file has no parent directory or file name (e.g. `/`).
    #[error("{path}: not a file path")]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// A step of the write failed.
    #[error("writing {path}: {step}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Which step (`create`, `write`, `sync`, `rename`, `sync directory`).
        step: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl WriteError {
    /// Stable machine-readable code: `FILE_PATH`, `FILE_WRITE`.
    pub fn code(&self) -> &'static str {
        match self {
            WriteError::NotAFile { .. } => "FILE_PATH",
            WriteError::Io { .. } => "FILE_WRITE",
        }
    }
}

/// Replace `path` with `bytes`, atomically and durably, the file getting permission `mode`
/// (e.g. `0o600` for a secret: readable by its owner only, from the first byte written).
///
/// Readers see either the old content or the new one, never a mix, even across a power cut.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), WriteError> {
    let not_a_file = || WriteError::NotAFile {
        path: path.to_owned(),
    };
    let name = path.file_name().ok_or_else(not_a_file)?;
    let dir = match path.parent() {
        Some(d) if d.as_os_str().is_empty() => Path::new("."),
        Some(d) => d,
        None => return Err(not_a_file()),
    };
    let io = |step: &'static str| {
        move |source| WriteError::Io {
            path: path.to_owned(),
            step,
            source,
        }
    };
    let mut suffix = [0u8; 6];
    // Without OS randomness the process id alone still separates concurrent writers.
    let _ = getrandom::fill(&mut suffix);
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ));
    let result = (|| {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(io("create"))?;
        // The umask may have narrowed the mode, never widened it; set it exactly.
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(io("create"))?;
        file.write_all(bytes).map_err(io("write"))?;
        file.sync_all().map_err(io("sync"))?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(io("rename"))?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("sync directory"))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn replaces_the_file_with_the_mode_asked_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("kiosk-fsutil-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("secret.pem");
        write_atomic(&path, b"old", 0o644).expect("first");
        write_atomic(&path, b"new", 0o600).expect("second");
        assert_eq!(std::fs::read(&path).expect("read"), b"new");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let names: Vec<_> = std::fs::read_dir(&dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from("secret.pem")]);
        assert_eq!(
            write_atomic(Path::new("/"), b"x", 0o600)
                .expect_err("not a file")
                .code(),
            "FILE_PATH"
        );
        std::fs::remove_dir_all(&dir).expect("clean");
    }
}
