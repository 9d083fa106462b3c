//! A snapshot's start image: what a scorer computes from a snapshot folder before its first
//! request (the history read and checked, every member's score and outcome, tiers and segments,
//! each member's event index and recruitment-time row, and the sign-up sweep's final state),
//! written once into the folder so that the next start from it reads all of it back instead of
//! computing it again.
//!
//! An image is used only for the inputs it was computed from: its key names the build of
//! woolguard, the snapshot's files, both models' files and the rules. Any difference, a damaged
//! body (CRC-32) or an unreadable file, and the scorer computes its start as before (and writes a
//! new image).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::data::column::Map;
use crate::data::history::History;
use crate::data::image::{Image, ImageError, In, Out};
use crate::features::member::MemberIndex;
use crate::features::recruit::RecruitState;
use crate::features::Matrix;
use crate::members::segment::Segmentation;
use crate::scoring::RuleSet;

use super::kept::KeptScores;
use super::tenant::Models;
use super::StateError;

/// The image's file in a snapshot folder.
pub const FILE: &str = "start.image";
const MAGIC: &[u8; 8] = b"WGSTART1";

/// A start could not be made.
#[derive(Debug, thiserror::Error)]
pub enum StartFailed {
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    State(#[from] StateError),
}

/// What a start did with its folder's image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageUse {
    /// Read back: nothing computed.
    Read,
    /// Computed, and written for the next start.
    Written,
    /// Computed, and not written (not a folder of woolguard's own, or the write failed).
    None,
}

/// A start: the snapshot, the online sign-up state, and what became of the image.
pub type Started = (Models, Option<RecruitState>, ImageUse);

/// A tenant's snapshot and online state from the history in `folder` with these models and rules:
/// read back from the folder's start image where it was computed from the same inputs, else
/// computed, and then, with `own` (a folder of woolguard's own: a snapshot, or the one `state
/// init` wrote), written as the image for the next start. `took` hears of each phase.
pub fn start(
    folder: &Path,
    (member, signup): (&Path, &Path),
    rules: std::sync::Arc<RuleSet>,
    own: bool,
    took: &dyn Fn(&str, std::time::Instant),
) -> Result<Started, StartFailed> {
    let phase = std::time::Instant::now();
    let file = folder.join(FILE);
    let key = match own.then(|| Key::of(folder, member, signup, &rules)) {
        Some(Ok(key)) => Some(key),
        Some(Err(e)) => {
            tracing::warn!(folder = %folder.display(), "start image: its key could not be made: {e}");
            None
        }
        None => None,
    };
    if let Some(key) = &key {
        match read(&file, key) {
            Ok(parts) => {
                took("start image read", phase);
                let phase = std::time::Instant::now();
                let (models, online) = Models::from_image(parts, member, signup, rules)?;
                took("snapshot assembled", phase);
                return Ok((models, online, ImageUse::Read));
            }
            Err(why) => tracing::info!(file = %file.display(), "{why}: computing the start"),
        }
    }
    let phase = std::time::Instant::now();
    let history = crate::data::load(folder)?;
    took("history loaded", phase);
    let phase = std::time::Instant::now();
    let (models, online) =
        Models::load_to_start(std::sync::Arc::new(history), member, signup, rules)?;
    took("members scored", phase);
    let mut used = ImageUse::None;
    if let Some(key) = &key {
        let phase = std::time::Instant::now();
        match write(&file, key, &models.image_parts(online.as_ref())) {
            Ok(bytes) => {
                tracing::info!(file = %file.display(), bytes, "start image written");
                took("start image written", phase);
                used = ImageUse::Written;
            }
            Err(e) => tracing::warn!(file = %file.display(), "start image not written: {e}"),
        }
    }
    Ok((models, online, used))
}

/// What a start computes from a snapshot, as an image holds it.
pub struct Parts {
    pub history: History,
    pub as_of: i64,
    pub scores: KeptScores,
    pub segmentation: Segmentation,
    pub recruitment: Matrix,
    pub index: MemberIndex,
    /// The sign-up sweep's state after the history's last event (where both models merge groups
    /// under the same caps).
    pub online: Option<RecruitState>,
}

