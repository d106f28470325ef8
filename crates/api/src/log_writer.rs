//! Where the server's log lines go: stderr, with the per-request lines
//! ([`crate::request_span`]) written off the request path.
//!
//! Writing each request's line to stderr on the request's own thread cost a `write`
//! system call per request, contended between the runtime's workers: about a fifth
//! of a cached read's throughput on two cores at 16 clients (a JSON line, stderr to
//! a file). Here a request line is appended to a buffer and one thread writes what
//! gathered over [`GATHER`] in a single call. Every other line — start-up, warnings, the
//! engine's lines, a 5xx's request line — is written at once on its own thread,
//! after whatever request lines are still queued, so the log keeps its order and
//! the last line before exit ("drained; bye") brings every queued one out with it.
//!
//! When stderr does not keep up and [`MAX_QUEUED`] bytes are waiting, request lines
//! are written at once too: the log slows requests down rather than growing
//! without bound, as a blocked stderr always did. Lines still queued when the
//! process dies (a crash, SIGKILL) are lost: the last [`GATHER`] of request lines
//! at most.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// Bytes of request lines that may wait for the writer thread.
pub const MAX_QUEUED: usize = 1 << 20;

/// How long the writer thread lets lines gather once one is queued: one write
/// (and at most one wake-up of the thread) per this, not per line — waking it
/// for every line cost more than the writes it saved.
pub const GATHER: std::time::Duration = std::time::Duration::from_millis(5);

/// The server's log destination: `tracing_subscriber::fmt().with_writer(stderr())`.
pub fn stderr() -> LogWriter {
    LogWriter {
        shared: Arc::new(Shared::new(Box::new(io::stderr()))),
    }
}

/// Makes a writer for each log line: queued for a request line, direct otherwise.
#[derive(Clone)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

struct Shared {
    queued: Mutex<Queue>,
    /// Signalled when a line is queued while the writer thread waits.
    wake: Condvar,
    /// Stderr, held while anything is written to it, so lines come out in order.
    out: Mutex<Box<dyn Write + Send>>,
    /// The writer thread, started with the first queued line.
    thread: OnceLock<()>,
}

#[derive(Default)]
struct Queue {
    bytes: Vec<u8>,
    /// The writer thread waits on [`Shared::wake`] (and is woken only then).
    waiting: bool,
}

/// A poisoned lock (a panic while logging) still guards valid bytes.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn new(out: Box<dyn Write + Send>) -> Self {
        Shared {
            queued: Mutex::default(),
            wake: Condvar::new(),
            out: Mutex::new(out),
            thread: OnceLock::new(),
        }
    }

    /// Writes the queued lines, then `line`, holding the output.
    fn write_now(&self, line: &[u8]) -> io::Result<()> {
        let mut out = lock(&self.out);
        let queued = std::mem::take(&mut lock(&self.queued).bytes);
        out.write_all(&queued)?;
        out.write_all(line)
    }

    /// Queues a line for the writer thread; false when the queue is full.
    fn queue(self: &Arc<Self>, line: &[u8]) -> bool {
        let mut queued = lock(&self.queued);
        if queued.bytes.len() + line.len() > MAX_QUEUED {
            return false;
        }
        let first = queued.bytes.is_empty();
        queued.bytes.extend_from_slice(line);
        let wake = std::mem::take(&mut queued.waiting);
        drop(queued);
        if first {
            self.start();
        }
        if wake {
            self.wake.notify_one();
        }
        true
    }

    fn start(self: &Arc<Self>) {
        self.thread.get_or_init(|| {
            let shared = Arc::clone(self);
            let spawned = std::thread::Builder::new()
                .name("osmosis-log".into())
                .spawn(move || shared.write_loop());
            // Without the thread, queued lines go out with the next direct one;
            // nothing better to do with a failure to log.
            drop(spawned);
        });
    }

    fn write_loop(&self) {
        let mut batch = Vec::new();
        loop {
            let mut queued = lock(&self.queued);
            while queued.bytes.is_empty() {
                queued.waiting = true;
                queued = self.wake.wait(queued).unwrap_or_else(|e| e.into_inner());
            }
            queued.waiting = false;
            drop(queued);
            std::thread::sleep(GATHER);
            let mut out = lock(&self.out);
            std::mem::swap(&mut batch, &mut lock(&self.queued).bytes);
            let _ = out.write_all(&batch);
            drop(out);
            batch.clear();
        }
    }
}

/// One log line's writer (the formatter writes each line whole, once).
pub struct Line<'a> {
    shared: &'a Arc<Shared>,
    queue: bool,
}

impl Write for Line<'_> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        if !(self.queue && self.shared.queue(line)) {
            self.shared.write_now(line)?;
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line {
            shared: &self.shared,
            queue: false,
        }
    }

    /// Request lines below `warn` are queued; every other line is written at once.
    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line<'a> {
        Line {
            shared: &self.shared,
            queue: meta.target() == crate::request_span::TARGET
                && matches!(*meta.level(), Level::INFO | Level::DEBUG | Level::TRACE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output the test can read.
    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<u8>>>);

    impl Write for Seen {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Seen {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn writer() -> (LogWriter, Seen) {
        let seen = Seen::default();
        let writer = LogWriter {
            shared: Arc::new(Shared::new(Box::new(seen.clone()))),
        };
        (writer, seen)
    }

    fn line(writer: &LogWriter, queue: bool, text: &str) {
        Line {
            shared: &writer.shared,
            queue,
        }
        .write_all(text.as_bytes())
        .unwrap();
    }

    #[test]
    fn queued_lines_come_out_before_a_later_direct_one() {
        let (writer, seen) = writer();
        for n in 0..1000 {
            line(&writer, true, &format!("request {n}\n"));
        }
        line(&writer, false, "bye\n");
        let text = seen.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1001, "{text}");
        for (n, l) in lines[..1000].iter().enumerate() {
            assert_eq!(*l, format!("request {n}"));
        }
        assert_eq!(lines[1000], "bye");
    }

    #[test]
    fn the_writer_thread_writes_queued_lines_by_itself() {
        let (writer, seen) = writer();
        line(&writer, true, "request\n");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while seen.text() != "request\n" {
            assert!(std::time::Instant::now() < deadline, "never written");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    #[test]
    fn a_full_queue_writes_at_once() {
        let (writer, seen) = writer();
        writer
            .shared
            .queued
            .lock()
            .unwrap()
            .bytes
            .resize(MAX_QUEUED, b'x');
        assert!(!writer.shared.queue(b"one more\n"));
        line(&writer, true, "one more\n");
        assert!(seen.text().ends_with("one more\n"));
    }
}
