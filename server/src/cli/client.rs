//! A small HTTP/1.1 client over one keep-alive connection, for the CLI's server commands, the
//! bridges and the benchmarks (where a heavyweight client would measure itself). `http://` and
//! `https://` (rustls, on the system's trust store plus a CA file the caller names), with a base
//! path, as servers behind a TLS-terminating proxy are usually reached.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
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

/// A byte stream a connection speaks over: TCP, or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A connection to one server.
pub struct Connection {
    host: String,
    stream: BufReader<Box<dyn Io>>,
    /// A body handed back with [`Connection::give_back`]: the next answer is read into it.
    spare: Vec<u8>,
}

impl Connection {
    /// Connects over plain TCP.
    pub async fn open(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            host: addr.to_string(),
            stream: BufReader::new(Box::new(stream)),
            spare: Vec::new(),
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
        // One write: head and body leave in one segment (no delayed-ACK wait on the second).
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        let s = self.stream.get_mut();
        s.write_all(&request).await?;
        s.flush().await?;
        self.read_response().await
    }

    /// Hands an answer's body back to be read into again: a caller asking for many large
    /// answers (the benchmarks) then pays for its buffer once, not once per answer.
    pub fn give_back(&mut self, body: Vec<u8>) {
        self.spare = body;
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
        let mut body = std::mem::take(&mut self.spare);
        body.clear();
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
            // Straight into the body's free capacity: no zeroing first.
            body.reserve(len);
            let mut rest = (&mut self.stream).take(len as u64);
            while body.len() < len {
                if rest.read_buf(&mut body).await? == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "connection closed inside a body",
                    ));
                }
            }
        } else if get("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"))
            && status != 204
            && status != 304
        {
            // Neither a length nor chunks: the body runs to the end of the connection.
            self.stream.read_to_end(&mut body).await?;
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

/// Whom an `https://` endpoint is trusted by: the system's roots (`SSL_CERT_FILE` and
/// `SSL_CERT_DIR` are honoured), plus the CA certificates in `ca_file` (PEM), or nobody's word at
/// all when `insecure` (a test server with a self-signed certificate).
#[derive(Debug, Clone, Default)]
pub struct Trust {
    pub ca_file: Option<PathBuf>,
    pub insecure: bool,
}

impl Trust {
    /// From the environment: `ca_var` names a CA file, `insecure_var` (`true`) turns checks off.
    pub fn from_env(ca_var: &str, insecure_var: &str) -> Trust {
        let ca_file = std::env::var_os(ca_var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let insecure = std::env::var(insecure_var)
            .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
        Trust { ca_file, insecure }
    }

    fn config(&self) -> anyhow::Result<Arc<rustls::ClientConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .context("TLS setup")?;
        let mut config = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
                .with_no_client_auth()
        } else {
            let mut roots = rustls::RootCertStore::empty();
            // Unreadable system certificates are skipped; a missing trust store only matters if
            // nothing else vouches for the server, and then the handshake says so.
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
            if let Some(file) = &self.ca_file {
                let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(file)
                    .and_then(|certs| certs.collect::<Result<_, _>>())
                    .map_err(|e| {
                        anyhow!("cannot read CA certificates from {}: {e}", file.display())
                    })?;
                if certs.is_empty() {
                    bail!("{} holds no PEM certificate", file.display());
                }
                for cert in certs {
                    roots
                        .add(cert)
                        .with_context(|| format!("a certificate in {}", file.display()))?;
                }
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// Accepts any certificate (`Trust::insecure`), still checking that the handshake's signatures
/// are sound.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A server named by URL: `http[s]://host[:port][/base]`, resolved once.
#[derive(Clone)]
pub struct Endpoint {
    addr: SocketAddr,
    /// `host[:port]` as written, for the `Host` header and messages.
    host: String,
    /// The host alone, for TLS's server name.
    name: String,
    /// A path prefix without its trailing slash (`/mlflow` behind a proxy), or empty.
    base: String,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.url())
    }
}

impl Endpoint {
    /// Parses and resolves `url` (`flag` names where it came from, for the error).
    pub async fn parse(url: &str, flag: &str, trust: &Trust) -> anyhow::Result<Endpoint> {
        let trimmed = url.trim();
        let (tls, rest) = if let Some(rest) = trimmed.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = trimmed.strip_prefix("http://") {
            (false, rest)
        } else {
            bail!("{flag} '{url}' must start with http:// or https://");
        };
        let rest = rest.trim_end_matches('/');
        let (host, base) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if host.is_empty() || host.contains('@') {
            bail!("{flag} '{url}' names no host (credentials go in the environment, not the URL)");
        }
        // `[::1]:8443`, `host:8443`, `host`.
        let (name, port) = match host.rsplit_once(':') {
            Some((name, port)) if !port.contains(']') => {
                let port: u16 = port
                    .parse()
                    .map_err(|_| anyhow!("{flag} '{url}': '{port}' is not a port"))?;
                (name, port)
            }
            _ => (host, if tls { 443 } else { 80 }),
        };
        let name = name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let addr = tokio::net::lookup_host((name.as_str(), port))
            .await
            .with_context(|| format!("cannot resolve '{host}'"))?
            .next()
            .ok_or_else(|| anyhow!("'{host}' resolves to no address"))?;
        Ok(Endpoint {
            addr,
            host: host.to_string(),
            name,
            base: base.to_string(),
            tls: if tls { Some(trust.config()?) } else { None },
        })
    }

    /// `host[:port]` as written.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The URL it was parsed from, normalized.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}{}", self.host, self.base)
    }

    /// Opens a connection (with the TLS handshake for `https://`).
    pub async fn connect(&self) -> std::io::Result<Connection> {
        let tcp = TcpStream::connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        let stream: Box<dyn Io> = match &self.tls {
            None => Box::new(tcp),
            Some(config) => {
                let name = ServerName::try_from(self.name.clone()).map_err(|e| {
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
                })?;
                let tls = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name, tcp)
                    .await?;
                Box::new(tls)
            }
        };
        Ok(Connection {
            host: self.host.clone(),
            stream: BufReader::new(stream),
            spare: Vec::new(),
        })
    }

    /// One request, on a fresh connection, to `path` under the base path.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Response> {
        let full = format!("{}{path}", self.base);
        self.connect()
            .await?
            .request(method, &full, headers, body)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urls_name_scheme_host_port_and_base_path() {
        let trust = Trust::default();
        let e = Endpoint::parse("https://127.0.0.1:8443/mlflow/", "--x", &trust)
            .await
            .unwrap();
        assert_eq!(e.addr, SocketAddr::from(([127, 0, 0, 1], 8443)));
        assert_eq!((e.host(), e.base.as_str()), ("127.0.0.1:8443", "/mlflow"));
        assert!(e.tls.is_some());
        assert_eq!(e.url(), "https://127.0.0.1:8443/mlflow");

        let e = Endpoint::parse("http://127.0.0.1", "--x", &trust)
            .await
            .unwrap();
        assert_eq!(e.addr.port(), 80);
        assert!(e.tls.is_none() && e.base.is_empty());
        let e = Endpoint::parse("https://[::1]", "--x", &trust)
            .await
            .unwrap();
        assert_eq!((e.addr.port(), e.name.as_str()), (443, "::1"));
        let e = Endpoint::parse("http://[::1]:81/", "--x", &trust)
            .await
            .unwrap();
        assert_eq!((e.addr.port(), e.host()), (81, "[::1]:81"));

        for (bad, says) in [
            ("ftp://h", "must start with http:// or https://"),
            ("127.0.0.1:5000", "must start with"),
            ("https://user:pw@h", "credentials go in the environment"),
            ("http://h:port", "'port' is not a port"),
            ("https://", "names no host"),
        ] {
            let err = Endpoint::parse(bad, "--x", &trust).await.unwrap_err();
            let text = format!("{err:#}");
            assert!(text.contains(says) && text.contains("--x"), "{bad}: {text}");
        }
    }

    #[tokio::test]
    async fn a_missing_ca_file_is_named() {
        let trust = Trust {
            ca_file: Some("/nonexistent/ca.pem".into()),
            insecure: false,
        };
        let err = Endpoint::parse("https://127.0.0.1", "--x", &trust)
            .await
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("/nonexistent/ca.pem"),
            "{err:#}"
        );
    }
}
