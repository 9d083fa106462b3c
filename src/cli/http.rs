//! The one plain-HTTP client of the command line (a scorer on a trusted network: `promote
//! --scorer`, `bench replicas`): one request on a fresh connection, JSON in, (status, body) out.

use std::io::{Read, Write};
use std::time::Duration;

use anyhow::Context;

/// `method path` at `host:port` with these headers (besides host, connection, content type and
/// length) and a JSON body; waits at most `timeout` for the answer.
pub fn call(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    timeout: Duration,
) -> anyhow::Result<(u16, String)> {
    let mut s =
        std::net::TcpStream::connect(host).with_context(|| format!("connecting to {host}"))?;
    s.set_read_timeout(Some(timeout))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes())?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("no HTTP status in the answer of {host}"))?;
    let reply = raw
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Ok((status, reply))
}
