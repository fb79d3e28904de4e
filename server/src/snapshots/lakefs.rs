//! lakeFS: a commit can be read while lakeFS still has it (`GET
//! /api/v1/repositories/{repository}/commits/{commitId}`). The endpoint and credentials are
//! lakectl's environment variables.

use super::Probe;

/// The lakeFS API.
#[derive(Debug, Clone)]
pub struct LakeFs {
    /// `http(s)://host:port`, without `/api/v1`.
    pub endpoint: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl LakeFs {
    /// From `LAKECTL_SERVER_ENDPOINT_URL`, `LAKECTL_CREDENTIALS_ACCESS_KEY_ID` and
    /// `LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY`; `None` without an endpoint.
    pub fn from_env() -> Option<LakeFs> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let endpoint = var("LAKECTL_SERVER_ENDPOINT_URL")?;
        Some(LakeFs {
            endpoint: endpoint
                .trim_end_matches('/')
                .trim_end_matches("/api/v1")
                .to_string(),
            access_key_id: var("LAKECTL_CREDENTIALS_ACCESS_KEY_ID"),
            secret_access_key: var("LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY"),
        })
    }

    /// Whether `commit` is in `repository`.
    pub async fn probe(&self, repository: &str, commit: &str) -> Probe {
        let segment = |s: &str| -> bool {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !segment(repository) || !segment(commit) {
            return Probe::Gone(format!(
                "'{repository}' / '{commit}' is not a lakeFS repository and commit id"
            ));
        }
        let url = format!(
            "{}/api/v1/repositories/{repository}/commits/{commit}",
            self.endpoint
        );
        super::tls();
        let client = match reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
        {
            Ok(c) => c,
            Err(e) => return Probe::Unknown(format!("cannot make an HTTP client: {e}")),
        };
        let mut request = client.get(&url);
        if let Some(key) = &self.access_key_id {
            request = request.basic_auth(key, self.secret_access_key.as_deref());
        }
        match request.send().await {
            Ok(r) if r.status().is_success() => {
                Probe::Present(format!("lakeFS commit {commit} in {repository}"))
            }
            Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => Probe::Gone(format!(
                "lakeFS has no commit {commit} in repository {repository} (garbage-collected or never there)"
            )),
            Ok(r) => Probe::Unknown(format!("lakeFS answered {} for {url}", r.status())),
            Err(e) => Probe::Unknown(format!("cannot reach lakeFS at {}: {e}", self.endpoint)),
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Answers lakeFS's commit lookup as lakeFS does: 200 for the one commit it has, 404
    /// otherwise, 401 without the credentials.
    async fn lakefs() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut c, _) = listener.accept().await.unwrap();
                let mut buf = vec![0; 4096];
                let n = c.read(&mut buf).await.unwrap();
                let request = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
                // base64("key:secret"), lowercased with the rest of the request.
                let status = if !request.contains("authorization: basic a2v5onnly3jlda==") {
                    "401 Unauthorized"
                } else if request.starts_with("get /api/v1/repositories/lake/commits/c0ffee0123 ") {
                    "200 OK"
                } else {
                    "404 Not Found"
                };
                let _ = c
                    .write_all(
                        format!("HTTP/1.1 {status}\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}")
                            .as_bytes(),
                    )
                    .await;
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn a_commit_is_asked_of_the_lakefs_api() {
        let endpoint = lakefs().await;
        let api = LakeFs {
            endpoint: endpoint.clone(),
            access_key_id: Some("key".into()),
            secret_access_key: Some("secret".into()),
        };
        assert!(matches!(
            api.probe("lake", "c0ffee0123").await,
            Probe::Present(_)
        ));
        assert!(
            matches!(api.probe("lake", "deadbeef").await, Probe::Gone(w) if w.contains("no commit deadbeef"))
        );
        assert!(matches!(api.probe("lake", "../x").await, Probe::Gone(_)));
        let anonymous = LakeFs {
            endpoint,
            access_key_id: None,
            secret_access_key: None,
        };
        assert!(
            matches!(anonymous.probe("lake", "c0ffee0123").await, Probe::Unknown(w) if w.contains("401"))
        );
    }
}
