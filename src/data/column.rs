//! Columns of plain numbers and text that are either owned or read in place from a start image
//! mapped into memory (`crate::state::image`). A mapped column costs no heap: its pages are the
//! file's, read by the OS when touched and dropped by it under memory pressure. Writing to a
//! mapped column copies it into memory first, so every caller sees a plain slice or `Vec`.
//!
//! The only code of the data layer with `unsafe`: mapping a file, and viewing its bytes as
//! numbers or text.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::Arc;

#[cfg(not(target_endian = "little"))]
compile_error!("start images hold little-endian numbers, read in place");

/// A file mapped read-only into memory.
pub struct Map(memmap2::Mmap);

impl Map {
    /// Maps the file at `path`.
    ///
    /// The file must not change while mapped: start images are only ever written to a file of
    /// their own and renamed into place, never written in place (a file removed while mapped
    /// stays readable until unmapped).
    pub fn open(path: &Path) -> std::io::Result<Arc<Map>> {
        let file = std::fs::File::open(path)?;
        // SAFETY: see above: no writer changes a start image's file once it is in place.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Arc::new(Map(map)))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Map({} bytes)", self.0.len())
    }
}

/// Hands the heap's free pages back to the OS: after a snapshot was rebuilt and read back in
/// place, the memory the rebuild used is free but would otherwise stay with the process.
pub fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: glibc's `malloc_trim` only returns free pages of the allocator's own arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Numbers whose every bit pattern is a value and that hold no padding.
///
/// # Safety
/// Only for such types: a mapped column views arbitrary file bytes as them.
pub unsafe trait Plain:
    Copy + Default + PartialEq + fmt::Debug + Send + Sync + 'static
{
}
// SAFETY: integers and floats: every bit pattern is a value, no padding.
unsafe impl Plain for i64 {}
// SAFETY: as above.
unsafe impl Plain for u32 {}
// SAFETY: as above.
unsafe impl Plain for u64 {}
// SAFETY: as above.
unsafe impl Plain for usize {}
// SAFETY: as above.
unsafe impl Plain for f64 {}

/// `len` values of `T` at byte `offset` of `map`: `None` where they are not aligned for `T` or
/// run past its end.
fn view<T: Plain>(map: &Map, offset: usize, len: usize) -> Option<&[T]> {
    let bytes = map.bytes();
    let size = len.checked_mul(std::mem::size_of::<T>())?;
    let slice = bytes.get(offset..offset.checked_add(size)?)?;
    if slice.as_ptr().align_offset(std::mem::align_of::<T>()) != 0 {
        return None;
    }
    // SAFETY: in bounds and aligned (checked above), every bit pattern is a `T` (`Plain`), and
    // the map outlives the slice (it is borrowed from it).
    Some(unsafe { std::slice::from_raw_parts(slice.as_ptr().cast::<T>(), len) })
}

/// The bytes of `values`, as a start image holds them.
pub fn as_bytes<T: Plain>(values: &[T]) -> &[u8] {
    // SAFETY: `Plain` types hold no padding, so every byte is initialised; u8 has no alignment.
    unsafe {
        std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values))
    }
}

/// The bytes of `values` to read them from an image into.
pub fn as_bytes_mut<T: Plain>(values: &mut [T]) -> &mut [u8] {
    let len = std::mem::size_of_val(values);
    // SAFETY: as `as_bytes`, and any bytes written are a valid `T` (`Plain`).
    unsafe { std::slice::from_raw_parts_mut(values.as_mut_ptr().cast::<u8>(), len) }
}

enum Repr<T> {
    Owned(Vec<T>),
    /// `len` values from `ptr`, inside `map` (checked when made; `map` keeps them alive).
    Mapped {
        map: Arc<Map>,
        ptr: *const T,
        len: usize,
    },
}

/// A column of numbers, owned or mapped.
pub struct Column<T: Plain>(Repr<T>);

// SAFETY: a mapped column only reads memory its `Arc<Map>` keeps mapped and never changes it;
// `T: Plain` values are `Send + Sync`.
unsafe impl<T: Plain> Send for Column<T> {}
// SAFETY: as above.
unsafe impl<T: Plain> Sync for Column<T> {}

impl<T: Plain> Column<T> {
    pub fn new() -> Self {
        Column(Repr::Owned(Vec::new()))
    }

    pub fn with_capacity(n: usize) -> Self {
        Column(Repr::Owned(Vec::with_capacity(n)))
    }

    /// A view of `len` values at byte `offset` of `map`; `None` where they are not aligned or
    /// run past its end.
    pub fn mapped(map: &Arc<Map>, offset: usize, len: usize) -> Option<Self> {
        let ptr = view::<T>(map, offset, len)?.as_ptr();
        Some(Column(Repr::Mapped {
            map: map.clone(),
            ptr,
            len,
        }))
    }

    /// The values to change: a mapped column is copied into memory first.
    pub fn to_mut(&mut self) -> &mut Vec<T> {
        if let Repr::Mapped { .. } = self.0 {
            self.0 = Repr::Owned(self.deref().to_vec());
        }
        match &mut self.0 {
            Repr::Owned(v) => v,
            Repr::Mapped { .. } => unreachable!("copied into memory above"),
        }
    }

    pub fn is_mapped(&self) -> bool {
        matches!(self.0, Repr::Mapped { .. })
    }

