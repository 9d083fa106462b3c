//! A compact binary form of in-memory state, for a snapshot's start image
//! (`crate::state::image`): each type writes its fields in a fixed order, little-endian, with a
//! length before every sequence, and reads them back in the same order. There is no schema
//! evolution: a file is keyed by the build that wrote it and read only by the same build.
//!
//! Every byte of a body passes through a CRC-32 on its way to and from the file, and a reader
//! never reserves more elements than bytes are left, so a truncated or damaged file is refused,
//! never read into a wrong state or an absurd allocation.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::sync::Arc;

use super::column::{as_bytes, as_bytes_mut, Column, Map, Plain, Text};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The bytes read are not what this build writes.
    #[error("damaged: {0}")]
    Damaged(String),
}

fn damaged<T>(why: impl Into<String>) -> Result<T, ImageError> {
    Err(ImageError::Damaged(why.into()))
}

/// A value that can be written to an image and read back equal.
pub trait Image: Sized {
    fn put<W: Write>(&self, o: &mut Out<W>) -> io::Result<()>;
    fn take<R: Read>(i: &mut In<R>) -> Result<Self, ImageError>;
}

/// Counts a CRC-32 over every byte that passes through it.
struct Crc<T> {
    inner: T,
    crc: crc32fast::Hasher,
}

impl<W: Write> Write for Crc<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Crc<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }
}

/// Where an image's body is written: buffered, counted by the CRC.
pub struct Out<W: Write> {
    w: BufWriter<Crc<W>>,
    /// Bytes written so far: where the next one goes in the body.
    pos: u64,
}

impl<W: Write> Out<W> {
    /// A body that starts at a multiple of 8 bytes in its file (so that a column aligned in the
    /// body is aligned in the file, to be read in place).
    pub fn new(w: W) -> Self {
        let crc = Crc {
            inner: w,
            crc: crc32fast::Hasher::new(),
        };
        Out {
            w: BufWriter::with_capacity(1 << 20, crc),
            pos: 0,
        }
    }

    pub fn bytes(&mut self, b: &[u8]) -> io::Result<()> {
        self.pos += b.len() as u64;
        self.w.write_all(b)
    }

    /// Zeros up to the next multiple of `to` bytes.
    pub fn align(&mut self, to: u64) -> io::Result<()> {
        let pad = (to - self.pos % to) % to;
        self.bytes(&[0u8; 8][..pad as usize])
    }

    /// Ends the body: the writer and the body's CRC-32, to be written after it.
    pub fn finish(self) -> io::Result<(W, u32)> {
        let crc = self.w.into_inner().map_err(|e| e.into_error())?;
        Ok((crc.inner, crc.crc.finalize()))
    }
}

enum Source<R: Read> {
    Stream(BufReader<Crc<io::Take<R>>>),
    /// A file mapped into memory, the body from byte `at` on: columns and text are read in place.
    Map {
        map: Arc<Map>,
        at: usize,
        crc: crc32fast::Hasher,
    },
}

/// Where an image's body is read from: `left` bytes of it, counted by the CRC.
pub struct In<R: Read> {
    src: Source<R>,
    left: u64,
    pos: u64,
}

impl<R: Read> In<R> {
    /// Reads a body of `len` bytes from `r`, every column and text copied into memory.
    pub fn new(r: R, len: u64) -> Self {
        let crc = Crc {
            inner: r.take(len),
            crc: crc32fast::Hasher::new(),
        };
        In {
            src: Source::Stream(BufReader::with_capacity(1 << 20, crc)),
            left: len,
            pos: 0,
        }
    }

    pub fn bytes(&mut self, b: &mut [u8]) -> Result<(), ImageError> {
        let n = b.len();
        if (n as u64) > self.left {
            return damaged("shorter than its contents say");
        }
        match &mut self.src {
            Source::Stream(r) => r.read_exact(b)?,
            Source::Map { map, at, crc } => {
                let from = map.bytes().get(*at..*at + n).unwrap_or_default();
                if from.len() != n {
                    return damaged("shorter than its contents say");
                }
                b.copy_from_slice(from);
                crc.update(from);
                *at += n;
            }
        }
        self.left -= n as u64;
        self.pos += n as u64;
        Ok(())
    }

    /// Skips the zeros [`Out::align`] wrote.
    pub fn align(&mut self, to: u64) -> Result<(), ImageError> {
        let mut pad = [0u8; 8];
        let pad = &mut pad[..((to - self.pos % to) % to) as usize];
        self.bytes(pad)?;
        if pad.iter().any(|&b| b != 0) {
            return damaged("padding that is not zeros");
        }
        Ok(())
    }

