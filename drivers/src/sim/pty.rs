//! A pseudo-terminal pair standing in for a USB serial device.
//!
//! The simulator holds the master side; the driver opens the slave's path like any serial port.
//! The simulator also keeps the slave open (without locking it), so that the master never sees the
//! "no slave" I/O error while the driver is between two opens. An optional symbolic link gives
//! the device a stable name, like `/dev/serial/by-id/…`: [`Pty::open`] with the same link after
//! dropping the previous pair is an unplug and replug under a new node.

use std::io;
use std::path::{Path, PathBuf};

use tokio_serial::{SerialPort as _, SerialStream};

/// A pseudo-terminal pair; dropping it closes both sides (the device is unplugged).
#[derive(Debug)]
pub struct Pty {
    master: SerialStream,
    _slave: SerialStream,
    path: PathBuf,
    link: Option<PathBuf>,
}

impl Pty {
    /// Opens a new pair; with `link`, (re)points that symbolic link at the slave.
    /// Must be called inside a tokio runtime.
    pub fn open(link: Option<&Path>) -> io::Result<Pty> {
        // The slave is kept open without `TIOCEXCL` or a lock, so the driver can open it.
        let (master, slave) = SerialStream::pair().map_err(io::Error::from)?;
        let path = slave
            .name()
            .map(PathBuf::from)
            .ok_or_else(|| io::Error::other("pseudo-terminal without a name"))?;
        if let Some(link) = link {
            match std::fs::remove_file(link) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            std::os::unix::fs::symlink(&path, link)?;
        }
        Ok(Pty {
            master,
            _slave: slave,
            path,
            link: link.map(Path::to_path_buf),
        })
    }

    /// The slave device, e.g. `/dev/pts/7`.
    pub fn slave_path(&self) -> &Path {
        &self.path
    }

    /// The path a driver should open: the link if there is one, else the slave device.
    pub fn device_path(&self) -> &Path {
        self.link.as_deref().unwrap_or(&self.path)
    }

    /// The simulator's side.
    pub fn master(&mut self) -> &mut SerialStream {
        &mut self.master
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        // Remove the link only if it still names this pair: a replug may have re-pointed it.
        if let Some(link) = &self.link
            && std::fs::read_link(link).is_ok_and(|target| target == self.path)
        {
            let _ = std::fs::remove_file(link);
        }
    }
}
