//! Simulated vendor controllers (test fixtures, written from the public
//! protocol facts and independent of bangtin's codecs) and the round trips
//! that drive bangtin's codecs against them over loopback.

pub mod colorlight_rx;
pub mod hd2020_card;
pub mod huidu_card;

mod roundtrip;
mod transport;

/// Binds a loopback port and serves every connection with `serve`.
pub async fn listen<F, Fut>(serve: F) -> std::net::SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream));
        }
    });
    addr
}
