//! Shared test harness: free loopback ports, server and broker processes.
#![allow(dead_code)]

use std::net::TcpListener;

/// A free TCP port on 127.0.0.1 (bound then released; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind loopback")
        .local_addr()
        .expect("local addr")
        .port()
}
