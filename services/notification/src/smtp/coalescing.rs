//! A stream that holds what the SMTP client writes until the client reads
//! the server's reply, then sends it in one write.
//!
//! lettre flushes after every write, so with `TCP_NODELAY` a message's
//! content and the `.` that ends it leave as two segments, and the server
//! is woken twice for one message. SMTP without PIPELINING is strictly
//! request and reply: the client waits for a reply before it depends on the
//! server having anything, so holding writes until that read (or until
//! shutdown, or until [`SEND_AT`] bytes are held) changes what goes over
//! the wire only in how it is cut into segments. Under TLS this sits below
//! the TLS layer, so the handshake and records are coalesced the same way.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Held bytes are sent without waiting for a read once there are this many
/// (a long message need not sit in memory whole before its first segment).
const SEND_AT: usize = 64 * 1024;

/// Wraps a connection; writes are held until the next read or shutdown.
#[derive(Debug)]
pub struct Coalescing<S> {
    inner: S,
    held: Vec<u8>,
    /// How much of `held` the inner stream has taken.
    sent: usize,
}

impl<S> Coalescing<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            held: Vec::new(),
            sent: 0,
        }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncWrite + Unpin> Coalescing<S> {
    /// Hands every held byte to the inner stream and flushes it.
    fn poll_send_held(&mut self, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.held.len() {
            let written =
                ready!(Pin::new(&mut self.inner).poll_write(context, &self.held[self.sent..]))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += written;
        }
        if !self.held.is_empty() {
            self.held.clear();
            self.sent = 0;
            ready!(Pin::new(&mut self.inner).poll_flush(context))?;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Coalescing<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // The reply we are about to wait for answers what we hold.
        ready!(this.poll_send_held(context))?;
        Pin::new(&mut this.inner).poll_read(context, buffer)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Coalescing<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.held.len() >= SEND_AT {
            ready!(this.poll_send_held(context))?;
        }
        this.held.extend_from_slice(buffer);
        Poll::Ready(Ok(buffer.len()))
    }

    /// Held bytes wait for the read of the reply (see the module's comment);
    /// only what was already handed over is flushed.
    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.held.is_empty() {
            Pin::new(&mut this.inner).poll_flush(context)
        } else {
            Poll::Ready(Ok(()))
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_held(context))?;
        Pin::new(&mut this.inner).poll_shutdown(context)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    async fn connected() -> (Coalescing<TcpStream>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        client.set_nodelay(true).unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (Coalescing::new(client), server)
    }

    /// Whatever the server has received within a short wait.
    async fn received_now(server: &mut TcpStream) -> Vec<u8> {
        let mut buffer = vec![0; 1024];
        match tokio::time::timeout(Duration::from_millis(200), server.read(&mut buffer)).await {
            Ok(read) => {
                buffer.truncate(read.unwrap());
                buffer
            }
            Err(_) => Vec::new(),
        }
    }

    #[tokio::test]
    async fn writes_leave_in_one_segment_when_the_reply_is_read() {
        let (mut client, mut server) = connected().await;
        client.write_all(b"message content").await.unwrap();
        client.flush().await.unwrap();
        client.write_all(b"\r\n.\r\n").await.unwrap();
        client.flush().await.unwrap();
        assert_eq!(received_now(&mut server).await, b"");

        let reply = tokio::spawn(async move {
            let mut reply = [0; 8];
            client.read_exact(&mut reply).await.unwrap();
            reply
        });
        // One read on the server gets both writes: they left together.
        assert_eq!(received_now(&mut server).await, b"message content\r\n.\r\n");
        server.write_all(b"250 ok\r\n").await.unwrap();
        assert_eq!(&reply.await.unwrap(), b"250 ok\r\n");
    }

    #[tokio::test]
    async fn shutdown_sends_what_is_held() {
        let (mut client, mut server) = connected().await;
        client.write_all(b"QUIT\r\n").await.unwrap();
        client.shutdown().await.unwrap();
        let mut received = Vec::new();
        server.read_to_end(&mut received).await.unwrap();
        assert_eq!(received, b"QUIT\r\n");
    }

    #[tokio::test]
    async fn a_long_write_is_not_held_whole() {
        let (mut client, mut server) = connected().await;
        let long = vec![b'x'; SEND_AT + 10];
        client.write_all(&long).await.unwrap();
        client.write_all(b"end").await.unwrap();
        // The first write reached the held limit, so the second sent it.
        let mut received = vec![0; SEND_AT + 10];
        tokio::time::timeout(Duration::from_secs(5), server.read_exact(&mut received))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(received, long);
        assert_eq!(received_now(&mut server).await, b"");
    }
}
