//! HTTP/1.1 on the reactor: a [`Codec`] that cuts requests out of a
//! connection's bytes (parsed with `httparse`), and response encoding.
//!
//! Only what the gate's clients need: requests with a `Content-Length` body
//! (or none), keep-alive, pipelining. Anything else is refused with a status
//! and the connection is closed:
//!
//! | input | status |
//! |---|---|
//! | not HTTP/1.x, bad request line or header | 400 |
//! | header block over the limit | 431 |
//! | `Content-Length` over the limit | 413 (nothing is buffered for it) |
//! | `Transfer-Encoding` (chunked bodies) | 411 |
//! | conflicting `Content-Length` headers | 400 |
//!
//! A request that never completes (slow-loris, a short body) is the
//! handler's business: it closes connections that miss the request deadline.

use reactor::{Codec, Decoded, FrameError};

/// Headers looked at per request; more is a 431.
const MAX_HEADERS: usize = 32;

/// A complete request, borrowed from the connection's input.
#[derive(Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// Whether the client wants the connection kept open afterwards.
    pub keep_alive: bool,
    pub body: &'a [u8],
}

/// What the codec hands the handler.
#[derive(Debug)]
pub enum HttpEvent<'a> {
    Request(Request<'a>),
    /// The input cannot be served: answer with this status and close.
    Refused(u16),
}

/// Per-connection request parser.
#[derive(Debug, Clone)]
pub struct HttpCodec {
    max_head: usize,
    max_body: usize,
    /// After a refusal, every further byte is dropped (the connection closes).
    refused: bool,
}

impl HttpCodec {
    pub fn new(max_head: usize, max_body: usize) -> HttpCodec {
        HttpCodec { max_head, max_body, refused: false }
    }

    fn refuse<'a>(&mut self, input: &[u8], status: u16) -> Decoded<HttpEvent<'a>> {
        self.refused = true;
        Decoded::Frame { frame: HttpEvent::Refused(status), consumed: input.len() }
    }
}

impl Codec for HttpCodec {
    type Frame<'a> = HttpEvent<'a>;

    /// Parses the head again on every call until the request is whole: the
    /// head is at most `max_head` bytes, so this costs little and keeps the
    /// codec free of borrowed state.
    fn decode<'a>(&mut self, input: &'a [u8]) -> Result<Decoded<HttpEvent<'a>>, FrameError> {
        if self.refused {
            return Ok(Decoded::NeedMore { consumed: input.len(), needed: 1 });
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        // Only the first `max_head` bytes are looked at: what lies beyond
        // cannot change the answer, so a head that is too long is a 431
        // however TCP cut it (whole, a later bad byte would have made it a
        // 400; the `http` fuzz target found that).
        let head = &input[..input.len().min(self.max_head)];
        let head_len = match parsed.parse(head) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if input.len() > self.max_head => {
                return Ok(self.refuse(input, 431))
            }
            Ok(httparse::Status::Partial) => {
                return Ok(Decoded::NeedMore { consumed: 0, needed: 1 })
            }
            Err(httparse::Error::TooManyHeaders) => return Ok(self.refuse(input, 431)),
            Err(_) => return Ok(self.refuse(input, 400)),
        };
        let (Some(method), Some(path), Some(version)) =
            (parsed.method, parsed.path, parsed.version)
        else {
            return Ok(self.refuse(input, 400));
        };
        let mut content_length: Option<usize> = None;
        let mut connection = None;
        for header in parsed.headers.iter() {
            if header.name.eq_ignore_ascii_case("content-length") {
                let value = std::str::from_utf8(header.value).ok().map(str::trim);
                let Some(length) = value.and_then(|v| v.parse::<usize>().ok()) else {
                    return Ok(self.refuse(input, 400));
                };
                if content_length.is_some_and(|earlier| earlier != length) {
                    return Ok(self.refuse(input, 400)); // request smuggling
                }
                content_length = Some(length);
            } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                return Ok(self.refuse(input, 411));
            } else if header.name.eq_ignore_ascii_case("connection") {
                connection = Some(header.value.to_ascii_lowercase());
            }
        }
        let body_len = content_length.unwrap_or(0);
        if body_len > self.max_body {
            return Ok(self.refuse(input, 413));
        }
        let total = head_len + body_len;
        if input.len() < total {
            return Ok(Decoded::NeedMore { consumed: 0, needed: total - input.len() });
        }
        let keep_alive = match connection.as_deref() {
            Some(b"close") => false,
            Some(b"keep-alive") => true,
            _ => version == 1, // HTTP/1.1 keeps alive by default, 1.0 does not
        };
        let request = Request { method, path, keep_alive, body: &input[head_len..total] };
        Ok(Decoded::Frame { frame: HttpEvent::Request(request), consumed: total })
    }
}

