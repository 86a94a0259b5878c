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
pub(super) struct Bar {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Follows `progress` on stderr when stderr is a terminal (`None` otherwise).
pub(super) fn follow(progress: &Arc<ReadProgress>) -> Option<Bar> {
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
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {prefix}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    // The rate and the time left are this bar's own, from the bytes read since it appeared
    // (indicatif's would count the reading before it as done in no time).
    let (shown_at, read_before) = (Instant::now(), progress.snapshot().bytes_read);
    while !stop.load(Ordering::Relaxed) {
        let now = progress.snapshot();
        bar.set_length(now.bytes_total.max(now.bytes_read));
        bar.set_position(now.bytes_read);
        bar.set_message(format!(
            "reading binlog: file {}/{}",
            (now.files_read + 1).min(now.files_total.max(1)),
            now.files_total
        ));
        let seconds = shown_at.elapsed().as_secs_f64();
        let rate = now.bytes_read.saturating_sub(read_before) as f64 / seconds.max(0.001);
        if rate > 0.0 {
            let left = now.bytes_total.saturating_sub(now.bytes_read) as f64 / rate;
            bar.set_prefix(format!(
                "at {:.0} MiB/s, {} left",
                rate / f64::from(1 << 20),
                humantime::format_duration(Duration::from_secs(left.ceil() as u64))
            ));
        }
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