    /// The next `n` bytes in place, where the body is mapped: (the map, their offset in it),
    /// counted by the CRC and skipped. `None` (nothing read) where the body is streamed.
    fn in_place(&mut self, n: u64) -> Result<Option<(Arc<Map>, usize)>, ImageError> {
        let Source::Map { map, at, crc } = &mut self.src else {
            return Ok(None);
        };
        if n > self.left {
            return damaged("shorter than its contents say");
        }
        let from = *at;
        let Some(bytes) = map.bytes().get(from..from + n as usize) else {
            return damaged("shorter than its contents say");
        };
        crc.update(bytes);
        *at += n as usize;
        self.left -= n;
        self.pos += n;
        Ok(Some((map.clone(), from)))
    }

    /// A sequence's length, refused where fewer bytes are left than it has elements (every
    /// element takes one byte at least).
    pub fn count(&mut self) -> Result<usize, ImageError> {
        let n = u64::take(self)?;
        if n > self.left {
            return damaged(format!("a sequence of {n} with {} bytes left", self.left));
        }
        Ok(n as usize)
    }

    /// Ends the body: every byte read; its CRC-32.
    pub fn finish(self) -> Result<u32, ImageError> {
        let rest = match self.src {
            Source::Stream(mut r) => {
                let more = !r.fill_buf()?.is_empty();
                (self.left != 0 || more, r.into_inner().crc.finalize())
            }
            Source::Map { crc, .. } => (self.left != 0, crc.finalize()),
        };
        match rest {
            (true, _) => damaged(format!("{} bytes after its contents", self.left)),
            (false, crc) => Ok(crc),
        }
    }
}

impl In<io::Empty> {
    /// Reads a body of `len` bytes from byte `at` of `map`: columns and text in place.
    pub fn mapped(map: Arc<Map>, at: usize, len: u64) -> Self {
        In {
            src: Source::Map {
                map,
                at,
                crc: crc32fast::Hasher::new(),
            },
            left: len,
            pos: 0,
        }
    }
}

impl<T: Plain + Image> Image for Column<T> {
    /// Its length, zeros to a multiple of 8 bytes, then its values as they are in memory.
    fn put<W: Write>(&self, o: &mut Out<W>) -> io::Result<()> {
        self.len().put(o)?;
        o.align(8)?;
        o.bytes(as_bytes(self))
    }

    fn take<R: Read>(i: &mut In<R>) -> Result<Self, ImageError> {
        let n = i.count()?;
        i.align(8)?;
        let size = (n as u64).saturating_mul(std::mem::size_of::<T>() as u64);
        if size > i.left {
            return damaged(format!("a column of {n} with {} bytes left", i.left));
        }
        if let Some((map, at)) = i.in_place(size)? {
            return Column::mapped(&map, at, n)
                .map_or_else(|| damaged("a column out of place"), Ok);
        }
        let mut v = vec![T::default(); n];
        i.bytes(as_bytes_mut(&mut v))?;
        Ok(v.into())
    }
}

/// Text as its length and its bytes.
fn put_text<W: Write>(s: &str, o: &mut Out<W>) -> io::Result<()> {
    s.len().put(o)?;
    o.bytes(s.as_bytes())
}

impl Image for Text {
    fn put<W: Write>(&self, o: &mut Out<W>) -> io::Result<()> {
        put_text(self, o)
    }

    fn take<R: Read>(i: &mut In<R>) -> Result<Self, ImageError> {
        let n = i.count()?;
        if let Some((map, at)) = i.in_place(n as u64)? {
            return Text::mapped(&map, at, n).map_or_else(|| damaged("text that is not UTF-8"), Ok);
        }
        Ok(Text::Owned(take_text(i, n)?))
    }
}

/// `n` bytes of UTF-8 text, copied.
fn take_text<R: Read>(i: &mut In<R>, n: usize) -> Result<String, ImageError> {
    let mut b = vec![0u8; n];
    i.bytes(&mut b)?;
    String::from_utf8(b).or_else(|_| damaged("text that is not UTF-8"))
}

macro_rules! numbers {
    ($($t:ty),*) => {$(
        impl Image for $t {
            fn put<W: Write>(&self, o: &mut Out<W>) -> io::Result<()> {
                o.bytes(&self.to_le_bytes())
            }
            fn take<R: Read>(i: &mut In<R>) -> Result<Self, ImageError> {
                let mut b = [0u8; std::mem::size_of::<$t>()];
                i.bytes(&mut b)?;
                Ok(<$t>::from_le_bytes(b))
            }
        }
    )*};
}
numbers!(u8, u16, u32, u64, i64, f64);

impl Image for usize {
    fn put<W: Write>(&self, o: &mut Out<W>) -> io::Result<()> {
        (*self as u64).put(o)
    }
    fn take<R: Read>(i: &mut In<R>) -> Result<Self, ImageError> {
        usize::try_from(u64::take(i)?).or_else(|_| damaged("a size past this machine's"))
    }
}

