//! Forwarding the connections of a listening Unix socket to another socket, byte for byte
//! (the SSH agent proxy of `build --ssh`).
//!
//! Leaf module: uses nothing else of the crate. It starts a thread per connection and
//! direction, so it must run in a process that never forks (the hidden `__ssh-proxy`
//! command), never in berth's main process (STYLE §3.12).

use std::io;
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// Accepts connections on `listener` forever, connecting each to `upstream` and copying both
/// ways until either side closes. A connection `upstream` refuses is closed.
///
/// # Errors
///
/// Accepting fails for another reason than a signal.
pub fn forward_connections(listener: &UnixListener, upstream: &Path) -> io::Result<()> {
    loop {
        let client = match listener.accept() {
            Ok((client, _)) => client,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        let upstream: PathBuf = upstream.to_path_buf();
        std::thread::spawn(move || {
            let _ = pipe(client, &upstream);
        });
    }
}

/// Copies `client` ↔ `upstream` until both directions are done.
fn pipe(client: UnixStream, upstream: &Path) -> io::Result<()> {
    let server = UnixStream::connect(upstream)?;
    let mut to_server = server.try_clone()?;
    let mut from_client = client.try_clone()?;
    let requests = std::thread::spawn(move || {
        let _ = io::copy(&mut from_client, &mut to_server);
        let _ = to_server.shutdown(Shutdown::Write);
    });
    let (mut from_server, mut to_client) = (server, client);
    let _ = io::copy(&mut from_server, &mut to_client);
    let _ = to_client.shutdown(Shutdown::Write);
    let _ = requests.join();
    Ok(())
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    #[test]
    fn bytes_go_both_ways() {
        let dir = tempfile::tempdir().unwrap();
        let upstream = dir.path().join("upstream.sock");
        let front = dir.path().join("front.sock");
        let server = UnixListener::bind(&upstream).unwrap();
        let listener = UnixListener::bind(&front).unwrap();
        std::thread::spawn(move || forward_connections(&listener, &upstream));
        std::thread::spawn(move || {
            let (mut stream, _) = server.accept().unwrap();
            let mut request = [0; 5];
            stream.read_exact(&mut request).unwrap();
            stream.write_all(b"reply to ").unwrap();
            stream.write_all(&request).unwrap();
        });
        let mut client = UnixStream::connect(&front).unwrap();
        client.write_all(b"hello").unwrap();
        let mut reply = String::new();
        client.read_to_string(&mut reply).unwrap();
        assert_eq!(reply, "reply to hello");
    }
}
