//! Ending the running step's process when kslink is interrupted (`SIGINT`, `SIGTERM`,
//! `SIGHUP`), so that Ctrl-C or `timeout` never leaves a linker or a stage running on its
//! own. Every step writes its outputs by renaming a finished file into place, so what an
//! interrupted step leaves is never taken for done: the next run resumes from it.

use std::io;
use std::process::Output;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use signal_hook::consts::{SIGABRT, SIGBUS, SIGHUP, SIGINT, SIGKILL, SIGSEGV, SIGTERM};
use signal_hook::iterator::Signals;

/// The signals that end a run, and the process of the step that is running.
pub struct Interrupts {
    /// The last signal caught (0: none).
    caught: Arc<AtomicI32>,
    running: Arc<Mutex<Option<Arc<duct::Handle>>>>,
}

impl Interrupts {
    /// Catches the signals from now on, in a thread that ends the running step's process.
    pub fn watch() -> io::Result<Interrupts> {
        let caught = Arc::new(AtomicI32::new(0));
        let running: Arc<Mutex<Option<Arc<duct::Handle>>>> = Arc::new(Mutex::new(None));
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        let (caught_by, running_in) = (Arc::clone(&caught), Arc::clone(&running));
        std::thread::spawn(move || {
            for signal in signals.forever() {
                caught_by.store(signal, Ordering::SeqCst);
                if let Some(handle) = running_in.lock().expect("the running step").as_ref() {
                    let _ = handle.kill();
                }
            }
        });
        Ok(Interrupts { caught, running })
    }

    /// The signal caught, if any.
    pub fn caught(&self) -> Option<i32> {
        match self.caught.load(Ordering::SeqCst) {
            0 => None,
            signal => Some(signal),
        }
    }

    /// Runs `expression` to its end, or until a signal is caught: then its process is ended
    /// and the result is `Err(signal)`.
    pub fn run(&self, expression: duct::Expression) -> Result<io::Result<Output>, i32> {
        if let Some(signal) = self.caught() {
            return Err(signal);
        }
        let handle = match expression.start() {
            Ok(handle) => Arc::new(handle),
            Err(err) => return Ok(Err(err)),
        };
        *self.running.lock().expect("the running step") = Some(Arc::clone(&handle));
        // A signal caught before the handle was stored finds no process to end: the step
        // runs to its end, and the run stops after it.
        let output = handle.wait().cloned();
        *self.running.lock().expect("the running step") = None;
        match self.caught() {
            Some(signal) => Err(signal),
            None => Ok(output),
        }
    }
}

/// A signal's name, for messages.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        SIGKILL => "SIGKILL",
        SIGSEGV => "SIGSEGV",
        SIGABRT => "SIGABRT",
        SIGBUS => "SIGBUS",
        _ => "a signal",
    }
}