impl Image for bool {
    fn put<W: Write>(&self, o: &mut Out<W>) -> io::Result<()> {
        u8::from(*self).put(o)
    }
    fn take<R: Read>(i: &mut In<R>) -> Result<Self, ImageError> {
        match u8::take(i)? {
            0 => Ok(false),
            1 => Ok(true),
            b => damaged(format!("{b} for a yes or no")),
        }
    }
}

impl Image for String {
    fn put<W: Write>(&self, o: &mut Out<W>) -> io::Result<()> {
        put_text(self, o)
    }
    fn take<R: Read>(i: &mut In<R>) -> Result<Self, ImageError> {
        let n = i.count()?;
        take_text(i, n)
    }
}

impl<T: Image> Image for Option<T> {
    fn put<W: Write>(&self, o: &mut Out<W>) -> io::Result<()> {
        match self {
            None => 0u8.put(o),
            Some(v) => {
                1u8.put(o)?;
                v.put(o)
            }
        }
    }
    fn take<R: Read>(i: &mut In<R>) -> Result<Self, ImageError> {
        match u8::take(i)? {
            0 => Ok(None),
            1 => Ok(Some(T::take(i)?)),
            b => damaged(format!("{b} for an optional value")),
        }
    }
}

impl<T: Image> Image for Vec<T> {
    fn put<W: Write>(&self, o: &mut Out<W>) -> io::Result<()> {
        self.len().put(o)?;
        self.iter().try_for_each(|v| v.put(o))
    }
    fn take<R: Read>(i: &mut In<R>) -> Result<Self, ImageError> {
        let n = i.count()?;
        let mut v = Vec::new();
        // Exactly as many as written: a serving start holds these for its whole life.
        v.reserve_exact(n);
        for _ in 0..n {
            v.push(T::take(i)?);
        }
        Ok(v)
    }
}

impl<T: Image> Image for Box<T> {
    fn put<W: Write>(&self, o: &mut Out<W>) -> io::Result<()> {
        (**self).put(o)
    }
    fn take<R: Read>(i: &mut In<R>) -> Result<Self, ImageError> {
        Ok(Box::new(T::take(i)?))
    }
}

impl<T: Image> Image for VecDeque<T> {
    fn put<W: Write>(&self, o: &mut Out<W>) -> io::Result<()> {
        self.len().put(o)?;
        self.iter().try_for_each(|v| v.put(o))
    }
    fn take<R: Read>(i: &mut In<R>) -> Result<Self, ImageError> {
        Ok(Vec::take(i)?.into())
    }
}

impl<A: Image, B: Image> Image for (A, B) {
    fn put<W: Write>(&self, o: &mut Out<W>) -> io::Result<()> {
        self.0.put(o)?;
        self.1.put(o)
    }
    fn take<R: Read>(i: &mut In<R>) -> Result<Self, ImageError> {
        Ok((A::take(i)?, B::take(i)?))
    }
}

impl<K, V, S> Image for HashMap<K, V, S>
where
    K: Image + Eq + Hash,
    V: Image,
    S: BuildHasher + Default,
{
    fn put<W: Write>(&self, o: &mut Out<W>) -> io::Result<()> {
        self.len().put(o)?;
        self.iter().try_for_each(|(k, v)| {
            k.put(o)?;
            v.put(o)
        })
    }
    fn take<R: Read>(i: &mut In<R>) -> Result<Self, ImageError> {
        let n = i.count()?;
        let mut map = HashMap::with_capacity_and_hasher(n, S::default());
        for _ in 0..n {
            let k = K::take(i)?;
            if map.insert(k, V::take(i)?).is_some() {
                return damaged("a key twice in one table");
            }
        }
        Ok(map)
    }
}

/// A value of a list of names known to this build (feature names), read back as the build's own
/// `&'static str`.
pub fn take_name<R: Read>(
    i: &mut In<R>,
    known: impl Fn(&str) -> Option<&'static str>,
) -> Result<&'static str, ImageError> {
    let s = String::take(i)?;
    known(&s).map_or_else(|| damaged(format!("unknown name '{s}'")), Ok)
}

