//! What the extension shares between the threads of a process, made safe
//! across `fork()`.
//!
//! A process that forks while another of its threads holds a lock gives the
//! child a copy of that lock, held for good: the thread that would release
//! it does not exist in the child. Python's `os.fork()`, `multiprocessing`
//! with the `fork` start method and prefork servers fork while other
//! threads run, a `trigger_wait` among them. So:
//!
//! - Everything the connections of a process share (the commit signals, the
//!   change feeds, the registry of sessions, the pack catalog) is a
//!   [`PerProcess`] value. A child that uses one gets its own, made afresh,
//!   and never looks at the copy it inherited, which stays in its memory
//!   unused, as does everything else the parent's other threads were
//!   using. Nothing waits for a lock the parent may have held.
//! - A process is known by its id and by the number of forks it has seen,
//!   which a `pthread_atfork` child handler counts (Linux). The id alone
//!   cannot tell a child from its parent when a PID namespace gives both
//!   the same number; the count alone misses a child made without fork()'s
//!   handlers (a raw `clone`). Either one changing means another process.
//! - The locks are std's ([`Mutex`], [`Condvar`]), not parking_lot's. A std
//!   lock on Linux is one futex word inside the lock itself. A parking_lot
//!   lock that has to wait, and every condition variable wait and wake-up,
//!   goes through a table of wait queues that parking_lot keeps for the
//!   whole process, each queue behind a lock of its own: a fork while
//!   another thread was parking or waking left one of those locked in the
//!   child, and the child's next wait or wake-up that hashed to it hung,
//!   however new the lock or condition variable it was for (2 hangs in 100
//!   forks beside a looping `trigger_wait`).
//! - The child handler also closes the child's copies of the inotify
//!   descriptors of the parent's wait watchers (see `inotify`): the threads
//!   that read them do not exist in the child, and each is a queue the
//!   kernel would keep filling.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{MutexGuard, PoisonError};
use std::time::Instant;

/// One process: its id and how many forks made it (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcessId {
    pid: u32,
    forks: u64,
}

/// How many forks made this process, counted by [`forked`].
static FORKS: AtomicU64 = AtomicU64::new(0);

impl ProcessId {
    /// The calling process.
    pub(crate) fn current() -> ProcessId {
        count_forks();
        ProcessId {
            pid: std::process::id(),
            forks: FORKS.load(Ordering::SeqCst),
        }
    }
}

/// Registers [`forked`] once per process (a child inherits the
/// registration). Without it the process id still tells a child from its
/// parent.
#[cfg(target_os = "linux")]
fn count_forks() {
    use std::sync::atomic::AtomicBool;
    static REGISTERED: AtomicBool = AtomicBool::new(false);
    if REGISTERED.load(Ordering::Relaxed) || REGISTERED.swap(true, Ordering::SeqCst) {
        return;
    }
    // SAFETY: registers a child handler that only adds to an atomic and
    // closes descriptors the extension owns, both allowed in a child of a
    // multithreaded process. Its code stays mapped for good: the loadable
    // library is linked with `-z nodelete`, and glibc forgets the handlers
    // of any library it unloads.
    unsafe { libc::pthread_atfork(None, None, Some(forked)) };
}

#[cfg(not(target_os = "linux"))]
fn count_forks() {}

/// The `pthread_atfork` child handler: runs in the child, in the thread
/// that forked, before `fork()` returns there.
#[cfg(target_os = "linux")]
extern "C" fn forked() {
    // Neither call can panic; a panic must not unwind into libc all the same.
    let _ = super::catch("a forked child's start", || {
        FORKS.fetch_add(1, Ordering::SeqCst);
        super::inotify::close_inherited();
    });
}

/// A value each process makes for itself, the first time one of its threads
/// asks for it: a child never uses the one it inherited (see the module doc).
/// Values are never freed; one is made per process that uses it.
pub(crate) struct PerProcess<T> {
    current: AtomicPtr<Owned<T>>,
}

struct Owned<T> {
    process: ProcessId,
    value: T,
}

impl<T> PerProcess<T> {
    pub(crate) const fn new() -> Self {
        PerProcess {
            current: AtomicPtr::new(std::ptr::null_mut()),
        }
    }
}

impl<T: Send + Sync + 'static> PerProcess<T> {
    /// This process's value, made with `make` if it has none yet. Never
    /// blocks: threads that ask at once may each make one, and all but the
    /// first to be stored are dropped.
    pub(crate) fn get(&'static self, make: impl Fn() -> T) -> &'static T {
        let here = ProcessId::current();
        let mut seen = self.current.load(Ordering::Acquire);
        loop {
            // SAFETY: a non-null pointer in `current` was made by
            // Box::into_raw below, stored whole (release, read with
            // acquire), and is never freed.
            if let Some(owned) = unsafe { seen.as_ref() } {
                if owned.process == here {
                    return &owned.value;
                }
            }
            let fresh = Box::into_raw(Box::new(Owned {
                process: here,
                value: make(),
            }));
            // An inherited value is replaced, and left as it is.
            match self
                .current
                .compare_exchange(seen, fresh, Ordering::AcqRel, Ordering::Acquire)
            {
                // SAFETY: fresh is now stored, so never freed (see above).
                Ok(_) => return unsafe { &(*fresh).value },
                Err(now) => {
                    // SAFETY: fresh was never shared: it is still ours alone.
                    drop(unsafe { Box::from_raw(fresh) });
                    seen = now;
                }
            }
        }
    }
}

/// std's mutex, poisoning ignored (as parking_lot's had none): a panic is
/// caught where SQLite called in, and the state it left is used as it is.
pub(crate) struct Mutex<T: ?Sized>(std::sync::Mutex<T>);

impl<T> Mutex<T> {
    pub(crate) const fn new(value: T) -> Self {
        Mutex(std::sync::Mutex::new(value))
    }
}

impl<T: ?Sized> Mutex<T> {
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

/// std's condition variable, for a [`Mutex`].
#[derive(Default)]
pub(crate) struct Condvar(std::sync::Condvar);

impl Condvar {
    pub(crate) fn notify_all(&self) {
        self.0.notify_all();
    }

    /// Waits while `waiting` holds, until `deadline` at the latest.
    pub(crate) fn wait_while_until<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Instant,
        waiting: impl FnMut(&mut T) -> bool,
    ) -> MutexGuard<'a, T> {
        let timeout = deadline.saturating_duration_since(Instant::now());
        self.0
            .wait_timeout_while(guard, timeout, waiting)
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }
}
