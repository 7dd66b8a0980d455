//! TensorBoard event files: the run's scalars (`loss`, `lr`, kNN and probe accuracies, ...) as an
//! `events.out.tfevents.*` file that TensorBoard reads (`tensorboard --logdir runs/`).
//!
//! The format, written by hand (a few protobuf fields do not need a protobuf library):
//! - **TFRecord framing**, one record per event: `u64` length (little-endian), `u32` masked CRC32C of
//!   those 8 bytes, the data, `u32` masked CRC32C of the data. The mask is TensorFlow's
//!   `((crc >> 15) | (crc << 17)) + 0xa282ead8`; CRC32C is the Castagnoli polynomial (reflected
//!   `0x82F63B78`).
//! - **`tensorflow.Event` protos**: `wall_time` (field 1, double), `step` (2, int64), `file_version`
//!   (3, string) or `summary` (5). The first event of a file carries only `file_version =
//!   "brain.Event:2"`. A `Summary` holds repeated `value` (1), each a `tag` (1, string) and a
//!   `simple_value` (2, float): TensorBoard's scalar plugin reads these as scalars.
//!
//! [`read_events`] decodes such a file back (checking both CRCs of every record), for tests and for
//! tools that want the values without TensorBoard.

use crate::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file name the run folder's events go to. TensorBoard reads every file whose name contains
/// `tfevents`; one fixed name means a resumed run rewrites its file rather than adding a second one.
pub const EVENTS_FILE: &str = "events.out.tfevents.selfsup";

/// The `file_version` of the first event, as TensorFlow writes it.
pub const FILE_VERSION: &str = "brain.Event:2";

/// CRC-32C (Castagnoli) of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0x82F6_3B78
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        t
    });
    let mut crc = !0u32;
    for &b in data {
        crc = table[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// TFRecord's masked CRC32C.
pub fn masked_crc32c(data: &[u8]) -> u32 {
    let c = crc32c(data);
    (c.rotate_right(15)).wrapping_add(0xa282_ead8)
}

/// One record in TFRecord framing.
pub fn frame_record(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
    out
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(out: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(out, ((field as u64) << 3) | wire as u64);
}

fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(out, field, 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// One decoded event.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Seconds since the Unix epoch.
    pub wall_time: f64,
    /// The global step.
    pub step: i64,
    /// The file version (the first event only).
    pub file_version: Option<String>,
    /// `(tag, simple_value)` of the summary's values.
    pub scalars: Vec<(String, f32)>,
}

impl Event {
    /// The `tensorflow.Event` protobuf bytes of this event.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_key(&mut out, 1, 1);
        out.extend_from_slice(&self.wall_time.to_le_bytes());
        if self.step != 0 {
            put_key(&mut out, 2, 0);
            put_varint(&mut out, self.step as u64);
        }
        if let Some(v) = &self.file_version {
            put_bytes(&mut out, 3, v.as_bytes());
        }
        if !self.scalars.is_empty() {
            let mut summary = Vec::new();
            for (tag, v) in &self.scalars {
                let mut value = Vec::new();
                put_bytes(&mut value, 1, tag.as_bytes());
                put_key(&mut value, 2, 5);
                value.extend_from_slice(&v.to_le_bytes());
                put_bytes(&mut summary, 1, &value);
            }
            put_bytes(&mut out, 5, &summary);
        }
        out
    }
}

/// A protobuf reader over `buf` (only what `Event`/`Summary` need; unknown fields are skipped).
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn bad(msg: &str) -> Error {
        Error::Core(selfsup_core::Error::Other(format!(
            "tensorboard event: {msg}"
        )))
    }
    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| Self::bad("truncated varint"))?;
            self.pos += 1;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Self::bad("varint too long"))
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| Self::bad("truncated field"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    /// The next `(field, wire type, payload)`: varints as their value in 8 bytes, fixed fields and
    /// length-delimited bytes as they are.
    fn field(&mut self) -> Result<Option<(u64, u8, Vec<u8>)>> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let wire = (key & 7) as u8;
        let payload = match wire {
            0 => self.varint()?.to_le_bytes().to_vec(),
            1 => self.take(8)?.to_vec(),
            2 => {
                let n = self.varint()? as usize;
                self.take(n)?.to_vec()
            }
            5 => self.take(4)?.to_vec(),
            w => return Err(Self::bad(&format!("unsupported wire type {w}"))),
        };
        Ok(Some((key >> 3, wire, payload)))
    }
}

fn fixed<const N: usize>(p: &[u8]) -> Result<[u8; N]> {
    p.try_into()
        .map_err(|_| Reader::bad("fixed-size field of the wrong size"))
}

