//! Deleting the helper's tap device before the helper ends, so that its host ports are free
//! sooner.
//!
//! When pasta or slirp4netns exits, the kernel closes its tap device first and its listening
//! sockets last (an exiting process's files are released newest first). Closing the tap
//! unregisters it, and unregistering waits for an RCU barrier: tens of milliseconds on a busy
//! or virtual machine, all of it while the host ports are still held. Deleting the device
//! beforehand, from a child process that nobody waits for, takes that wait off the path:
//! the device leaves the namespace at once, and the helper's own exit no longer waits.

#![allow(
    unsafe_code,
    reason = "forking the child that deletes the device and waits for the kernel"
)]

use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

use netlink_packet_core::{NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::LinkMessage;
use nix::unistd::ForkResult;

/// How long to wait for the devices to leave the namespace; past it the helper's exit simply
/// takes longer, as before.
const GONE_WITHIN: Duration = Duration::from_millis(200);

/// Deletes every device but loopback in the namespace `netns`, returning once they have left
/// it (the kernel's remaining work goes on in a child of ours that is never waited for).
pub(super) fn delete_devices(netns: BorrowedFd<'_>) {
    // setns applies to the calling thread: a thread of its own keeps this one's namespace.
    std::thread::scope(|scope| {
        let _ = scope.spawn(|| delete_in(netns)).join();
    });
}

fn delete_in(netns: BorrowedFd<'_>) {
    if nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET).is_err() {
        return;
    }
    let Ok(interfaces) = nix::net::if_::if_nameindex() else {
        return;
    };
    let devices: Vec<(u32, std::ffi::CString)> = interfaces
        .iter()
        .filter(|interface| interface.name().to_bytes() != b"lo")
        .map(|interface| (interface.index(), interface.name().to_owned()))
        .collect();
    if devices.is_empty() {
        return;
    }
    let requests: Vec<Vec<u8>> = devices
        .iter()
        .map(|(index, _)| delete_request(*index))
        .collect();
    let Ok(socket) = rustix::net::socket_with(
        rustix::net::AddressFamily::NETLINK,
        rustix::net::SocketType::RAW,
        rustix::net::SocketFlags::CLOEXEC,
        None, // NETLINK_ROUTE
    ) else {
        return;
    };
    let arguments = argument_area();
    // SAFETY: the child makes only system calls on memory prepared before the fork, and ends
    // with _exit: it calls no allocator and takes no lock that another thread of ours could
    // have held at the fork.
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Child) => {
            // The child outlives the command by the kernel's wait, so it keeps nothing of
            // ours: no descriptor (a lock, a pipe to the caller) but the socket, and no
            // command line (it is not a berth command of this store); `ps` shows its name.
            let fd = u32::try_from(socket.as_raw_fd()).unwrap_or(u32::MAX);
            // SAFETY: close_range only closes descriptors; the socket's is kept.
            unsafe {
                if fd > 0 {
                    libc::close_range(0, fd - 1, 0);
                }
                libc::close_range(fd.saturating_add(1), u32::MAX, 0);
            }
            if let Some((start, end)) = arguments {
                // SAFETY: [start, end) is this process's own argument strings, on its stack
                // (the kernel's arg_start and arg_end): writable, and read by nobody here.
                unsafe { std::ptr::write_bytes(start as *mut u8, 0, end - start) };
            }
            let _ = nix::sys::prctl::set_name(c"berth-netdev");
            for request in &requests {
                let _ = rustix::net::send(&socket, request, rustix::net::SendFlags::empty());
            }
            // SAFETY: _exit ends the child without running the parent's exit handlers.
            unsafe { libc::_exit(0) }
        }
        Ok(ForkResult::Parent { .. }) => {}
        Err(_) => return,
    }
    drop(socket);
    let deadline = Instant::now() + GONE_WITHIN;
    while Instant::now() < deadline
        && devices
            .iter()
            .any(|(_, name)| nix::net::if_::if_nametoindex(name.as_c_str()).is_ok())
    {
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Where this process's argument strings are (`arg_start`, `arg_end` of /proc/self/stat).
fn argument_area() -> Option<(usize, usize)> {
    let stat = crate::util::process::ProcStat::read("self")?;
    let start = usize::try_from(stat.number(48)?).ok()?;
    let end = usize::try_from(stat.number(49)?).ok()?;
    (start != 0 && end > start).then_some((start, end))
}

/// RTM_DELLINK for the device `index`, without asking for an acknowledgement: nobody reads
/// the socket.
fn delete_request(index: u32) -> Vec<u8> {
    let mut link = LinkMessage::default();
    link.header.index = index;
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST;
    let mut message = NetlinkMessage::new(
        header,
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(link)),
    );
    message.finalize();
    let mut buffer = vec![0u8; message.buffer_len()];
    message.serialize(&mut buffer);
    buffer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_argument_area_holds_this_processes_arguments() {
        let (start, end) = argument_area().unwrap();
        let first = std::env::args().next().unwrap();
        assert!(end - start > first.len());
        // SAFETY: the kernel's argument area of this very process, read only.
        let bytes = unsafe { std::slice::from_raw_parts(start as *const u8, first.len()) };
        assert_eq!(bytes, first.as_bytes());
    }

    #[test]
    fn a_delete_request_names_the_device_by_index() {
        let request = delete_request(7);
        // nlmsghdr: length, type RTM_DELLINK (17), flags NLM_F_REQUEST; then ifinfomsg.
        assert_eq!(request.len(), 32);
        assert_eq!(u32::from_ne_bytes(request[0..4].try_into().unwrap()), 32);
        assert_eq!(u16::from_ne_bytes(request[4..6].try_into().unwrap()), 17);
        assert_eq!(u16::from_ne_bytes(request[6..8].try_into().unwrap()), 1);
        assert_eq!(i32::from_ne_bytes(request[20..24].try_into().unwrap()), 7);
    }
}
