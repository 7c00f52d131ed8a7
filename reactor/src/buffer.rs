//! A growable byte buffer with a cheap prepend area, after muduo's `Buffer`.
//!
//! ```text
//! +-------------------+------------------+------------------+
//! | prependable bytes |  readable bytes  |  writable bytes  |
//! |                   |    (content)     |                  |
//! +-------------------+------------------+------------------+
//! 0      <=       read_index    <=   write_index    <=   data.len()
//! ```
//!
//! Reading consumes from the front by moving `read_index`; writing appends at
//! `write_index`. Nothing is shifted on every consume: the content slides back
//! to the front only when the tail runs out of room, and memory grows only when
//! sliding would not make enough room. The [`PREPEND`] bytes kept in front let
//! a length header be written in front of a body that was built first, without
//! copying the body.
//!
//! A new or idle buffer owns no heap memory at all, which is what keeps an idle
//! connection cheap: see [`Buffer::release_if_empty`].
//!
//! A buffer belongs to one thread at a time (it is `Send`, not shared).

use std::io::{self, Read, Write};

/// Bytes reserved in front of the content for a header written after the body.
pub const PREPEND: usize = 8;

/// The smallest allocation made when an empty buffer first needs room.
const MIN_ALLOC: usize = 128;

/// A byte queue: append at the back, consume from the front, prepend cheaply.
#[derive(Default)]
pub struct Buffer {
    /// Backing storage; every byte of it is initialised (`len()` is the capacity).
    data: Vec<u8>,
    /// Start of the readable bytes; everything before it is the prepend area.
    read_index: usize,
    /// End of the readable bytes; everything after it is free to write.
    write_index: usize,
}

impl Buffer {
    /// An empty buffer that owns no memory until the first byte is written.
    pub const fn new() -> Buffer {
        Buffer { data: Vec::new(), read_index: 0, write_index: 0 }
    }

    /// An empty buffer with room for `capacity` bytes after the prepend area.
    pub fn with_capacity(capacity: usize) -> Buffer {
        Buffer { data: vec![0; PREPEND + capacity], read_index: PREPEND, write_index: PREPEND }
    }

    /// Number of readable bytes.
    pub fn len(&self) -> usize {
        self.write_index - self.read_index
    }

    /// True when there is nothing to read.
    pub fn is_empty(&self) -> bool {
        self.read_index == self.write_index
    }

    /// Bytes of heap memory held (prepend area, content and free tail).
    pub fn capacity(&self) -> usize {
        self.data.len()
    }

    /// Free bytes after the content.
    pub fn writable_len(&self) -> usize {
        self.data.len() - self.write_index
    }

    /// Bytes available in front of the content for [`Buffer::prepend`].
    pub fn prependable_len(&self) -> usize {
        self.read_index
    }

    /// The readable bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.data[self.read_index..self.write_index]
    }

    /// The readable bytes, mutable (used to back-fill a header after the body).
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.data[self.read_index..self.write_index]
    }

    /// Drops `n` bytes from the front. Panics if fewer than `n` are readable.
    pub fn consume(&mut self, n: usize) {
        assert!(n <= self.len(), "consume({n}) past the {} readable bytes", self.len());
        self.read_index += n;
        if self.read_index == self.write_index {
            // Empty again: rewind so the whole tail is writable, at no cost.
            self.rewind();
        }
    }

    /// Drops every readable byte (keeps the memory).
    pub fn clear(&mut self) {
        self.rewind();
    }

    /// Keeps only the first `len` readable bytes (undoes a partly written item).
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.write_index = self.read_index + len;
        }
    }

    /// Appends bytes at the back.
    pub fn append(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        self.data[self.write_index..self.write_index + bytes.len()].copy_from_slice(bytes);
        self.write_index += bytes.len();
    }

    /// Writes bytes in front of the content, into the prepend area.
    ///
    /// Panics if the prepend area is smaller than `bytes`: callers prepend a
    /// fixed-size header of at most [`PREPEND`] bytes to a buffer they filled
    /// themselves.
    pub fn prepend(&mut self, bytes: &[u8]) {
        assert!(
            bytes.len() <= self.read_index,
            "prepend of {} bytes into a prepend area of {}",
            bytes.len(),
            self.read_index
        );
        self.read_index -= bytes.len();
        self.data[self.read_index..self.read_index + bytes.len()].copy_from_slice(bytes);
    }

    /// Makes sure at least `additional` bytes can be written without growing.
    ///
    /// First slides the content to the front if the consumed prefix would give
    /// enough room; grows only otherwise (geometrically, to amortise copies).
    pub fn reserve(&mut self, additional: usize) {
        if self.writable_len() >= additional {
            return;
        }
        if self.data.is_empty() {
            self.data = vec![0; PREPEND + additional.max(MIN_ALLOC)];
            self.rewind();
            return;
        }
        if self.read_index > PREPEND {
            let len = self.len();
            self.data.copy_within(self.read_index..self.write_index, PREPEND);
            self.read_index = PREPEND;
            self.write_index = PREPEND + len;
            if self.writable_len() >= additional {
                return;
            }
        }
        let needed = self.write_index + additional;
        let grown = needed.max(self.data.len() + self.data.len() / 2);
        self.data.resize(grown, 0);
    }

    /// The free tail, for a reader to fill; follow with [`Buffer::advance_write`].
    pub fn writable_slice(&mut self) -> &mut [u8] {
        &mut self.data[self.write_index..]
    }

    /// Marks `n` bytes of the free tail as written.
    pub fn advance_write(&mut self, n: usize) {
        assert!(n <= self.writable_len(), "advance_write past the end");
        self.write_index += n;
    }

    /// One `read` call from `source` into the tail, after reserving `at_least` bytes.
    pub fn read_from(&mut self, source: &mut impl Read, at_least: usize) -> io::Result<usize> {
        self.reserve(at_least);
        let n = source.read(self.writable_slice())?;
        self.write_index += n;
        Ok(n)
    }

    /// One `write` call of the readable bytes to `sink`; consumes what was written.
    pub fn write_to(&mut self, sink: &mut impl Write) -> io::Result<usize> {
        let n = sink.write(self.as_slice())?;
        self.consume(n);
        Ok(n)
    }

    /// Frees the memory of an empty buffer that holds more than `keep` bytes.
    ///
    /// Called when a connection's output drains, so that a burst does not pin
    /// its peak allocation for the rest of the connection's life.
    pub fn release_if_empty(&mut self, keep: usize) {
        if self.is_empty() && self.data.len() > keep {
            *self = Buffer::new();
        }
    }

    fn rewind(&mut self) {
        let start = PREPEND.min(self.data.len());
        self.read_index = start;
        self.write_index = start;
    }
}

