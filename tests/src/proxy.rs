//! A TCP proxy a test can cut, hang and restore, to take a store "down" (or make it hang)
//! without touching the shared server (PostgreSQL cannot be started as root by a test, so it
//! is put behind this instead).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Forwards.
    Up,
    /// Accepts and holds connections but forwards nothing either way: a store that hangs.
    Hung,
    /// Closed, not listening: a store that is down.
    Down,
}

/// Forwards `127.0.0.1:port` to `target` while up.
pub struct CuttableProxy {
    pub port: u16,
    target: SocketAddr,
    mode: watch::Sender<Mode>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl CuttableProxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (mode, _) = watch::channel(Mode::Up);
        let mut proxy = Self {
            port,
            target,
            mode,
            task: None,
        };
        proxy.task = Some(proxy.serve(listener));
        proxy
    }

    fn serve(&self, listener: TcpListener) -> tokio::task::JoinHandle<()> {
        let target = self.target;
        let mode = Arc::new(self.mode.subscribe());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut mode = (*mode).clone();
                tokio::spawn(async move {
                    // A connection made while hung waits, unanswered, for the proxy to heal.
                    let Ok(now) = mode.wait_for(|m| *m != Mode::Hung).await.map(|m| *m) else {
                        return;
                    };
                    if now == Mode::Down {
                        return;
                    }
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = mode.wait_for(|m| *m != Mode::Up) => {}
                    }
                    drop(outbound);
                    // Hung: the client's socket stays open and silent until healed or cut;
                    // then it is closed, as a restarted server would.
                    let _ = mode.wait_for(|m| *m != Mode::Hung).await;
                });
            }
        })
    }

    /// Closes every connection and stops listening: the store is unreachable.
    pub async fn cut(&mut self) {
        self.mode.send_replace(Mode::Down);
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Keeps every connection (and accepts new ones) but forwards nothing: the store hangs.
    pub async fn hang(&mut self) {
        self.mode.send_replace(Mode::Hung);
    }

    /// Forwards again: listens again on the same port after a cut; after a hang, the held
    /// connections are closed and new ones forwarded.
    pub async fn restore(&mut self) {
        self.mode.send_replace(Mode::Up);
        if self.task.is_none() {
            let listener = TcpListener::bind(("127.0.0.1", self.port))
                .await
                .expect("rebind the proxy port");
            self.task = Some(self.serve(listener));
        }
    }
}