/// The reason phrase of the statuses the gate sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

/// A whole response: status line, headers, body.
pub fn response(status: u16, content_type: &str, body: &[u8], keep_alive: bool) -> Vec<u8> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
        reason(status),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(input: &[u8]) -> Decoded<HttpEvent<'_>> {
        HttpCodec::new(1024, 64).decode(input).unwrap()
    }

    #[test]
    fn a_request_with_a_body_is_whole_only_with_its_body() {
        let full = b"POST /user_login HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}GET";
        match decode(full) {
            Decoded::Frame { frame: HttpEvent::Request(r), consumed } => {
                assert_eq!(
                    (r.method, r.path, r.body, r.keep_alive),
                    ("POST", "/user_login", &b"{}"[..], true)
                );
                assert_eq!(consumed, full.len() - 3, "the next request's bytes stay");
            }
            other => panic!("{other:?}"),
        }
        let short = b"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\n{}";
        assert!(matches!(decode(short), Decoded::NeedMore { consumed: 0, needed: 3 }));
    }

    #[test]
    fn bad_input_is_refused_with_its_status() {
        let refused = |input: &[u8]| match decode(input) {
            Decoded::Frame { frame: HttpEvent::Refused(status), .. } => status,
            other => panic!("{other:?}"),
        };
        assert_eq!(refused(b"HELLO\r\n\r\n"), 400);
        assert_eq!(refused(b"POST /x HTTP/1.1\r\nContent-Length: 65\r\n\r\n"), 413);
        assert_eq!(
            refused(b"POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            400
        );
        assert_eq!(refused(b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 411);
        assert_eq!(refused(&[b'a'; 2000]), 431);
        assert_eq!(refused(b"POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
    }

    #[test]
    fn a_head_over_the_limit_is_a_431_however_it_arrives() {
        // A bad byte after the limit: whole, it once made a 400; in pieces,
        // the limit is reached first and it was a 431 (found by fuzzing).
        let mut input = b"GET /".to_vec();
        input.extend([b'a'; 1100]);
        input.extend(b"\x01 HTTP/1.1\r\n\r\n");
        let whole = match decode(&input) {
            Decoded::Frame { frame: HttpEvent::Refused(status), .. } => status,
            other => panic!("{other:?}"),
        };
        let mut codec = HttpCodec::new(1024, 64);
        assert!(matches!(codec.decode(&input[..1000]), Ok(Decoded::NeedMore { .. })));
        let in_pieces = match codec.decode(&input[..1030]).unwrap() {
            Decoded::Frame { frame: HttpEvent::Refused(status), .. } => status,
            other => panic!("{other:?}"),
        };
        assert_eq!((whole, in_pieces), (431, 431));
    }

    #[test]
    fn http_1_0_closes_unless_asked_to_keep_alive() {
        let keep = |input: &[u8]| match decode(input) {
            Decoded::Frame { frame: HttpEvent::Request(r), .. } => r.keep_alive,
            other => panic!("{other:?}"),
        };
        assert!(!keep(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(keep(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        assert!(!keep(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
    }
}