/// Writes a struct's named fields in order and reads them back in the same order; with `checked
/// by`, a value read back is refused where the check fails.
#[macro_export]
macro_rules! image_struct {
    ($t:ty { $($f:ident),* $(,)? }) => {
        $crate::image_struct!($t { $($f),* } checked by |_: &$t| Ok(()));
    };
    // Read back only where `$check` (a `Fn(&$t) -> Result<(), ImageError>`) passes it.
    ($t:ty { $($f:ident),* $(,)? } checked by $check:expr) => {
        impl $crate::data::image::Image for $t {
            fn put<W: std::io::Write>(
                &self,
                o: &mut $crate::data::image::Out<W>,
            ) -> std::io::Result<()> {
                $( $crate::data::image::Image::put(&self.$f, o)?; )*
                Ok(())
            }
            fn take<R: std::io::Read>(
                i: &mut $crate::data::image::In<R>,
            ) -> Result<Self, $crate::data::image::ImageError> {
                let v = Self { $( $f: $crate::data::image::Image::take(i)?, )* };
                let check: fn(&$t) -> Result<(), $crate::data::image::ImageError> = $check;
                check(&v)?;
                Ok(v)
            }
        }
    };
}

/// Writes a field-less enum as its variant's position in the list given (its variants, or a
/// constant holding every value: `image_enum!(Segment = Segment::ALL)`).
#[macro_export]
macro_rules! image_enum {
    ($t:ty { $($v:ident),* $(,)? }) => {
        $crate::image_enum!($t = [$(<$t>::$v),*]);
    };
    ($t:ty = $all:expr) => {
        impl $crate::data::image::Image for $t {
            fn put<W: std::io::Write>(
                &self,
                o: &mut $crate::data::image::Out<W>,
            ) -> std::io::Result<()> {
                const ALL: &[$t] = &$all;
                let at = ALL.iter().position(|v| v == self).unwrap_or(0) as u8;
                $crate::data::image::Image::put(&at, o)
            }
            fn take<R: std::io::Read>(
                i: &mut $crate::data::image::In<R>,
            ) -> Result<Self, $crate::data::image::ImageError> {
                const ALL: &[$t] = &$all;
                let at = <u8 as $crate::data::image::Image>::take(i)?;
                ALL.get(at as usize).copied().ok_or_else(|| {
                    $crate::data::image::ImageError::Damaged(format!(
                        "{at} is not a {}",
                        stringify!($t)
                    ))
                })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round<T: Image>(v: &T) -> (T, Vec<u8>) {
        let mut o = Out::new(Vec::new());
        v.put(&mut o).unwrap();
        let (bytes, crc) = o.finish().unwrap();
        let mut i = In::new(&bytes[..], bytes.len() as u64);
        let back = T::take(&mut i).unwrap();
        let read_crc = i.finish().unwrap();
        assert_eq!(crc, read_crc);
        (back, bytes)
    }

    #[test]
    fn values_come_back_equal_in_the_bytes_written() {
        let v: Vec<(u32, Option<String>)> = vec![(7, Some("é1".into())), (u32::MAX, None)];
        let (back, bytes) = round(&v);
        assert_eq!(back, v);
        // 8 (length) + [4 + 1 + 8 + 3] + [4 + 1].
        assert_eq!(bytes.len(), 8 + 16 + 5);
        assert_eq!(&bytes[..8], &2u64.to_le_bytes());
        let m: HashMap<u32, f64> = [(1, 0.5), (2, f64::NEG_INFINITY)].into();
        assert_eq!(round(&m).0, m);
        let q: VecDeque<i64> = [-1, 3].into();
        assert_eq!(round(&q).0, q);
    }

    #[test]
    fn a_damaged_body_is_refused_not_read() {
        let v: Vec<String> = vec!["abc".into(), "de".into()];
        let mut o = Out::new(Vec::new());
        v.put(&mut o).unwrap();
        let (bytes, _) = o.finish().unwrap();
        // Cut short: the second string's bytes are missing.
        let cut = &bytes[..bytes.len() - 1];
        let mut i = In::new(cut, cut.len() as u64);
        assert!(matches!(
            Vec::<String>::take(&mut i),
            Err(ImageError::Damaged(_))
        ));
        // A length far past the bytes left is refused before anything is reserved.
        let mut huge = bytes.clone();
        huge[..8].copy_from_slice(&(1u64 << 60).to_le_bytes());
        let mut i = In::new(&huge[..], huge.len() as u64);
        assert!(matches!(
            Vec::<String>::take(&mut i),
            Err(ImageError::Damaged(_))
        ));
        // Bytes left over after the contents.
        let mut longer = bytes.clone();
        longer.push(0);
        let mut i = In::new(&longer[..], longer.len() as u64);
        Vec::<String>::take(&mut i).unwrap();
        assert!(matches!(i.finish(), Err(ImageError::Damaged(_))));
        // A flipped byte in a text: read, but the CRC differs.
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let (_, crc) = {
            let mut o = Out::new(Vec::new());
            v.put(&mut o).unwrap();
            o.finish().unwrap()
        };
        let mut i = In::new(&flipped[..], flipped.len() as u64);
        Vec::<String>::take(&mut i).unwrap();
        assert_ne!(i.finish().unwrap(), crc);
    }
}
