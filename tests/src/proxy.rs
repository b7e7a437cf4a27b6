//! A TCP proxy a test can cut and restore, to take a store "down" without touching the shared
//! server (PostgreSQL cannot be started as root by a test, so it is put behind this instead).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Forwards `127.0.0.1:port` to `target` while up.
pub struct CuttableProxy {
    pub port: u16,
    target: SocketAddr,
    up: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl CuttableProxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (up, _) = watch::channel(true);
        let mut proxy = Self {
            port,
            target,
            up,
            task: None,
        };
        proxy.task = Some(proxy.serve(listener));
        proxy
    }

    fn serve(&self, listener: TcpListener) -> tokio::task::JoinHandle<()> {
        let target = self.target;
        let up = Arc::new(self.up.subscribe());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut down = (*up).clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = down.wait_for(|is_up| !is_up) => {}
                    }
                });
            }
        })
    }

    /// Closes every connection and stops listening: the store is unreachable.
    pub async fn cut(&mut self) {
        self.up.send_replace(false);
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port.
    pub async fn restore(&mut self) {
        self.up.send_replace(true);
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("rebind the proxy port");
        self.task = Some(self.serve(listener));
    }
}