/// The same parts, borrowed from a scorer that computed them, to write.
pub struct PartsRef<'a> {
    pub history: &'a History,
    pub as_of: i64,
    pub scores: &'a KeptScores,
    pub segmentation: &'a Segmentation,
    pub recruitment: &'a Matrix,
    pub index: &'a MemberIndex,
    pub online: Option<&'a RecruitState>,
}

/// What an image was computed from: one line per input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key(String);

/// A CRC-32 of a whole file, with its length.
fn file_crc(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut crc = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        crc.update(&buf[..n]);
        len += n as u64;
    }
    Ok(format!("{len}:{:08x}", crc.finalize()))
}

/// The running woolguard's own executable, once per process: an image from another build is
/// never read, whatever its version says.
fn build() -> io::Result<String> {
    static BUILD: OnceLock<Result<String, String>> = OnceLock::new();
    BUILD
        .get_or_init(|| {
            let exe = std::env::current_exe().map_err(|e| e.to_string())?;
            file_crc(&exe).map_err(|e| format!("{}: {e}", exe.display()))
        })
        .clone()
        .map_err(io::Error::other)
}

impl Key {
    /// The key of a start from the snapshot in `folder` with these models and rules.
    pub fn of(folder: &Path, member: &Path, signup: &Path, rules: &RuleSet) -> io::Result<Key> {
        let mut lines = vec![format!("build {}", build()?)];
        let mut files = Vec::new();
        for entry in std::fs::read_dir(folder)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(FILE) {
                continue;
            }
            let meta = entry.metadata()?;
            let modified = meta
                .modified()?
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            files.push(format!("file {name} {} {modified}", meta.len()));
        }
        files.sort();
        lines.extend(files);
        lines.push(format!("member model {}", file_crc(member)?));
        lines.push(format!("sign-up model {}", file_crc(signup)?));
        let spec = serde_json::to_string(rules.spec()).map_err(io::Error::other)?;
        lines.push(format!("rules {:08x}", crc32fast::hash(spec.as_bytes())));
        Ok(Key(lines.join("\n")))
    }

    /// A key no start computes: for an image a running scorer writes and reads back itself.
    pub fn private() -> Key {
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        Key(format!("serving {} {now}", std::process::id()))
    }

    /// The first line where `other` differs: why an image is not used.
    fn differs(&self, other: &Key) -> String {
        let (a, b) = (self.0.lines(), other.0.lines());
        a.zip(b)
            .find(|(a, b)| a != b)
            .map_or("the inputs differ".to_string(), |(a, b)| {
                format!("computed from '{b}', this start has '{a}'")
            })
    }
}

