//! A long-running component (`processor::run`, `sink::run`, `connect::run_observed`) as a
//! task of the caller's runtime, stopped through its shutdown future as SIGTERM would stop
//! it, so it finishes its batch or poll and commits. The demo, the bench and the tests run
//! components this way.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The shutdown future handed to a component: resolves when it is asked to stop, or when
/// its [`StoppableTask`] is dropped (the caller failed).
pub struct Shutdown(oneshot::Receiver<()>);

impl Future for Shutdown {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(context).map(|_| ())
    }
}

/// A running component: its stop signal and its task.
pub struct StoppableTask<E> {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), E>>,
}

impl<E: Send + 'static> StoppableTask<E> {
    /// Spawns the component `run` returns for its shutdown future.
    pub fn spawn<F>(run: impl FnOnce(Shutdown) -> F) -> Self
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel();
        StoppableTask {
            stop,
            task: tokio::spawn(run(Shutdown(stopped))),
        }
    }

    /// Whether it ended by itself: a component runs until stopped, so this is a failure.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Asks it to stop, waits, and returns how it ended; a panic in it goes on here.
    pub async fn stop(self) -> Result<(), E> {
        // The task may already have ended (with an error): then nobody listens any more.
        let _ = self.stop.send(());
        self.task
            .await
            .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
    }
}
