//! The event stream (`--events FILE`): device events as JSON lines, from every device of a process
//! to one writer thread that flushes after each batch, so that a reader tailing the file sees
//! events as they happen.

use std::io::Write;
use std::thread::JoinHandle;

use tokio::sync::mpsc;

/// Lines waiting for the writer; senders wait when it is full (bounded memory).
const QUEUE: usize = 4096;

/// Where devices send their event lines. Cheap to clone; the writer ends when every clone and
/// the [`EventWriter`] handle's sender are dropped.
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: mpsc::Sender<String>,
}

impl EventSink {
    /// Queues one JSON document (without newline). Never fails: if the writer is gone (its file
    /// failed), the line is dropped.
    pub async fn send(&self, line: String) {
        if self.tx.send(line).await.is_err() {
            tracing::debug!("event writer gone; event dropped");
        }
    }
}

/// The writer thread behind an [`EventSink`].
#[derive(Debug)]
pub struct EventWriter {
    thread: JoinHandle<std::io::Result<u64>>,
}

impl EventWriter {
    /// Starts a writer thread that appends each line to `out`, followed by `\n`, flushing after
    /// each batch of queued lines.
    ///
    /// # Errors
    /// When the thread cannot be spawned.
    pub fn start(out: Box<dyn Write + Send>) -> std::io::Result<(EventSink, Self)> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("amt-sim-events".into())
            .spawn(move || write_lines(rx, out))?;
        Ok((EventSink { tx }, Self { thread }))
    }

    /// Waits for the writer to write everything queued before every [`EventSink`] was dropped,
    /// and returns the number of lines written. Call after dropping all sinks.
    ///
    /// # Errors
    /// The first write error, or a panicked writer thread.
    pub fn finish(self) -> std::io::Result<u64> {
        self.thread
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("event writer thread panicked")))
    }
}

fn write_lines(
    mut rx: mpsc::Receiver<String>,
    mut out: Box<dyn Write + Send>,
) -> std::io::Result<u64> {
    let mut written = 0_u64;
    while let Some(line) = rx.blocking_recv() {
        writeln!(out, "{line}")?;
        written += 1;
        while let Ok(line) = rx.try_recv() {
            writeln!(out, "{line}")?;
            written += 1;
        }
        out.flush()?;
    }
    out.flush()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn lines_from_many_senders_arrive_whole_and_are_counted() -> std::io::Result<()> {
        let buf = Shared::default();
        let (sink, writer) = EventWriter::start(Box::new(buf.clone()))?;
        let mut tasks = Vec::new();
        for device in 0..4 {
            let sink = sink.clone();
            tasks.push(tokio::spawn(async move {
                for n in 0..100 {
                    sink.send(format!("{{\"device\":{device},\"n\":{n}}}"))
                        .await;
                }
            }));
        }
        for task in tasks {
            task.await.map_err(std::io::Error::other)?;
        }
        drop(sink);
        let count = tokio::task::spawn_blocking(move || writer.finish())
            .await
            .map_err(std::io::Error::other)??;
        assert_eq!(count, 400);
        let text = String::from_utf8(
            buf.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .clone(),
        )
        .map_err(std::io::Error::other)?;
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 400);
        assert!(
            lines
                .iter()
                .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
        );
        assert!(lines.contains(&"{\"device\":3,\"n\":99}"));
        Ok(())
    }
}
