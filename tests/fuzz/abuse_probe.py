"""Sends the abuse cases of docs/RELIABILITY.md to a running server and prints, for each, the
status, the time to answer, the answer's size and the server's peak memory (VmHWM) after it.

    python3 tests/fuzz/abuse_probe.py http://127.0.0.1:5000 SERVER_PID

Standard library only. Every request goes to the URL given (run it against a server on loopback).
"""

import json
import sys
import time
import urllib.error
import urllib.request


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def send(url, path, body, content_type="application/json"):
    req = urllib.request.Request(url + path, data=body, method="POST", headers={"Content-Type": content_type})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            status, answer = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, answer = e.code, e.read()
    except (ConnectionError, urllib.error.URLError) as e:
        status, answer = f"connection: {e}", b""
    return status, time.monotonic() - started, len(answer)


def main():
    url, pid = sys.argv[1].rstrip("/"), int(sys.argv[2])
    node = sys.argv[3] if len(sys.argv) > 3 else "dataset:db:raw.in"
    aliases = " ".join(
        f'i{i}: impact(nodeId: "{node}") {{ affected {{ path node {{ id }} }} }}' for i in range(50)
    )
    doubling = "query { ...F40 }\nfragment F0 on Query { namespaces { totalCount } }\n" + "".join(
        f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}\n" for i in range(1, 41)
    )
    cases = [
        ("GraphQL: 50 aliases of impact { affected { path node { id } } }", "/api/v1/graphql",
         json.dumps({"query": "{ " + aliases + " }"}).encode()),
        ("GraphQL: fragments doubling 40 times (2 KB)", "/api/v1/graphql", json.dumps({"query": doubling}).encode()),
        ("GraphQL: 100 MB body", "/api/v1/graphql", b'{"query": "{ namespaces { totalCount } }", "x": "' + b"x" * (100 << 20) + b'"}'),
        ("GraphQL: 100,000 levels of nesting", "/api/v1/graphql",
         json.dumps({"query": "{" + "a{" * 100_000 + "}" * 100_001}).encode()),
        ("batch: [0,0,…] x 3M (6 MB)", "/api/v1/lineage/batch", b"[" + b"0," * 2_999_999 + b"0]"),
        ("batch: [0,0,…] x 10,000", "/api/v1/lineage/batch", b"[" + b"0," * 9_999 + b"0]"),
        ("event with 40,000 inputs (3 MB)", "/api/v1/lineage", json.dumps({
            "eventType": "COMPLETE", "eventTime": "2024-05-01T10:00:00Z", "producer": "https://example.com/probe",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": "0191f7c2-0000-7000-8000-0000000000ff"}, "job": {"namespace": "probe", "name": "wide"},
            "inputs": [{"namespace": "db", "name": f"wide.input_{i:05d}_with_a_long_enough_name"} for i in range(40_000)],
            "outputs": []}).encode()),
        ("event with 2,000 inputs (the most accepted)", "/api/v1/lineage", json.dumps({
            "eventType": "COMPLETE", "eventTime": "2024-05-01T10:00:00Z", "producer": "https://example.com/probe",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": "0191f7c2-0000-7000-8000-0000000000fe"}, "job": {"namespace": "probe", "name": "wide2k"},
            "inputs": [{"namespace": "db", "name": f"wide.input_{i:05d}_with_a_long_enough_name"} for i in range(2_000)],
            "outputs": [{"namespace": "db", "name": "wide.output"}]}).encode()),
    ]
    print("| case | status | seconds | answer bytes | server peak RSS after (MB) |")
    print("|---|---:|---:|---:|---:|")
    print(f"| (before) | | | | {peak_rss_mb(pid):.0f} |")
    for name, path, body in cases:
        status, took, size = send(url, path, body)
        print(f"| {name} | {status} | {took:.3f} | {size} | {peak_rss_mb(pid):.0f} |")


if __name__ == "__main__":
    main()
