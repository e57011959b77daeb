//! A fixed set of worker threads inside a [`std::thread::scope`], for the CPU-heavy stages of a
//! bulk import.
//!
//! Spawning threads for every chunk of rows costs more than the spawn: each new thread starts
//! with cold caches and, with glibc, takes over an allocator arena that other threads then free
//! into. A pool keeps the same threads for the whole import; several stages can map on it at
//! once, and their jobs share its threads.

use std::panic::AssertUnwindSafe;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::Scope;

type Job<'scope> = Box<dyn FnOnce() + Send + 'scope>;

/// Worker threads that live as long as the scope they were started in.
pub(crate) struct Pool<'scope> {
    jobs: Mutex<mpsc::Sender<Job<'scope>>>,
    threads: usize,
}

/// The number of threads an import uses: the cores, at most 8.
pub(crate) fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

impl<'scope> Pool<'scope> {
    /// Starts `threads` workers in `scope`. They stop when the pool is dropped.
    pub(crate) fn start<'env>(scope: &'scope Scope<'scope, 'env>, threads: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Job<'scope>>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = threads.max(1);
        if threads > 1 {
            for _ in 0..threads {
                let rx = Arc::clone(&rx);
                scope.spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    job();
                });
            }
        }
        Pool {
            jobs: Mutex::new(tx),
            threads,
        }
    }

    /// Maps `items` in order, in up to `threads` parts run on the workers. Small inputs (and a
    /// one-thread pool) are mapped on the calling thread.
    pub(crate) fn map<T, R, F>(&self, items: Vec<T>, f: &'scope F) -> Vec<R>
    where
        T: Send + 'scope,
        R: Send + 'scope,
        F: Fn(T) -> R + Sync,
    {
        if self.threads <= 1 || items.len() < 64 {
            return items.into_iter().map(f).collect();
        }
        let parts = into_chunks(items, self.threads);
        let count = parts.len();
        let (done_tx, done_rx) = mpsc::channel::<(usize, std::thread::Result<Vec<R>>)>();
        let mut inline = Vec::new();
        for (i, part) in parts.into_iter().enumerate() {
            let done = done_tx.clone();
            // A panic is caught with the part and raised again on the caller's thread, so
            // the worker stays and the part is never silently missing.
            let job: Job<'scope> = Box::new(move || {
                let out = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    part.into_iter().map(f).collect::<Vec<R>>()
                }));
                let _ = done.send((i, out));
            });
            let sent = match self.jobs.lock() {
                Ok(jobs) => jobs.send(job).map_err(|e| e.0),
                Err(_) => Err(job),
            };
            if let Err(job) = sent {
                inline.push(job);
            }
        }
        drop(done_tx);
        for job in inline {
            job();
        }
        let mut results: Vec<Vec<R>> = (0..count).map(|_| Vec::new()).collect();
        for (i, out) in done_rx {
            match out {
                Ok(out) => results[i] = out,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        results.into_iter().flatten().collect()
    }
}

/// Splits `items` into `parts` vectors of nearly equal length (fewer if there are fewer items).
fn into_chunks<T>(items: Vec<T>, parts: usize) -> Vec<Vec<T>> {
    let size = items.len().div_ceil(parts.max(1)).max(1);
    let mut out = Vec::with_capacity(parts);
    let mut it = items.into_iter().peekable();
    while it.peek().is_some() {
        out.push(it.by_ref().take(size).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_in_order_on_the_workers_and_from_several_callers_at_once() {
        let square = |x: u64| x * x;
        let double = |x: u64| x * 2;
        std::thread::scope(|s| {
            let pool = Arc::new(Pool::start(s, 3));
            let (p1, p2) = (Arc::clone(&pool), Arc::clone(&pool));
            let (square, double) = (&square, &double);
            let a = s.spawn(move || p1.map((0..10_000u64).collect(), square));
            let b = s.spawn(move || p2.map((0..5_000u64).collect(), double));
            let a = a.join().unwrap_or_default();
            let b = b.join().unwrap_or_default();
            assert_eq!(a, (0..10_000u64).map(|x| x * x).collect::<Vec<_>>());
            assert_eq!(b, (0..5_000u64).map(|x| x * 2).collect::<Vec<_>>());
            assert_eq!(pool.map(vec![1u64, 2], square), vec![1, 4]);
        });
    }

    #[test]
    fn a_panicking_job_is_reported_to_the_caller_not_lost() {
        let boom = |x: u64| {
            if x == 777 {
                panic!("row 777");
            }
            x
        };
        let next = |x: u64| x + 1;
        let caught = std::thread::scope(|s| {
            let pool = Pool::start(s, 2);
            let r = std::panic::catch_unwind(AssertUnwindSafe(|| {
                pool.map((0..1_000u64).collect(), &boom)
            }));
            // The workers survive the panic and keep working.
            assert_eq!(pool.map((0..100u64).collect(), &next).len(), 100);
            r.is_err()
        });
        assert!(
            caught,
            "the panic reaches the caller instead of a shorter result"
        );
    }
}
