//! The knowledge base: resolved incidents, found again by a deterministic similarity.
//!
//! An [`IncidentRecord`] keeps a [`Fingerprint`] (anomalous signals with their direction, the
//! services involved, log templates, change kinds), the confirmed cause, the actions taken,
//! whether the fix held and operator feedback. [`similarity`] is a weighted Jaccard index
//! over the fingerprint's parts (signals 0.5, services 0.2, log templates 0.2, change kinds
//! 0.1), so the same fingerprints always give the same matches. Matches become ranking
//! priors ([`priors_from`]), examples in prompts, and a policy input ("this fix did not hold
//! last time").
//!
//! ```
//! use oddsight_investigate::kb::{Fingerprint, IncidentRecord, InMemoryKnowledgeBase, KnowledgeBase};
//! use oddsight_investigate::Category;
//! let kb = InMemoryKnowledgeBase::new();
//! let fp = Fingerprint { signals: vec!["cart_cpu_up".into()], services: vec!["cart".into()], ..Default::default() };
//! kb.record(IncidentRecord::new("inc-1", fp.clone(), "cart", "cpu", Category::Cpu))?;
//! let found = kb.similar(&fp, 3)?;
//! assert_eq!(found[0].1, 1.0);
//! # Ok::<(), oddsight_investigate::Error>(())
//! ```

use crate::case::{Category, ChangeKind};
use crate::error::{Error, Result};
use crate::rank::Prior;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

/// What an incident looked like.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Anomalous signals as `<service>_<metric>_<up|down>`.
    pub signals: Vec<String>,
    /// Services with anomalous signals.
    pub services: Vec<String>,
    /// Log templates seen more after the onset than before (see [`log_template`]).
    pub log_templates: Vec<String>,
    /// Kinds of changes shortly before the onset.
    pub change_kinds: Vec<ChangeKind>,
}

/// A resolved incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentRecord {
    /// Identifier.
    pub id: String,
    /// What it looked like.
    pub fingerprint: Fingerprint,
    /// Confirmed root-cause service.
    pub service: String,
    /// Confirmed root-cause metric.
    pub metric: String,
    /// Confirmed category.
    pub category: Category,
    /// Action kinds taken.
    #[serde(default)]
    pub actions: Vec<String>,
    /// Whether the fix held (`None`: unknown).
    #[serde(default)]
    pub fix_held: Option<bool>,
    /// Operator feedback.
    #[serde(default)]
    pub feedback: Option<String>,
}

impl IncidentRecord {
    /// A record with no actions, unknown outcome and no feedback.
    pub fn new(
        id: impl Into<String>,
        fingerprint: Fingerprint,
        service: impl Into<String>,
        metric: impl Into<String>,
        category: Category,
    ) -> Self {
        IncidentRecord {
            id: id.into(),
            fingerprint,
            service: service.into(),
            metric: metric.into(),
            category,
            actions: Vec::new(),
            fix_held: None,
            feedback: None,
        }
    }
}

fn jaccard<T: Ord>(a: &[T], b: &[T]) -> Option<f64> {
    let a: BTreeSet<&T> = a.iter().collect();
    let b: BTreeSet<&T> = b.iter().collect();
    let union = a.union(&b).count();
    (union > 0).then(|| a.intersection(&b).count() as f64 / union as f64)
}

/// Weighted Jaccard similarity of two fingerprints in `[0, 1]`; parts empty on both sides
/// drop out.
pub fn similarity(a: &Fingerprint, b: &Fingerprint) -> f64 {
    let parts = [
        (0.5, jaccard(&a.signals, &b.signals)),
        (0.2, jaccard(&a.services, &b.services)),
        (0.2, jaccard(&a.log_templates, &b.log_templates)),
        (0.1, jaccard(&a.change_kinds, &b.change_kinds)),
    ];
    let (num, den) = parts.iter().fold((0.0, 0.0), |(n, d), (w, s)| match s {
        Some(s) => (n + w * s, d + w),
        None => (n, d),
    });
    if den > 0.0 { num / den } else { 0.0 }
}

