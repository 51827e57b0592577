//! Linux inotify on a directory: tells `trigger_wait` that a database file
//! (or its `-wal` / `-journal`) was written, by any process, without
//! polling. Other systems get [`DirWatch::new`] returning `Unsupported`, and
//! waiters fall back to polling.
#![allow(unsafe_code)]

use std::io;
use std::time::Duration;

/// A directory watched for writes, creations and deletions of its files.
pub(crate) struct DirWatch {
    /// The inotify descriptor, closed when the watch is dropped.
    #[cfg(target_os = "linux")]
    fd: std::os::fd::RawFd,
    /// Where the descriptor is listed in [`LIVE`], if it found room.
    #[cfg(target_os = "linux")]
    slot: Option<usize>,
}

/// The descriptors of the live watches, so that a forked child can close
/// its copies ([`close_inherited`]): the thread that reads a watch does not
/// exist in the child, and the kernel would keep queueing events for a copy
/// nobody reads. A watch that finds no free slot is not listed; a child
/// then keeps that copy until it execs (the descriptor is close-on-exec).
#[cfg(target_os = "linux")]
static LIVE: [std::sync::atomic::AtomicI32; 64] =
    [const { std::sync::atomic::AtomicI32::new(-1) }; 64];

/// Closes a forked child's copies of the parent's watches. Runs in the
/// child's `pthread_atfork` handler, before anything else in the child. A
/// descriptor is opened and listed, and unlisted and closed, while forks
/// are held off ([`super::hold_forks`]), so the list a child inherits holds
/// exactly the watches' open descriptors.
#[cfg(target_os = "linux")]
pub(crate) fn close_inherited() {
    use std::sync::atomic::Ordering;
    for slot in &LIVE {
        let fd = slot.swap(-1, Ordering::SeqCst);
        if fd >= 0 {
            // SAFETY: fd is the child's copy of a watch's descriptor; the
            // watch itself belongs to a thread of the parent and is never
            // dropped in the child, so nothing else closes it here.
            unsafe { libc::close(fd) };
        }
    }
}

#[cfg(target_os = "linux")]
impl Drop for DirWatch {
    fn drop(&mut self) {
        let _forks = super::hold_forks();
        if let Some(slot) = self.slot {
            LIVE[slot].store(-1, std::sync::atomic::Ordering::SeqCst);
        }
        // SAFETY: the watch owns fd (see new) and closes it once, here.
        unsafe { libc::close(self.fd) };
    }
}

#[cfg(target_os = "linux")]
impl DirWatch {
    pub(crate) fn new(dir: &std::path::Path) -> io::Result<DirWatch> {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
        let forks = super::hold_forks();
        // SAFETY: plain syscall; a non-negative result is a new descriptor,
        // which the watch made of it closes exactly once (Drop).
        let raw = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        let slot = LIVE.iter().position(|slot| {
            slot.compare_exchange(
                -1,
                raw,
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
            )
            .is_ok()
        });
        drop(forks);
        let watch = DirWatch { fd: raw, slot };
        let mask = libc::IN_MODIFY
            | libc::IN_CLOSE_WRITE
            | libc::IN_CREATE
            | libc::IN_DELETE
            | libc::IN_MOVED_TO;
        // SAFETY: fd is a live inotify descriptor and path a NUL-terminated
        // string that outlives the call.
        let wd = unsafe { libc::inotify_add_watch(raw, path.as_ptr(), mask) };
        if wd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(watch)
    }

    /// Waits up to `timeout` for events; returns the names of the files
    /// they were about (empty after a timeout).
    pub(crate) fn wait(&self, timeout: Duration) -> io::Result<Vec<Vec<u8>>> {
        let raw = self.fd;
        let mut poll = libc::pollfd {
            fd: raw,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: one valid pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut poll, 1, ms) };
        if ready < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(Vec::new())
            } else {
                Err(e)
            };
        }
        let mut names = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reads at most buf.len() bytes into buf.
            let n = unsafe { libc::read(raw, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break; // EAGAIN: no more events queued
            }
            let mut at = 0usize;
            let header = std::mem::size_of::<libc::inotify_event>();
            while at + header <= n as usize {
                // SAFETY: the kernel wrote a whole inotify_event header at
                // `at`; read_unaligned copes with the byte buffer's alignment.
                let event: libc::inotify_event =
                    unsafe { std::ptr::read_unaligned(buf.as_ptr().add(at).cast()) };
                let start = at + header;
                let end = (start + event.len as usize).min(n as usize);
                let name = &buf[start..end];
                let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
                names.push(name.to_vec());
                at = end;
            }
        }
        Ok(names)
    }
}

#[cfg(not(target_os = "linux"))]
impl DirWatch {
    pub(crate) fn new(_dir: &std::path::Path) -> io::Result<DirWatch> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no inotify here",
        ))
    }

    pub(crate) fn wait(&self, _timeout: Duration) -> io::Result<Vec<Vec<u8>>> {
        Ok(Vec::new())
    }
}