/// Why an image was not read.
#[derive(Debug, thiserror::Error)]
pub enum NotUsed {
    #[error("no start image")]
    Absent,
    #[error("the start image is of other inputs: {0}")]
    Stale(String),
    #[error("the start image could not be read: {0}")]
    Unreadable(#[from] ImageError),
}

fn io_err(e: io::Error) -> NotUsed {
    NotUsed::Unreadable(ImageError::Io(e))
}

fn put_all<W: Write>(p: &PartsRef<'_>, o: &mut Out<W>) -> io::Result<()> {
    p.history.put(o)?;
    p.as_of.put(o)?;
    p.scores.put(o)?;
    p.segmentation.put(o)?;
    p.recruitment.put(o)?;
    p.index.put(o)?;
    match p.online {
        None => 0u8.put(o),
        Some(s) => {
            1u8.put(o)?;
            s.put(o)
        }
    }
}

fn take_all<R: Read>(i: &mut In<R>) -> Result<Parts, ImageError> {
    Ok(Parts {
        history: Image::take(i)?,
        as_of: Image::take(i)?,
        scores: Image::take(i)?,
        segmentation: Image::take(i)?,
        recruitment: Image::take(i)?,
        index: Image::take(i)?,
        online: Image::take(i)?,
    })
}

/// Writes `parts` under `key` to `path`: to a file of its own first, renamed into place once
/// whole, so that a reader never sees half an image and two writers never mix theirs.
pub fn write(path: &Path, key: &Key, parts: &PartsRef<'_>) -> io::Result<u64> {
    let tmp: PathBuf = path.with_extension(format!(
        "image.{}.{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    let written = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(MAGIC)?;
        f.write_all(&(key.0.len() as u64).to_le_bytes())?;
        f.write_all(key.0.as_bytes())?;
        // The body starts at a multiple of 8 bytes: its columns are read in place.
        f.write_all(&[0u8; 8][..padding(key.0.len())])?;
        let mut o = Out::new(f);
        put_all(parts, &mut o)?;
        let (mut f, crc) = o.finish()?;
        f.write_all(&crc.to_le_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(std::fs::metadata(path)?.len())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Zeros after a key of `len` bytes, up to a multiple of 8 bytes.
fn padding(len: usize) -> usize {
    (8 - len % 8) % 8
}

/// Reads the image at `path` if it was computed under `key`, whole and undamaged, and holds
/// together (every per-member table one per member of its history). The file is mapped into
/// memory: the history's columns and text, and the event index, are read in place (their pages
/// are the file's, not the heap's), the rest is copied.
pub fn read(path: &Path, key: &Key) -> Result<Parts, NotUsed> {
    let map = match Map::open(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(NotUsed::Absent),
        Err(e) => return Err(io_err(e)),
    };
    let damaged = |why: &str| NotUsed::Unreadable(ImageError::Damaged(why.to_string()));
    let bytes = map.bytes();
    let len = bytes.len();
    if bytes.get(..8) != Some(&MAGIC[..]) {
        return Err(damaged("not a start image"));
    }
    let key_len = bytes
        .get(8..16)
        .and_then(|b| b.try_into().ok())
        .map_or(u64::MAX, u64::from_le_bytes);
    let body_at = usize::try_from(key_len)
        .ok()
        .and_then(|k| 16usize.checked_add(k)?.checked_add(padding(k)))
        .filter(|&at| at + 4 <= len)
        .ok_or_else(|| damaged("a key longer than the file"))?;
    let stored = String::from_utf8_lossy(&bytes[16..16 + key_len as usize]).into_owned();
    if stored != key.0 {
        return Err(NotUsed::Stale(key.differs(&Key(stored))));
    }
    let body = (len - body_at - 4) as u64;
    let tail = u32::from_le_bytes([
        bytes[len - 4],
        bytes[len - 3],
        bytes[len - 2],
        bytes[len - 1],
    ]);
    let mut i = In::mapped(map.clone(), body_at, body);
    let parts = take_all(&mut i)?;
    if i.finish()? != tail {
        return Err(damaged("its CRC-32 does not match its contents"));
    }
    check(&parts).map_err(|why| damaged(&why))?;
    Ok(parts)
}

/// Every per-member table one per member of the history.
fn check(p: &Parts) -> Result<(), String> {
    let n = p.history.members.len();
    let index = [&p.index.coupons, &p.index.orders, &p.index.points];
    let rows = [
        p.history.coupons.len(),
        p.history.orders.len(),
        p.history.points.len(),
    ];
    let fits = p.scores.len() == n
        && (p.recruitment.rows == n || p.recruitment.rows == 0)
        && index
            .iter()
            .zip(rows)
            .all(|(b, r)| b.offsets.len() == n + 1 && b.rows.len() == r)
        && index
            .iter()
            .zip(rows)
            .all(|(b, r)| b.rows.iter().all(|&x| (x as usize) < r))
        && p.segmentation.members.iter().all(|&m| (m as usize) < n);
    if fits {
        Ok(())
    } else {
        Err(format!("its tables are not one per member of its {n}"))
    }
}