/// A log message's template: numbers, hex ids, quoted strings and masked identifiers become
/// `<*>`, so that lines differing only in values share a template.
///
/// ```
/// use oddsight_investigate::kb::log_template;
/// assert_eq!(log_template("upstream cart timed out after 2790ms"), "upstream cart timed out after <*>ms");
/// assert_eq!(log_template("from <ip-3> id 0x1f"), "from <*> id <*>");
/// ```
pub fn log_template(message: &str) -> String {
    let mut out = Vec::new();
    for word in message.split_whitespace() {
        let w = word.trim_end_matches([',', '.', ';', ':', ')']);
        let tail = &word[w.len()..];
        let digits = w.chars().filter(|c| c.is_ascii_digit()).count();
        let templ = if (w.starts_with('<') && w.ends_with('>') && w.len() > 2)
            || w.starts_with("0x")
            || (w.starts_with('"') && w.ends_with('"'))
            || (digits > 0 && digits * 2 >= w.chars().filter(|c| c.is_ascii_alphanumeric()).count())
        {
            // Keep a unit suffix (`2790ms` → `<*>ms`).
            let unit: String = w
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphabetic() || *c == '%')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if !unit.is_empty()
                && unit.len() <= 3
                && w.len() > unit.len()
                && !w.starts_with("0x")
                && !w.starts_with('<')
            {
                format!("<*>{unit}")
            } else {
                "<*>".to_string()
            }
        } else {
            w.to_string()
        };
        out.push(format!("{templ}{tail}"));
    }
    out.join(" ")
}

/// Ranking priors from similar incidents: each match blames its confirmed service and
/// category with strength `similarity` (halved when the fix did not hold).
pub fn priors_from(matches: &[(IncidentRecord, f64)]) -> Vec<Prior> {
    matches
        .iter()
        .map(|(r, s)| Prior {
            service: r.service.clone(),
            category: Some(r.category),
            strength: if r.fix_held == Some(false) { s * 0.5 } else { *s },
            source: format!("incident {} (similarity {s:.2})", r.id),
        })
        .collect()
}

/// A store of resolved incidents.
pub trait KnowledgeBase: Send + Sync + std::fmt::Debug {
    /// The `k` most similar incidents with their similarity, best first (ties by id); only
    /// matches with similarity > 0.
    ///
    /// # Errors
    /// Storage errors.
    fn similar(&self, fingerprint: &Fingerprint, k: usize) -> Result<Vec<(IncidentRecord, f64)>>;

    /// Records a resolved incident (a record with an existing id replaces it).
    ///
    /// # Errors
    /// Storage errors.
    fn record(&self, record: IncidentRecord) -> Result<()>;
}

fn top_k(records: &[IncidentRecord], fp: &Fingerprint, k: usize) -> Vec<(IncidentRecord, f64)> {
    let mut v: Vec<(IncidentRecord, f64)> =
        records.iter().map(|r| (r.clone(), similarity(fp, &r.fingerprint))).filter(|(_, s)| *s > 0.0).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.id.cmp(&b.0.id)));
    v.truncate(k);
    v
}

fn upsert(records: &mut Vec<IncidentRecord>, record: IncidentRecord) {
    match records.iter_mut().find(|r| r.id == record.id) {
        Some(r) => *r = record,
        None => records.push(record),
    }
}

/// A knowledge base in memory.
#[derive(Debug, Default)]
pub struct InMemoryKnowledgeBase {
    records: RwLock<Vec<IncidentRecord>>,
}

impl InMemoryKnowledgeBase {
    /// An empty one.
    pub fn new() -> Self {
        Self::default()
    }

    /// One holding `records`.
    pub fn with_records(records: Vec<IncidentRecord>) -> Self {
        InMemoryKnowledgeBase { records: RwLock::new(records) }
    }
}

fn poisoned() -> Error {
    Error::Io { path: "knowledge base".into(), source: std::io::Error::other("lock poisoned") }
}

impl KnowledgeBase for InMemoryKnowledgeBase {
    fn similar(&self, fingerprint: &Fingerprint, k: usize) -> Result<Vec<(IncidentRecord, f64)>> {
        Ok(top_k(&self.records.read().map_err(|_| poisoned())?, fingerprint, k))
    }

    fn record(&self, record: IncidentRecord) -> Result<()> {
        let mut guard = self.records.write().map_err(|_| poisoned())?;
        upsert(&mut guard, record);
        Ok(())
    }
}

