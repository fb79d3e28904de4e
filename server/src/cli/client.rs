//! A small HTTP/1.1 client over one keep-alive TCP connection, for the CLI's server commands and
//! the benchmarks (where a heavyweight client would measure itself).

use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A connection to one server.
pub struct Connection {
    host: String,
    stream: BufReader<TcpStream>,
}

impl Connection {
    /// Connects.
    pub async fn open(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            host: addr.to_string(),
            stream: BufReader::new(stream),
        })
    }

    /// Sends a request and reads the whole answer.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Response> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.host,
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let s = self.stream.get_mut();
        s.write_all(head.as_bytes()).await?;
        s.write_all(body).await?;
        s.flush().await?;
        self.read_response().await
    }

    async fn read_line(&mut self) -> std::io::Result<String> {
        let mut line = String::new();
        if self.stream.read_line(&mut line).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        Ok(line.trim_end().to_string())
    }

    async fn read_response(&mut self) -> std::io::Result<Response> {
        let status_line = self.read_line().await?;
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("bad status line '{status_line}'"),
                )
            })?;
        let mut headers = Vec::new();
        loop {
            let line = self.read_line().await?;
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let mut body = Vec::new();
        if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            loop {
                let size = usize::from_str_radix(
                    self.read_line()
                        .await?
                        .split(';')
                        .next()
                        .unwrap_or("0")
                        .trim(),
                    16,
                )
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                let mut chunk = vec![0; size + 2];
                self.stream.read_exact(&mut chunk).await?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
            body.resize(len, 0);
            self.stream.read_exact(&mut body).await?;
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// One request on a fresh connection.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    Connection::open(addr)
        .await?
        .request(method, path, headers, body)
        .await
}

/// Resolves a plain `http://host[:port][/…]` URL (`flag` names where it came from, for the
/// error): the address to connect to and the `host[:port]` as written.
pub async fn resolve(url: &str, flag: &str) -> anyhow::Result<(SocketAddr, String)> {
    use anyhow::{anyhow, Context};
    let rest = url
        .trim_end_matches('/')
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("{flag} '{url}' must start with http://"))?;
    let host = rest.split('/').next().unwrap_or(rest).to_string();
    let with_port = if host.contains(':') {
        host.clone()
    } else {
        format!("{host}:80")
    };
    let addr = tokio::net::lookup_host(&with_port)
        .await
        .with_context(|| format!("cannot resolve '{with_port}'"))?
        .next()
        .ok_or_else(|| anyhow!("'{with_port}' resolves to no address"))?;
    Ok((addr, host))
}