/// Decodes the protobuf bytes of one `tensorflow.Event` (wall time, step, file version, simple
/// scalar values; other fields are ignored).
pub fn decode_event(bytes: &[u8]) -> Result<Event> {
    let mut ev = Event {
        wall_time: 0.0,
        step: 0,
        file_version: None,
        scalars: Vec::new(),
    };
    let mut r = Reader { buf: bytes, pos: 0 };
    while let Some((f, wire, p)) = r.field()? {
        match (f, wire) {
            (1, 1) => ev.wall_time = f64::from_le_bytes(fixed(&p)?),
            (2, 0) => ev.step = u64::from_le_bytes(fixed(&p)?) as i64,
            (3, 2) => {
                ev.file_version = Some(
                    String::from_utf8(p).map_err(|_| Reader::bad("file_version is not UTF-8"))?,
                )
            }
            (5, 2) => {
                let mut s = Reader { buf: &p, pos: 0 };
                while let Some((vf, vw, vp)) = s.field()? {
                    if (vf, vw) != (1, 2) {
                        continue;
                    }
                    let mut v = Reader { buf: &vp, pos: 0 };
                    let (mut tag, mut val) = (None, None);
                    while let Some((ff, fw, fp)) = v.field()? {
                        match (ff, fw) {
                            (1, 2) => {
                                tag = Some(
                                    String::from_utf8(fp)
                                        .map_err(|_| Reader::bad("tag is not UTF-8"))?,
                                )
                            }
                            (2, 5) => val = Some(f32::from_le_bytes(fixed(&fp)?)),
                            _ => {}
                        }
                    }
                    if let (Some(t), Some(x)) = (tag, val) {
                        ev.scalars.push((t, x));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(ev)
}

/// The data length of the intact record at the start of `bytes` (both CRCs right), if there is one.
fn next_record(bytes: &[u8]) -> Option<usize> {
    let head = bytes.get(..12)?;
    let len = usize::try_from(u64::from_le_bytes(head[..8].try_into().ok()?)).ok()?;
    if u32::from_le_bytes(head[8..12].try_into().ok()?) != masked_crc32c(&head[..8]) {
        return None;
    }
    let data = bytes.get(12..12usize.checked_add(len)?)?;
    let crc = bytes.get(12 + len..12 + len + 4)?;
    (u32::from_le_bytes(crc.try_into().ok()?) == masked_crc32c(data)).then_some(len)
}

/// Splits TFRecord-framed `bytes` into records, checking both CRCs of each (an error names the
/// record and what is wrong).
pub fn split_records(bytes: &[u8]) -> Result<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let n = out.len();
        let bad = |m: &str| Reader::bad(&format!("record {n} at byte {pos}: {m}"));
        let head = bytes
            .get(pos..pos + 12)
            .ok_or_else(|| bad("truncated header"))?;
        let len = u64::from_le_bytes(fixed(&head[..8])?);
        if u32::from_le_bytes(fixed(&head[8..])?) != masked_crc32c(&head[..8]) {
            return Err(bad("length CRC mismatch"));
        }
        let len = usize::try_from(len).map_err(|_| bad("length too large"))?;
        let data_end = (pos + 12)
            .checked_add(len)
            .filter(|&e| e + 4 <= bytes.len())
            .ok_or_else(|| bad("truncated data"))?;
        let data = &bytes[pos + 12..data_end];
        if u32::from_le_bytes(fixed(&bytes[data_end..data_end + 4])?) != masked_crc32c(data) {
            return Err(bad("data CRC mismatch"));
        }
        out.push(data);
        pos = data_end + 4;
    }
    Ok(out)
}

/// Reads an event file: every record's CRCs checked, every event decoded.
pub fn read_events(path: &Path) -> Result<Vec<Event>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    split_records(&bytes)?
        .into_iter()
        .map(decode_event)
        .collect()
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The tag of value `name` of a metrics record of kind `kind`: `train/loss`, `epoch/knn_acc`,
/// `eval/linear_probe_acc`, ...
pub fn tag(kind: &str, name: &str) -> String {
    format!("{kind}/{name}")
}

/// Appends scalar events to a run folder's [`EVENTS_FILE`].
#[derive(Debug)]
pub struct EventWriter {
    path: PathBuf,
}

impl EventWriter {
    /// Starts `dir/`[`EVENTS_FILE`] afresh: the `file_version` event, then one event per record of
    /// `kept` (`(kind, step, values)`, e.g. the metrics kept by a resume). A record keeps the wall time
    /// its step had in the file being replaced (read up to its first damaged record), so a resumed
    /// run's time axis stays; records the old file lacks get the current time.
    pub fn create(dir: &Path, kept: &[(String, u64, Vec<(String, f64)>)]) -> Result<Self> {
        let path = dir.join(EVENTS_FILE);
        let t = now();
        let mut times = std::collections::HashMap::new();
        if !kept.is_empty() {
            if let Ok(old) = std::fs::read(&path) {
                let mut pos = 0;
                while let Some(n) = next_record(&old[pos..]) {
                    if let Ok(ev) = decode_event(&old[pos + 12..pos + 12 + n]) {
                        if ev.file_version.is_none() {
                            times.insert(ev.step, ev.wall_time);
                        }
                    }
                    pos += n + 16;
                }
            }
        }
        let mut bytes = frame_record(
            &Event {
                wall_time: t,
                step: 0,
                file_version: Some(FILE_VERSION.into()),
                scalars: Vec::new(),
            }
            .encode(),
        );
        for (kind, step, values) in kept {
            let wall = times.get(&(*step as i64)).copied().unwrap_or(t);
            bytes.extend(frame_record(
                &scalar_event(wall, kind, *step, values).encode(),
            ));
        }
        crate::checkpoint::write_atomic(&path, &bytes)?;
        Ok(EventWriter { path })
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event with a scalar per value (tags from [`tag`]).
    pub fn log(&mut self, kind: &str, step: u64, values: &[(String, f64)]) -> Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        let rec = frame_record(&scalar_event(now(), kind, step, values).encode());
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| Error::io(&self.path, e))?;
        f.write_all(&rec).map_err(|e| Error::io(&self.path, e))
    }
}

fn scalar_event(wall_time: f64, kind: &str, step: u64, values: &[(String, f64)]) -> Event {
    Event {
        wall_time,
        step: step as i64,
        file_version: None,
        scalars: values
            .iter()
            .map(|(k, v)| (tag(kind, k), *v as f32))
            .collect(),
    }
}