/// A knowledge base in a JSON-lines file: one record per line, appended on
/// [`KnowledgeBase::record`]; on load a later line with the same id wins.
#[derive(Debug)]
pub struct JsonLinesKnowledgeBase {
    path: PathBuf,
    records: RwLock<Vec<IncidentRecord>>,
}

impl JsonLinesKnowledgeBase {
    /// Opens (or starts) the file at `path`.
    ///
    /// # Errors
    /// [`Error::Io`] when it exists but cannot be read, [`Error::Case`] naming the first bad
    /// line.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut records = Vec::new();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                for (i, line) in text.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let r: IncidentRecord = serde_json::from_str(line).map_err(|e| {
                        Error::case(path.display().to_string(), format!("line {}", i + 1), e.to_string())
                    })?;
                    upsert(&mut records, r);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::Io { path: path.display().to_string(), source }),
        }
        Ok(JsonLinesKnowledgeBase { path, records: RwLock::new(records) })
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.records.read().map(|r| r.len()).unwrap_or(0)
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl KnowledgeBase for JsonLinesKnowledgeBase {
    fn similar(&self, fingerprint: &Fingerprint, k: usize) -> Result<Vec<(IncidentRecord, f64)>> {
        Ok(top_k(&self.records.read().map_err(|_| poisoned())?, fingerprint, k))
    }

    fn record(&self, record: IncidentRecord) -> Result<()> {
        let line = serde_json::to_string(&record).map_err(|e| Error::json(&e))? + "\n";
        let io = |source| Error::Io { path: self.path.display().to_string(), source };
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&self.path).map_err(io)?;
        f.write_all(line.as_bytes()).map_err(io)?;
        let mut guard = self.records.write().map_err(|_| poisoned())?;
        upsert(&mut guard, record);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(signals: &[&str], services: &[&str]) -> Fingerprint {
        Fingerprint {
            signals: signals.iter().map(|s| s.to_string()).collect(),
            services: services.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn similarity_is_symmetric_bounded_and_exact() {
        let a = fp(&["a_cpu_up", "b_latency_p95_up"], &["a", "b"]);
        let b = fp(&["a_cpu_up"], &["a"]);
        assert_eq!(similarity(&a, &a), 1.0);
        assert_eq!(similarity(&a, &b), similarity(&b, &a));
        assert!((similarity(&a, &b) - (0.5 * 0.5 + 0.2 * 0.5) / 0.7).abs() < 1e-12);
        assert_eq!(similarity(&Fingerprint::default(), &Fingerprint::default()), 0.0);
        assert_eq!(similarity(&a, &fp(&["z_mem_up"], &["z"])), 0.0);
    }

    #[test]
    fn in_memory_and_json_lines_agree() {
        let dir = std::env::temp_dir().join(format!("oddsight-kb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("kb.jsonl");
        std::fs::remove_file(&path).ok();
        let file = JsonLinesKnowledgeBase::open(&path).unwrap();
        let mem = InMemoryKnowledgeBase::new();
        let mut r1 = IncidentRecord::new("i1", fp(&["a_cpu_up"], &["a"]), "a", "cpu", Category::Cpu);
        let r2 = IncidentRecord::new("i2", fp(&["a_cpu_up", "b_mem_up"], &["a", "b"]), "b", "mem", Category::Memory);
        for kb in [&file as &dyn KnowledgeBase, &mem] {
            kb.record(r1.clone()).unwrap();
            kb.record(r2.clone()).unwrap();
        }
        r1.fix_held = Some(false);
        file.record(r1.clone()).unwrap();
        mem.record(r1.clone()).unwrap();
        let q = fp(&["a_cpu_up"], &["a"]);
        let a = file.similar(&q, 5).unwrap();
        assert_eq!(a, mem.similar(&q, 5).unwrap());
        assert_eq!(a[0].0.id, "i1");
        let reopened = JsonLinesKnowledgeBase::open(&path).unwrap();
        assert_eq!(reopened.len(), 2);
        assert_eq!(reopened.similar(&q, 1).unwrap()[0].0.fix_held, Some(false));
        let priors = priors_from(&a);
        assert_eq!(priors[0].strength, 0.5);
        std::fs::write(&path, "{bad\n").unwrap();
        assert_eq!(JsonLinesKnowledgeBase::open(&path).unwrap_err().code(), "InvalidCase");
        std::fs::remove_dir_all(&dir).ok();
    }
}
