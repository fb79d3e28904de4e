//! `tributary manifest | check | verify | retention`: reproducibility from the command line.
//! `manifest` and `check` talk to a server (`--server http://HOST:PORT`); `verify` and
//! `retention` work on the database directly.

use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use serde_json::Value;

use super::client;
use crate::config::Config;
use crate::model::access::AuditEntry;
use crate::model::time::{now_micros, parse_duration};
use crate::repro::{parse_expectation, Expectation};
use crate::snapshots::{self, Probe, Sources, Target};
use crate::startup::open_store;

/// A server named by URL (`http://127.0.0.1:5000`, `https://lineage.example.com/tributary`),
/// resolved to an address. `https://` trusts the system's roots and the CA file in
/// `TRIBUTARY_CA_CERT`.
pub struct Server {
    endpoint: client::Endpoint,
    /// `Bearer <key>`, from `TRIBUTARY_API_KEY`.
    key: Option<String>,
}

/// Percent-encodes one path segment.
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Server {
    /// Resolves the URL.
    pub async fn at(url: &str) -> anyhow::Result<Self> {
        let trust = client::Trust::from_env("TRIBUTARY_CA_CERT", "TRIBUTARY_INSECURE_TLS");
        let endpoint = client::Endpoint::parse(url, "--server", &trust).await?;
        let key = std::env::var("TRIBUTARY_API_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty())
            .map(|k| format!("Bearer {}", k.trim()));
        Ok(Server { endpoint, key })
    }

    /// GETs a path; connection problems are errors, HTTP statuses are the caller's.
    /// Sends the key in `TRIBUTARY_API_KEY`, when set (a server with `auth = "all"` needs one).
    pub async fn get(&self, path: &str) -> anyhow::Result<client::Response> {
        self.send("GET", path, b"").await
    }

    /// PUTs with no body (with the key, when set).
    pub async fn put(&self, path: &str) -> anyhow::Result<client::Response> {
        self.send("PUT", path, b"").await
    }

    /// POSTs a JSON body (with the key, when set).
    pub async fn post_json(&self, path: &str, body: &[u8]) -> anyhow::Result<client::Response> {
        self.send("POST", path, body).await
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> anyhow::Result<client::Response> {
        let mut headers = vec![("Accept", "application/json")];
        if !body.is_empty() {
            headers.push(("Content-Type", "application/json"));
        }
        if let Some(key) = &self.key {
            headers.push(("Authorization", key.as_str()));
        }
        self.endpoint
            .request(method, path, &headers, body)
            .await
            .with_context(|| format!("cannot reach the server at {}", self.endpoint.url()))
    }
}

/// An answer's `message`, else its body as text.
pub(super) fn message(r: &client::Response) -> String {
    let body = r.json();
    body.get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(&r.body).into_owned())
}

/// `tributary manifest`: prints a run's manifest.
pub async fn manifest(
    server: &str,
    run: &str,
    depth: u32,
    format: &str,
) -> anyhow::Result<ExitCode> {
    if !matches!(format, "json" | "toml") {
        bail!("--format is json or toml, not '{format}'");
    }
    let server = Server::at(server).await?;
    let r = server
        .get(&format!(
            "/api/v1/jobs/runs/{}/manifest?depth={depth}&format={format}",
            segment(run)
        ))
        .await?;
    if r.status != 200 {
        eprintln!("error: {} ({})", message(&r), r.status);
        return Ok(ExitCode::FAILURE);
    }
    let text = if format == "json" {
        let value: Value = serde_json::from_slice(&r.body).context("the server sent bad JSON")?;
        serde_json::to_string_pretty(&value)? + "\n"
    } else {
        String::from_utf8(r.body).context("the server sent bad UTF-8")?
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// Looks one expectation up; `Err` carries why it is missing.
/// With `version_body`, a dataset named without a reference is answered with its current
/// version's own body (snapshot id and facets), for the storage to be asked.
async fn check_one(
    server: &Server,
    e: &Expectation,
    version_body: bool,
) -> anyhow::Result<Result<(String, Value), String>> {
    let base = format!(
        "/api/v1/namespaces/{}/datasets/{}",
        segment(&e.namespace),
        segment(&e.name)
    );
    let reference = e.tag.as_ref().or(e.version.as_ref());
    let path = match reference {
        Some(r) => format!("{base}/versions/{}", segment(r)),
        None => base.clone(),
    };
    let r = server.get(&path).await?;
    if r.status == 404 {
        return Ok(Err(message(&r)));
    }
    if r.status != 200 {
        bail!(
            "the server answered {} for {path}: {}",
            r.status,
            message(&r)
        );
    }
    let body = r.json();
    let version = body.get("version").or_else(|| body.get("currentVersion"));
    let version = version.and_then(Value::as_str).unwrap_or("none");
    if let Some(tag) = &e.tag {
        let tagged = body
            .get("versionTags")
            .and_then(Value::as_array)
            .is_some_and(|t| t.iter().any(|t| t.as_str() == Some(tag)));
        if !tagged {
            return Ok(Err(format!("no version is tagged '{tag}'")));
        }
    }
    if let Some(v) = &e.version {
        let named = body.get("version").and_then(Value::as_str) == Some(v)
            || body.get("producerVersion").and_then(Value::as_str) == Some(v);
        if !named {
            return Ok(Err(format!("no version '{v}'")));
        }
    }
    let found = format!("version {version}");
    if version_body && reference.is_none() && version != "none" {
        let r = server
            .get(&format!("{base}/versions/{}", segment(version)))
            .await?;
        if r.status == 200 {
            return Ok(Ok((found, r.json())));
        }
    }
    Ok(Ok((found, body)))
}

/// What the storage says of a dataset version the server knows (its REST answer).
async fn at_source(sources: &Sources, version: &Value) -> Probe {
    let text = |k: &str| version.get(k).and_then(Value::as_str);
    let empty = serde_json::Map::new();
    let facets = |k: &str| version.get(k).and_then(Value::as_object).unwrap_or(&empty);
    let target = Target::of(
        text("namespace").unwrap_or_default(),
        text("name").unwrap_or_default(),
        text("producerVersion"),
        &[facets("facets"), facets("outputFacets")],
    );
    snapshots::probe(sources, &target).await
}

fn describe(e: &Expectation) -> String {
    let mut s = format!("{}:{}", e.namespace, e.name);
    if let Some(t) = &e.tag {
        s.push_str(&format!("@{t}"));
    }
    if let Some(v) = &e.version {
        s.push_str(&format!("#{v}"));
    }
    s
}

/// `tributary check`: exits 0 when every expected dataset version exists, 1 listing each
/// missing one.
pub async fn check(
    server: &str,
    expect: &[String],
    inputs_of: Option<&str>,
    storage: Option<&Sources>,
) -> anyhow::Result<ExitCode> {
    let mut wanted = Vec::new();
    for e in expect {
        wanted.push(parse_expectation(e).map_err(|m| anyhow!("--expect {m}"))?);
    }
    if wanted.is_empty() && inputs_of.is_none() {
        bail!(
            "nothing to check: give --expect NAMESPACE:NAME[@TAG|#VERSION] or --inputs-of RUN_ID"
        );
    }
    let server = Server::at(server).await?;
    if let Some(run) = inputs_of {
        let r = server
            .get(&format!("/api/v1/jobs/runs/{}", segment(run)))
            .await?;
        if r.status != 200 {
            eprintln!("MISSING run {run}: {}", message(&r));
            return Ok(ExitCode::FAILURE);
        }
        for input in r.json()["inputDatasetVersions"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let id = &input["datasetVersionId"];
            wanted.push(Expectation {
                namespace: id["namespace"].as_str().unwrap_or_default().into(),
                name: id["name"].as_str().unwrap_or_default().into(),
                tag: None,
                version: id["version"].as_str().map(str::to_string),
            });
        }
    }
    let mut missing = 0;
    for e in &wanted {
        let (found, version) = match check_one(&server, e, storage.is_some()).await? {
            Ok(found) => found,
            Err(why) => {
                missing += 1;
                println!("MISSING  {}: {why}", describe(e));
                continue;
            }
        };
        let Some(sources) = storage else {
            println!("ok       {} ({found})", describe(e));
            continue;
        };
        match at_source(sources, &version).await {
            Probe::Present(what) => println!("ok       {} ({found}; {what})", describe(e)),
            Probe::Gone(why) => {
                missing += 1;
                println!("MISSING  {} ({found}) at the source: {why}", describe(e));
            }
            Probe::Unknown(why) => {
                missing += 1;
                println!("UNCHECKED {} ({found}): {why}", describe(e));
            }
        }
    }
    if missing > 0 {
        eprintln!(
            "{missing} of {} expected dataset versions missing{}",
            wanted.len(),
            if storage.is_some() {
                " or unreadable at their source"
            } else {
                ""
            }
        );
        Ok(ExitCode::FAILURE)
    } else {
        println!(
            "all {} expected dataset versions exist{}",
            wanted.len(),
            if storage.is_some() {
                " and can be read at their source"
            } else {
                ""
            }
        );
        Ok(ExitCode::SUCCESS)
    }
}

/// `tributary verify`: recomputes checksums and, with `storage`, asks the storage about every
/// version depended on; exits 1 when any checksum differs or any such snapshot is not there.
pub async fn verify(config: &Config, storage: Option<&Sources>) -> anyhow::Result<ExitCode> {
    let store = open_store(config).await?;
    let report = store.verify().await?;
    for m in &report.mismatches {
        println!("MISMATCH {} {}: {}", m.kind, m.id, m.detail);
    }
    println!(
        "checked {} events and {} dataset versions: {} mismatches",
        report.events_checked,
        report.versions_checked,
        report.mismatches.len()
    );
    let mut failed = !report.mismatches.is_empty();
    if let Some(sources) = storage {
        failed |= at_their_sources(store.as_ref(), sources).await? > 0;
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Asks the storage about every version depended on (tagged, or read by the run that wrote a
/// tagged one), printing each that is gone or could not be asked; how many those are.
async fn at_their_sources(
    store: &dyn crate::store::Store,
    sources: &Sources,
) -> anyhow::Result<usize> {
    let wanted = crate::repro::depended_on(store).await?;
    let (mut present, mut bad, mut unaskable) = (0, 0, 0);
    for d in &wanted {
        let shown = format!(
            "{}:{}#{}",
            d.namespace,
            d.name,
            d.version
                .producer_version
                .as_deref()
                .unwrap_or(&d.version.id)
        );
        match snapshots::probe_version(sources, &d.namespace, &d.name, &d.version).await {
            None => unaskable += 1,
            Some(Probe::Present(_)) => present += 1,
            Some(Probe::Gone(why)) => {
                bad += 1;
                println!("GONE     {shown} ({}): {why}", d.why);
            }
            Some(Probe::Unknown(why)) => {
                bad += 1;
                println!("UNCHECKED {shown} ({}): {why}", d.why);
            }
        }
    }
    println!(
        "{} versions depended on: {present} readable at their source, {bad} gone or not checked, {unaskable} with no snapshot the storage can be asked about",
        wanted.len()
    );
    Ok(bad)
}

/// `tributary retention`: removes (or with `dry_run` lists) what is older than `older_than`.
pub async fn retention(
    config: &Config,
    older_than: &str,
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let age = parse_duration(older_than).map_err(|m| anyhow!("--older-than {m}"))?;
    let store = open_store(config).await?;
    let r = store.retention(now_micros() - age, dry_run).await?;
    if !dry_run {
        let entry = AuditEntry::by(
            &super::keys::cli_actor(),
            "retention.run",
            format!("older than {older_than}"),
        );
        crate::store::record_audit(store.as_ref(), &entry).await;
    }
    let verb = if dry_run { "would remove" } else { "removed" };
    println!("cutoff {} ({older_than} ago)", r.cutoff);
    println!("{verb} {} raw events", r.events);
    for p in &r.partitions {
        println!("{verb} partition {p}");
    }
    println!(
        "{verb} {} runs ({} older runs kept: a kept version or run needs them)",
        r.runs, r.runs_kept
    );
    println!(
        "{verb} {} dataset versions ({} older versions kept: current, tagged or needed)",
        r.versions, r.versions_kept
    );
    println!("kept: every job version (lineage at any time still answers)");
    if dry_run {
        // What Tributary keeps is worth as much as the data behind it: say which versions
        // teams depend on are already gone where the data lives, before a rollback needs them.
        println!("versions depended on, asked at their source:");
        at_their_sources(store.as_ref(), &Sources::discover(Vec::new())).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `tributary reproduce`: what made a dataset version (a model) and how to read each of its
/// inputs' exact data again; exit 1 when any input cannot be read back exactly.
pub async fn reproduce(
    server: &str,
    target: &str,
    depth: u32,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let t = parse_expectation(target).map_err(|m| anyhow!("{m}"))?;
    let reference = t.tag.or(t.version);
    let base = format!(
        "/api/v1/namespaces/{}/datasets/{}",
        segment(&t.namespace),
        segment(&t.name)
    );
    let path = match &reference {
        Some(r) => format!("{base}/versions/{}/reproduce?depth={depth}", segment(r)),
        None => format!("{base}/reproduce?depth={depth}"),
    };
    let server = Server::at(server).await?;
    let r = server.get(&path).await?;
    if r.status != 200 {
        bail!("{target}: {}", message(&r));
    }
    let body = r.json();
    if json {
        println!("{}", serde_json::to_string_pretty(&body)?);
    } else {
        let s = |v: &Value| v.as_str().unwrap_or("").to_string();
        let m = &body["manifest"];
        println!(
            "{} version {}{}",
            s(&body["datasetId"]),
            s(&body["version"]),
            body["producerVersion"]
                .as_str()
                .map(|p| format!(" (producer version {p})"))
                .unwrap_or_default()
        );
        println!(
            "written by run {} of {}:{} ({})",
            s(&m["runId"]),
            s(&m["job"]["namespace"]),
            s(&m["job"]["name"]),
            s(&m["state"])
        );
        println!("inputs:");
        for i in body["inputs"].as_array().into_iter().flatten() {
            let exact = if i["exact"].as_bool() == Some(true) {
                "EXACT    "
            } else {
                "NOT EXACT"
            };
            let at = i["producerVersion"]
                .as_str()
                .map(|p| format!(" @ {p}"))
                .unwrap_or_default();
            println!(
                "  {exact} {}{at} [{}]: {}",
                s(&i["datasetId"]),
                s(&i["kind"]),
                s(&i["note"])
            );
            if let Some(cmd) = i["command"].as_str() {
                println!("            {cmd}");
            }
        }
    }
    Ok(if body["exact"].as_bool() == Some(true) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_parse_with_colons_in_namespaces() {
        let e = parse_expectation("postgres://db:5432:public.orders@v1.2.0").unwrap();
        assert_eq!(e.namespace, "postgres://db:5432");
        assert_eq!(e.name, "public.orders");
        assert_eq!(e.tag.as_deref(), Some("v1.2.0"));
        let e = parse_expectation("warehouse:model#abc123").unwrap();
        assert_eq!(
            (e.name.as_str(), e.version.as_deref()),
            ("model", Some("abc123"))
        );
        let e = parse_expectation("ns:table").unwrap();
        assert_eq!((e.tag, e.version), (None, None));
        for bad in ["table", ":t", "ns:", "ns:t@", "ns:t#"] {
            assert!(parse_expectation(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(segment("a b/c:d"), "a%20b%2Fc%3Ad");
        assert_eq!(segment("v1.2.0"), "v1.2.0");
    }
}
