//! Pseudo-terminals for `-t`: libcontainer's init creates the pty inside the container and
//! sends us its master over a unix socket (runc's console-socket protocol); we relay it, with
//! our terminal in raw mode and its size kept in step.

#![allow(
    unsafe_code,
    reason = "TIOCGWINSZ/TIOCSWINSZ are ioctls without a safe wrapper"
)]

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};

use super::RuntimeError;

/// The listening end of a console socket.
pub struct ConsoleSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ConsoleSocket {
    /// Listens at `path` (removed first if left over).
    pub fn bind(path: &Path) -> Result<Self, RuntimeError> {
        let _ = fs_err::remove_file(path);
        let listener = UnixListener::bind(path)
            .map_err(|e| RuntimeError::io("failed to listen on", path, e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| RuntimeError::io("failed to listen on", path, e))?;
        Ok(Self {
            listener,
            path: path.to_path_buf(),
        })
    }

    /// The socket's path, for libcontainer.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts libcontainer's connection and receives the pty master.
    pub fn receive_master(&self, timeout: Duration) -> Result<OwnedFd, RuntimeError> {
        let deadline = Instant::now() + timeout;
        let stream = loop {
            match self.listener.accept() {
                Ok((stream, _)) => break stream,
                Err(error)
                    if error.kind() == std::io::ErrorKind::WouldBlock
                        && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(error) => {
                    return Err(RuntimeError::io(
                        "failed to receive the terminal on",
                        &self.path,
                        error,
                    ));
                }
            }
        };
        stream
            .set_nonblocking(false)
            .map_err(|e| RuntimeError::io("failed to receive the terminal on", &self.path, e))?;
        let mut buffer = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut buffer)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let message = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::empty(),
        )
        .map_err(|e| RuntimeError::Sys("receiving the terminal", e))?;
        for control in message
            .cmsgs()
            .map_err(|e| RuntimeError::Sys("receiving the terminal", e))?
        {
            if let ControlMessageOwned::ScmRights(fds) = control {
                if let Some(fd) = fds.first() {
                    // SAFETY: SCM_RIGHTS gave us this new descriptor; nothing else owns it.
                    return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
                }
            }
        }
        Err(RuntimeError::Invalid(
            "the container did not send its terminal".to_owned(),
        ))
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = fs_err::remove_file(&self.path);
    }
}

/// Our terminal in raw mode while it lives (keys go to the container as typed).
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Puts stdin's terminal in raw mode; `None` when stdin is not a terminal.
    pub fn enable() -> Option<Self> {
        let stdin = std::io::stdin();
        let saved = tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(Self { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

/// Copies the window size of terminal `from` to `to` (the pty master).
pub fn copy_window_size(from: BorrowedFd<'_>, to: BorrowedFd<'_>) {
    let mut size = nix::pty::Winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a winsize into `size`, which is valid for the call.
    let got = unsafe { libc::ioctl(from.as_raw_fd(), libc::TIOCGWINSZ, &mut size) };
    if got == 0 {
        // SAFETY: TIOCSWINSZ reads the winsize we pass; `to` is an open descriptor.
        let _ = unsafe { libc::ioctl(to.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    }
}