    /// Bytes this column holds on the heap (none when mapped).
    pub fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Owned(v) => v.capacity() * std::mem::size_of::<T>(),
            Repr::Mapped { .. } => 0,
        }
    }

    pub fn push(&mut self, v: T) {
        self.to_mut().push(v);
    }

    pub fn reserve(&mut self, n: usize) {
        self.to_mut().reserve(n);
    }

    pub fn extend_from_slice(&mut self, v: &[T]) {
        self.to_mut().extend_from_slice(v);
    }

    pub fn truncate(&mut self, n: usize) {
        self.to_mut().truncate(n);
    }

    pub fn clear(&mut self) {
        self.0 = Repr::Owned(Vec::new());
    }

    pub fn resize(&mut self, n: usize, v: T) {
        self.to_mut().resize(n, v);
    }

    pub fn shrink_to_fit(&mut self) {
        if let Repr::Owned(v) = &mut self.0 {
            v.shrink_to_fit();
        }
    }

    pub fn into_vec(self) -> Vec<T> {
        match self.0 {
            Repr::Owned(v) => v,
            Repr::Mapped { .. } => self.deref().to_vec(),
        }
    }
}

impl<T: Plain> Deref for Column<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match &self.0 {
            Repr::Owned(v) => v,
            // SAFETY: checked in bounds and aligned when made (`Column::mapped`); the map it
            // points into lives as long as `self` (the `Arc`) and never changes.
            Repr::Mapped { ptr, len, .. } => unsafe { std::slice::from_raw_parts(*ptr, *len) },
        }
    }
}

impl<T: Plain> DerefMut for Column<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.to_mut()
    }
}

impl<T: Plain> Default for Column<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Plain> Clone for Column<T> {
    fn clone(&self) -> Self {
        match &self.0 {
            Repr::Owned(v) => Column(Repr::Owned(v.clone())),
            Repr::Mapped { map, ptr, len } => Column(Repr::Mapped {
                map: map.clone(),
                ptr: *ptr,
                len: *len,
            }),
        }
    }
}

impl<T: Plain> fmt::Debug for Column<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: Plain> PartialEq for Column<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: Plain> PartialEq<Vec<T>> for Column<T> {
    fn eq(&self, other: &Vec<T>) -> bool {
        **self == **other
    }
}

impl<T: Plain> From<Vec<T>> for Column<T> {
    fn from(v: Vec<T>) -> Self {
        Column(Repr::Owned(v))
    }
}

impl<T: Plain> FromIterator<T> for Column<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Column(Repr::Owned(iter.into_iter().collect()))
    }
}

impl<T: Plain> Extend<T> for Column<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        self.to_mut().extend(iter);
    }
}

impl<'a, T: Plain> IntoIterator for &'a Column<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Text, owned or mapped.
#[derive(Clone)]
pub enum Text {
    Owned(String),
    Mapped {
        map: Arc<Map>,
        offset: usize,
        len: usize,
    },
}

impl Text {
    /// `len` bytes at `offset` of `map`: `None` where they run past its end or are not UTF-8.
    pub fn mapped(map: &Arc<Map>, offset: usize, len: usize) -> Option<Self> {
        let bytes = map.bytes().get(offset..offset.checked_add(len)?)?;
        std::str::from_utf8(bytes).ok()?;
        Some(Text::Mapped {
            map: map.clone(),
            offset,
            len,
        })
    }

    /// The text to change: mapped text is copied into memory first.
    pub fn to_mut(&mut self) -> &mut String {
        if let Text::Mapped { .. } = self {
            *self = Text::Owned(self.deref().to_string());
        }
        match self {
            Text::Owned(s) => s,
            Text::Mapped { .. } => unreachable!("copied into memory above"),
        }
    }

    pub fn heap_bytes(&self) -> usize {
        match self {
            Text::Owned(s) => s.capacity(),
            Text::Mapped { .. } => 0,
        }
    }
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Text::Owned(s) => s,
            Text::Mapped { map, offset, len } => {
                let bytes = &map.bytes()[*offset..*offset + *len];
                // SAFETY: checked to be UTF-8 when made (`Text::mapped`); the map never changes.
                unsafe { std::str::from_utf8_unchecked(bytes) }
            }
        }
    }
}

impl Default for Text {
    fn default() -> Self {
        Text::Owned(String::new())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapped_column_reads_in_place_and_copies_on_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        let values: Vec<i64> = vec![-3, 7, i64::MAX];
        let mut bytes = vec![0u8; 8];
        bytes.extend_from_slice(as_bytes(&values));
        bytes.extend_from_slice("héllo".as_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let map = Map::open(&path).unwrap();
        let mut c = Column::<i64>::mapped(&map, 8, 3).unwrap();
        assert!(c.is_mapped());
        assert_eq!(&c[..], &values[..]);
        assert_eq!(c.heap_bytes(), 0);
        // Misaligned or past the end: no column.
        assert!(Column::<i64>::mapped(&map, 4, 1).is_none());
        assert!(Column::<i64>::mapped(&map, 8, 4).is_none());
        let copy = c.clone();
        c.push(1);
        assert!(!c.is_mapped());
        assert_eq!(c.into_vec(), vec![-3, 7, i64::MAX, 1]);
        assert_eq!(copy, values);
        let t = Text::mapped(&map, 32, 6).unwrap();
        assert_eq!(&*t, "héllo");
        // Cut inside a character: not text.
        assert!(Text::mapped(&map, 32, 2).is_none());
    }
}
