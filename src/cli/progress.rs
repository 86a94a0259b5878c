//! The progress bar of long reads: drawn on stderr by indicatif, only when stderr is a terminal
//! and only once the read has taken more than a second, and cleared when it ends. Elsewhere
//! (pipes, files, CI) nothing is printed.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use startpoint::resolve::ReadProgress;

/// How long a read runs before the bar appears.
const QUIET_FOR: Duration = Duration::from_secs(1);
const TICK: Duration = Duration::from_millis(100);

/// A bar following `progress` until dropped.
pub struct Bar {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Follows `progress` on stderr when stderr is a terminal (`None` otherwise).
pub fn follow(progress: &Arc<ReadProgress>) -> Option<Bar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (stop, progress) = (stop.clone(), progress.clone());
        std::thread::spawn(move || draw(&progress, &stop))
    };
    Some(Bar {
        stop,
        thread: Some(thread),
    })
}

fn draw(progress: &ReadProgress, stop: &AtomicBool) {
    let started = Instant::now();
    while started.elapsed() < QUIET_FOR {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep(TICK);
    }
    // Start from where the reading is, so that the rate counts only what comes after.
    let now = progress.snapshot();
    let bar = indicatif::ProgressBar::new(now.bytes_total.max(now.bytes_read))
        .with_position(now.bytes_read);
    bar.reset_eta();
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} at {binary_bytes_per_sec}, {eta} left",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    while !stop.load(Ordering::Relaxed) {
        let now = progress.snapshot();
        bar.set_length(now.bytes_total.max(now.bytes_read));
        bar.set_position(now.bytes_read);
        bar.set_message(format!(
            "reading binlog: file {}/{}",
            (now.files_read + 1).min(now.files_total.max(1)),
            now.files_total
        ));
        std::thread::sleep(TICK);
    }
    bar.finish_and_clear();
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