/// Appending through `io::Write` lets a serializer write straight into the buffer.
impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.append(bytes);
        Ok(bytes.len())
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.append(bytes);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Buffer")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_buffer_owns_no_memory() {
        let buf = Buffer::new();
        assert_eq!(buf.capacity(), 0);
        assert!(buf.is_empty());
    }

    #[test]
    fn append_then_consume_in_pieces() {
        let mut buf = Buffer::new();
        buf.append(b"hello ");
        buf.append(b"world");
        assert_eq!(buf.as_slice(), b"hello world");
        buf.consume(6);
        assert_eq!(buf.as_slice(), b"world");
        buf.consume(5);
        assert!(buf.is_empty());
        assert_eq!(buf.prependable_len(), PREPEND);
    }

    #[test]
    fn prepend_writes_a_header_in_front_without_moving_the_body() {
        let mut buf = Buffer::with_capacity(16);
        buf.append(b"body");
        buf.prepend(&[0, 4]);
        assert_eq!(buf.as_slice(), &[0, 4, b'b', b'o', b'd', b'y']);
    }

    #[test]
    #[should_panic(expected = "prepend")]
    fn prepend_larger_than_the_area_panics() {
        let mut buf = Buffer::with_capacity(4);
        buf.prepend(&[0; PREPEND + 1]);
    }

    #[test]
    fn reserve_slides_content_before_growing() {
        let mut buf = Buffer::with_capacity(32);
        buf.append(&[7; 30]);
        buf.consume(28);
        let before = buf.capacity();
        buf.reserve(20);
        assert_eq!(buf.capacity(), before, "sliding made room, no growth");
        assert_eq!(buf.as_slice(), &[7, 7]);
        assert!(buf.writable_len() >= 20);
    }

    #[test]
    fn reserve_grows_when_sliding_is_not_enough() {
        let mut buf = Buffer::with_capacity(8);
        buf.append(&[1; 8]);
        buf.reserve(100);
        assert!(buf.writable_len() >= 100);
        assert_eq!(buf.as_slice(), &[1; 8]);
    }

    #[test]
    fn read_and_write_through_io_traits() {
        let mut buf = Buffer::new();
        let mut source: &[u8] = b"abcdef";
        assert_eq!(buf.read_from(&mut source, 4).unwrap(), 6);
        let mut sink = Vec::new();
        assert_eq!(buf.write_to(&mut sink).unwrap(), 6);
        assert_eq!(sink, b"abcdef");
        assert!(buf.is_empty());
    }

    #[test]
    fn truncate_undoes_a_partial_append() {
        let mut buf = Buffer::new();
        buf.append(b"keep");
        let mark = buf.len();
        buf.append(b"drop");
        buf.truncate(mark);
        assert_eq!(buf.as_slice(), b"keep");
    }

    #[test]
    fn release_if_empty_frees_only_empty_large_buffers() {
        let mut buf = Buffer::with_capacity(1 << 16);
        buf.append(b"x");
        buf.release_if_empty(1024);
        assert!(buf.capacity() > 1024, "not empty: kept");
        buf.consume(1);
        buf.release_if_empty(1024);
        assert_eq!(buf.capacity(), 0);
    }
}
