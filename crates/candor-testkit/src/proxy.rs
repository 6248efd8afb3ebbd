//! A TCP proxy a test can cut, to make a server unreachable without stopping
//! the shared one.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use candor_platform::sync::lock;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Forwards `127.0.0.1:<port>` to an upstream address. [`TcpProxy::cut`]
/// closes every forwarded connection and refuses new ones (they are
/// accepted and closed at once) until [`TcpProxy::restore`].
#[derive(Debug)]
pub struct TcpProxy {
    address: SocketAddr,
    state: Arc<ProxyState>,
    accept_task: JoinHandle<()>,
}

#[derive(Debug)]
struct ProxyState {
    upstream: SocketAddr,
    connections: Mutex<Connections>,
}

#[derive(Debug)]
struct Connections {
    cut: bool,
    /// Cancelled on `cut`; every forwarded connection holds a child of it.
    token: CancellationToken,
}

impl TcpProxy {
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the test proxy")?;
        let address = listener.local_addr()?;
        let state = Arc::new(ProxyState {
            upstream,
            connections: Mutex::new(Connections {
                cut: false,
                token: CancellationToken::new(),
            }),
        });
        let accept_task = tokio::spawn(accept_loop(listener, state.clone()));
        Ok(Self {
            address,
            state,
            accept_task,
        })
    }

    /// Where clients connect.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Drops every current connection and refuses new ones.
    pub fn cut(&self) {
        let mut connections = lock(&self.state.connections);
        connections.cut = true;
        connections.token.cancel();
        connections.token = CancellationToken::new();
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        lock(&self.state.connections).cut = false;
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept_task.abort();
        self.cut();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<ProxyState>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let token = {
            let connections = lock(&state.connections);
            if connections.cut {
                drop(client);
                continue;
            }
            connections.token.child_token()
        };
        tokio::spawn(forward(client, state.upstream, token));
    }
}

async fn forward(mut client: TcpStream, upstream: SocketAddr, cut: CancellationToken) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        () = cut.cancelled() => {}
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
    }
    // Dropping both ends closes them; the client sees the connection die.
}
