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
//! - The threads of `trigger_wait` keep working inside SQLite (a check
//!   every few milliseconds on a private connection, and opening and
//!   closing it), where SQLite takes locks of its own that a child needs
//!   too: the lock of the database file's shared memory (`-shm`), held
//!   while a read begins, and its allocator's lock
//!   (`SQLITE_MUTEX_STATIC_MEM`), taken around every allocation while
//!   memory statistics are on, as they are by default. A fork while a
//!   waiting thread held one left a child whose first SQLite call on that
//!   file, or first allocation, hung (the allocator: 2 in 100 forks beside
//!   a looping `trigger_wait`; the shared memory: 1 in 200). So a wait
//!   holds forks off ([`hold_forks`]) while it works inside SQLite, and
//!   the prepare handler waits (at most [`FORK_WAITS_FOR_WAITS`]) until no
//!   thread holds them, keeps new holds out until the fork is done, and
//!   holds the allocator's lock across the fork (released in parent and
//!   child). SQLite holds that lock only around the allocator and its
//!   counters, taking no other lock inside, so the fork waits at most for
//!   one allocation. A watch opens and closes its descriptor under the same
//!   hold, so the child closes exactly the open ones. The host's own
//!   threads inside SQLite at a fork are the host's affair (SQLite's rule:
//!   a child uses only connections it opened).
#![allow(unsafe_code)]

use std::cell::Cell;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{MutexGuard, PoisonError};
use std::time::{Duration, Instant};

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
        ProcessId {
            pid: std::process::id(),
            forks: FORKS.load(Ordering::SeqCst),
        }
    }
}

/// Registers the fork handlers once per process (a child inherits the
/// registration), from [`crate::register`]: they reach SQLite, which a
/// loadable extension can only do once a connection has loaded it. Before
/// that, and where there are none, the process id still tells a child from
/// its parent.
#[cfg(target_os = "linux")]
pub(crate) fn watch_forks() {
    use std::sync::atomic::AtomicBool;
    static REGISTERED: AtomicBool = AtomicBool::new(false);
    if REGISTERED.load(Ordering::Relaxed) || REGISTERED.swap(true, Ordering::SeqCst) {
        return;
    }
    // SAFETY: registers handlers that wait for the extension's own threads,
    // take and release one SQLite lock, store atomics and close descriptors
    // the extension owns: all allowed around a fork of a multithreaded
    // process. Their code stays mapped for good: the loadable library is
    // linked with `-z nodelete`, and glibc forgets the handlers of any
    // library it unloads.
    unsafe { libc::pthread_atfork(Some(before_fork), Some(after_fork_in_parent), Some(forked)) };
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn watch_forks() {}

/// How many holds ([`hold_forks`]) the process's threads have.
static HOLDING: AtomicUsize = AtomicUsize::new(0);
/// How many threads are forking: while any is, no new hold begins.
static FORKING: AtomicUsize = AtomicUsize::new(0);
/// The longest a fork waits for the holds to end (a wait's check waits up
/// to 100 ms for a writer's lock); then it goes ahead.
#[cfg(target_os = "linux")]
pub(crate) const FORK_WAITS_FOR_WAITS: Duration = Duration::from_secs(1);

thread_local! {
    /// How many holds this thread has: a fork from the same thread does
    /// not wait for them, and a hold inside one begins at once.
    static OWN_HOLDS: Cell<usize> = const { Cell::new(0) };
}

#[cfg(target_os = "linux")]
thread_local! {
    /// Whether this thread took SQLite's allocator lock before its fork.
    static HOLDS_SQLITE_MEMORY: Cell<bool> = const { Cell::new(false) };
}

/// Forks held off: while the value lives, no fork of the process begins
/// (see the module doc). For work a fork must not split: a wait's SQLite
/// calls, which take SQLite's locks, and a watch opening or closing its
/// descriptor. Never keep it while waiting for something.
pub(crate) struct HeldForks(());

/// Holds forks off, first waiting for a fork in progress to finish.
pub(crate) fn hold_forks() -> HeldForks {
    if OWN_HOLDS.with(Cell::get) > 0 {
        // A fork waiting for this thread's holds to end would wait for
        // this one to begin.
        HOLDING.fetch_add(1, Ordering::SeqCst);
        OWN_HOLDS.with(|own| own.set(own.get() + 1));
        return HeldForks(());
    }
    loop {
        HOLDING.fetch_add(1, Ordering::SeqCst);
        // A fork that began before our count was seen is waited out; one
        // that begins after sees it (both are SeqCst).
        if FORKING.load(Ordering::SeqCst) == 0 {
            OWN_HOLDS.with(|own| own.set(own.get() + 1));
            return HeldForks(());
        }
        HOLDING.fetch_sub(1, Ordering::SeqCst);
        while FORKING.load(Ordering::SeqCst) != 0 {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
}

impl Drop for HeldForks {
    fn drop(&mut self) {
        OWN_HOLDS.with(|own| own.set(own.get().saturating_sub(1)));
        HOLDING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The `pthread_atfork` prepare handler, in the thread about to fork.
#[cfg(target_os = "linux")]
extern "C" fn before_fork() {
    let _ = super::catch("preparing a fork", || {
        FORKING.fetch_add(1, Ordering::SeqCst);
        let own = OWN_HOLDS.with(Cell::get);
        let deadline = Instant::now() + FORK_WAITS_FOR_WAITS;
        while HOLDING.load(Ordering::SeqCst) > own && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(50));
        }
        // SAFETY: the handlers are registered only once the extension can
        // reach SQLite (see watch_forks); a static mutex is SQLite's for
        // good, and this thread does not hold it (SQLite takes it only
        // inside its allocator, which does not fork). The waits' SQLite
        // calls, which may be waiting for it, are done.
        unsafe {
            let memory = rusqlite::ffi::sqlite3_mutex_alloc(rusqlite::ffi::SQLITE_MUTEX_STATIC_MEM);
            if !memory.is_null() {
                rusqlite::ffi::sqlite3_mutex_enter(memory);
                HOLDS_SQLITE_MEMORY.with(|held| held.set(true));
            }
        }
    });
}

/// Releases SQLite's allocator lock if [`before_fork`] took it.
#[cfg(target_os = "linux")]
fn release_sqlite_memory() {
    if HOLDS_SQLITE_MEMORY.with(|held| held.replace(false)) {
        // SAFETY: this thread (or, in the child, its copy) took the same
        // static mutex in before_fork.
        unsafe {
            rusqlite::ffi::sqlite3_mutex_leave(rusqlite::ffi::sqlite3_mutex_alloc(
                rusqlite::ffi::SQLITE_MUTEX_STATIC_MEM,
            ));
        }
    }
}

/// The `pthread_atfork` parent handler: the fork is done.
#[cfg(target_os = "linux")]
extern "C" fn after_fork_in_parent() {
    let _ = super::catch("finishing a fork", || {
        release_sqlite_memory();
        FORKING.fetch_sub(1, Ordering::SeqCst);
    });
}

/// The `pthread_atfork` child handler: runs in the child, in the thread
/// that forked, before `fork()` returns there. The child has that thread
/// only: no other thread holds forks off or forks.
#[cfg(target_os = "linux")]
extern "C" fn forked() {
    // Nothing here panics; a panic must not unwind into libc all the same.
    let _ = super::catch("a forked child's start", || {
        release_sqlite_memory();
        HOLDING.store(OWN_HOLDS.with(Cell::get), Ordering::SeqCst);
        FORKING.store(0, Ordering::SeqCst);
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
