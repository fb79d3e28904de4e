//! Corpus events mutated the way a hostile or broken producer would (NUL characters, names past
//! the limits, deep nesting, huge arrays, wrong types), posted one by one and in batches: every
//! answer is a 2xx, or a 4xx in the one error shape; never a 5xx. Deterministic: a fixed seed
//! drives the mutations, so a failure names a case that can be replayed.

mod common;

use common::{Db, TestApp};
use serde_json::{json, Value};

/// A small deterministic generator (xorshift64*), so the test needs no extra crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Every JSON pointer in a document.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, item) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(item, p, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(item, p, out);
            }
        }
        _ => {}
    }
}

/// A value nested `depth` arrays deep.
fn nested(depth: usize) -> Value {
    let mut v = json!("x");
    for _ in 0..depth {
        v = json!([v]);
    }
    v
}

/// One mutation of the value at a random place in the event.
fn mutate(event: &mut Value, rng: &mut Rng) -> String {
    let mut all = Vec::new();
    pointers(event, String::new(), &mut all);
    let Some(at) = all.get(rng.below(all.len())).cloned() else {
        return "nothing to mutate".into();
    };
    let target = event.pointer_mut(&at).expect("pointer from the event");
    let what = rng.below(9);
    *target = match what {
        0 => json!(format!("a\u{0}b{}", target.as_str().unwrap_or(""))),
        1 => json!("n".repeat(1_000 + rng.below(5_000))),
        2 => nested(20 + rng.below(200)),
        3 => json!((0..2_500)
            .map(|i| json!({"namespace": "db", "name": format!("t{i}")}))
            .collect::<Vec<_>>()),
        4 => json!(rng.next() as i64),
        5 => json!([target.clone(), target.clone()]),
        6 => json!({"nested": target.clone()}),
        7 => Value::Null,
        _ => json!("\u{1}\u{7f}\u{fffd}é中"),
    };
    format!("mutation {what} at {at}")
}

fn assert_error_shape(status: u16, body: &[u8], case: &str) {
    assert!(
        (200..300).contains(&status) || (400..500).contains(&status),
        "{case}: {status} {}",
        String::from_utf8_lossy(body)
    );
    if status >= 400 {
        let v: Value = serde_json::from_slice(body).unwrap_or_else(|_| panic!("{case}: not JSON"));
        assert_eq!(v["code"], json!(status), "{case}: {v}");
        assert!(v["message"].is_string(), "{case}: {v}");
        assert!(v["errors"].is_array(), "{case}: {v}");
    }
}

async fn mutated_corpus_events_get_only_2xx_or_4xx(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let Some(files) = common::corpus_files("valid") else {
        return;
    };
    let events: Vec<Value> = files
        .iter()
        .map(|f| serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap())
        .collect();
    let mut rng = Rng(0x7472_6962_7574_6172);
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut batch = Vec::new();
    for round in 0..400 {
        let base = rng.below(events.len());
        let mut event = events[base].clone();
        let mut case = format!("round {round}, {}", files[base].display());
        for _ in 0..1 + rng.below(3) {
            case.push_str(&format!("; {}", mutate(&mut event, &mut rng)));
        }
        let r = app.post_event(&event).await;
        assert_error_shape(r.status, &r.body, &case);
        *statuses.entry(r.status).or_default() += 1;
        batch.push(event);
        if batch.len() == 20 {
            let body = Value::Array(std::mem::take(&mut batch)).to_string();
            let r = app
                .request("POST", "/api/v1/lineage/batch", &[], body.as_bytes())
                .await;
            assert!(
                matches!(r.status, 200 | 207 | 400),
                "batch at {round}: {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            );
        }
    }
    eprintln!("mutated events: {statuses:?}");
    assert!(
        statuses.keys().any(|s| *s >= 400),
        "no mutation was refused"
    );
    assert!(
        statuses.keys().any(|s| *s < 300),
        "no mutation was accepted"
    );
    // The server is whole afterwards: its reads answer.
    assert_eq!(app.get("/api/v1/namespaces").await.status, 200);
    assert_eq!(app.get("/readyz").await.status, 200);
}

on_both_backends!(mutated_corpus_events_get_only_2xx_or_4xx);
