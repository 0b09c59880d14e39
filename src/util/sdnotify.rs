//! systemd's readiness protocol (`sd_notify(3)`): one datagram of `KEY=VALUE` lines sent to
//! the unit's `NOTIFY_SOCKET`, a path or, with a leading `@`, an abstract socket name.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Sends `message` (e.g. `MAINPID=42\nREADY=1`) to `socket`.
///
/// # Errors
/// The socket cannot be created, named or reached.
pub fn notify(socket: &OsStr, message: &str) -> std::io::Result<()> {
    let sender = UnixDatagram::unbound()?;
    let address = match socket.as_bytes().strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt as _;
            SocketAddr::from_abstract_name(name)?
        }
        None => SocketAddr::from_pathname(socket)?,
    };
    sender.send_to_addr(message.as_bytes(), &address)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaches_a_path_and_an_abstract_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let listener = UnixDatagram::bind(&path).unwrap();
        notify(path.as_os_str(), "READY=1").unwrap();
        let mut buffer = [0u8; 64];
        let n = listener.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..n], b"READY=1");

        let name = format!("berth-test-{}", std::process::id());
        use std::os::linux::net::SocketAddrExt as _;
        let address = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&address).unwrap();
        notify(OsStr::new(&format!("@{name}")), "MAINPID=1").unwrap();
        let n = listener.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..n], b"MAINPID=1");
    }
}
