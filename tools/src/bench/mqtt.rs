//! The peer run: the same p2p shape against an MQTT broker (mosquitto),
//! with a minimal MQTT 3.1.1 client on the project's reactor.
//!
//! Each pair's receiver subscribes to `imbench/<receiver>` with QoS 1; its
//! sender publishes QoS 1 messages there on the same clock as the chat
//! senders. PUBACK to the sender plays the part of 1018 (the broker has
//! taken the message), the delivered PUBLISH the part of 1019, and the
//! receiver's PUBACK the part of 1101. The payload is the same 64 bytes:
//! the send time, then padding.
//!
//! Only what this needs: CONNECT/CONNACK, SUBSCRIBE/SUBACK, PUBLISH QoS 1
//! and PUBACK both ways, PINGREQ. Remaining lengths are checked against a
//! limit before anything is buffered, as the chat codec does.

use super::client::Shared;
use hdrhistogram::Histogram;
use reactor::{Codec, ConnId, Ctx, Decoded, FrameError, Handler};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CONNECT: u8 = 1;
const CONNACK: u8 = 2;
const PUBLISH: u8 = 3;
const PUBACK: u8 = 4;
const SUBSCRIBE: u8 = 8;
const SUBACK: u8 = 9;
const PINGREQ: u8 = 12;

/// Largest packet accepted from the broker.
const MAX_REMAINING: usize = 64 * 1024;
use super::client::NEXT_TICK;
const KEEPALIVE_SECS: u16 = 60;

/// One MQTT control packet, borrowed from the input.
#[derive(Debug)]
pub struct Packet<'a> {
    pub kind: u8,
    pub flags: u8,
    pub body: &'a [u8],
}

/// Cuts MQTT packets: a type/flags byte, a variable-length remaining length.
#[derive(Debug, Clone, Default)]
pub struct MqttCodec;

impl Codec for MqttCodec {
    type Frame<'a> = Packet<'a>;

    fn decode<'a>(&mut self, input: &'a [u8]) -> Result<Decoded<Packet<'a>>, FrameError> {
        let Some(&first) = input.first() else {
            return Ok(Decoded::NeedMore { consumed: 0, needed: 2 });
        };
        let (mut length, mut shift, mut at) = (0usize, 0, 1);
        loop {
            let Some(&byte) = input.get(at) else {
                return Ok(Decoded::NeedMore { consumed: 0, needed: 1 });
            };
            length |= usize::from(byte & 0x7f) << shift;
            at += 1;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 21 {
                return Err(FrameError::Malformed("remaining length over 4 bytes".into()));
            }
        }
        if length > MAX_REMAINING {
            return Err(FrameError::BodyTooLong {
                id: u16::from(first >> 4),
                len: length,
                max: MAX_REMAINING,
            });
        }
        if input.len() < at + length {
            return Ok(Decoded::NeedMore { consumed: 0, needed: at + length - input.len() });
        }
        let packet =
            Packet { kind: first >> 4, flags: first & 0x0f, body: &input[at..at + length] };
        Ok(Decoded::Frame { frame: packet, consumed: at + length })
    }
}

/// Appends a packet: fixed header, then `body`.
fn packet(out: &mut Vec<u8>, first: u8, body: &[u8]) {
    out.push(first);
    let mut length = body.len();
    loop {
        let mut byte = (length & 0x7f) as u8;
        length >>= 7;
        if length > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if length == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
}

fn string(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u16).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// One simulated MQTT user.
pub enum Role {
    Sender {
        topic: String,
        sent: u64,
    },
    /// `group`: the topic's number when many subscribe to it (`--fanout`),
    /// 0 for a pair.
    Receiver {
        topic: String,
        group: u64,
        seen: HashSet<u64>,
    },
}

pub struct MqttClient {
    shared: Arc<Shared>,
    users: HashMap<ConnId, (u64, Role)>,
    senders: Vec<ConnId>,
    pub latency: Histogram<u64>,
    /// A fanned-out message's receivers here: (topic number, send time) →
    /// (how many, the latency to the latest, in us), as
    /// `client::LoadClient::group_arrivals`.
    pub group_arrivals: HashMap<(u64, u64), (u32, u64)>,
    /// Due → written, in microseconds (as `client::LoadClient::lateness`).
    pub lateness: Histogram<u64>,
    next_packet_id: u16,
    ticking: bool,
    last_ping: Instant,
}

impl MqttClient {
    pub fn new(shared: Arc<Shared>) -> MqttClient {
        MqttClient {
            shared,
            users: HashMap::new(),
            senders: Vec::new(),
            latency: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
            group_arrivals: HashMap::new(),
            lateness: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
            next_packet_id: 1,
            ticking: false,
            last_ping: Instant::now(),
        }
    }

    /// Connects user `id` with `role` to the broker at `addr`.
    pub fn add(&mut self, ctx: &mut Ctx<Self>, addr: std::net::SocketAddr, id: u64, role: Role) {
        match ctx.connect(addr, None) {
            Ok(conn) => {
                self.users.insert(conn, (id, role));
            }
            Err(_) => {
                self.shared.connect_failed.fetch_add(1, Relaxed);
            }
        }
        if !self.ticking {
            self.ticking = true;
            ctx.run_after(NEXT_TICK, |h, ctx| h.tick(ctx));
        }
    }

    fn packet_id(&mut self) -> u16 {
        let id = self.next_packet_id;
        self.next_packet_id = self.next_packet_id.checked_add(1).unwrap_or(1);
        id
    }

    fn tick(&mut self, ctx: &mut Ctx<Self>) {
        ctx.run_after(NEXT_TICK, |h, ctx| h.tick(ctx));
        if self.last_ping.elapsed() >= Duration::from_secs(u64::from(KEEPALIVE_SECS) / 2) {
            self.last_ping = Instant::now();
            for &conn in self.users.keys() {
                let _ = ctx.send(conn, &[PINGREQ << 4, 0]);
            }
        }
        if !self.shared.sending.load(Relaxed) {
            return;
        }
        let due = self.shared.due();
        let mut out = Vec::new();
        for index in 0..self.senders.len() {
            let conn = self.senders[index];
            let Some((_, Role::Sender { topic, sent })) = self.users.get_mut(&conn) else {
                continue;
            };
            let (topic, from) = (topic.clone(), *sent);
            *sent = (*sent).max(due);
            let now = self.shared.now_ns();
            for nth in from + 1..=due {
                let intended = self.shared.intended_ns(nth);
                let _ = self.lateness.record((now.saturating_sub(intended) / 1000).max(1));
                let payload = format!("{intended:020}{:044}", 0);
                let id = self.packet_id();
                let mut body = Vec::with_capacity(96);
                string(&mut body, &topic);
                body.extend_from_slice(&id.to_be_bytes());
                body.extend_from_slice(payload.as_bytes());
                out.clear();
                packet(&mut out, (PUBLISH << 4) | 0b0010, &body); // QoS 1
                let _ = ctx.send(conn, &out);
                self.shared.sent.fetch_add(1, Relaxed);
            }
        }
    }

    fn on_publish(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, flags: u8, body: &[u8]) {
        let now = self.shared.now_ns();
        let Some(topic_len) = body.get(..2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        else {
            return;
        };
        let qos = (flags >> 1) & 0b11;
        let mut at = 2 + topic_len;
        let packet_id = if qos > 0 {
            let id = body.get(at..at + 2).map(|b| [b[0], b[1]]);
            at += 2;
            id
        } else {
            None
        };
        let Some(payload) = body.get(at..) else { return };
        if let Some(id) = packet_id {
            let mut out = Vec::new();
            packet(&mut out, PUBACK << 4, &id);
            let _ = ctx.send(conn, &out);
        }
        let Some(sent_ns) = std::str::from_utf8(&payload[..20.min(payload.len())])
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
        else {
            return;
        };
        let Some((_, Role::Receiver { seen, group, .. })) = self.users.get_mut(&conn) else {
            return;
        };
        // The send time in nanoseconds is unique per message of a sender.
        if self.shared.arrived(sent_ns, seen.insert(sent_ns), 0) {
            let micros = (now.saturating_sub(sent_ns) / 1000).max(1);
            let _ = self.latency.record(micros);
            if *group != 0 {
                let arrival = self.group_arrivals.entry((*group, sent_ns)).or_default();
                *arrival = (arrival.0 + 1, arrival.1.max(micros));
            }
        }
    }
}

impl Handler for MqttClient {
    type Codec = MqttCodec;
    type Session = ();

    fn on_connect(&mut self, ctx: &mut Ctx<Self>, conn: ConnId) {
        let Some((id, _)) = self.users.get(&conn) else { return };
        let mut body = Vec::new();
        string(&mut body, "MQTT");
        body.push(4); // protocol level 3.1.1
        body.push(0x02); // clean session
        body.extend_from_slice(&KEEPALIVE_SECS.to_be_bytes());
        string(&mut body, &format!("imbench-{id}"));
        let mut out = Vec::new();
        packet(&mut out, CONNECT << 4, &body);
        let _ = ctx.send(conn, &out);
    }

    fn on_frame(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, p: Packet<'_>) {
        match p.kind {
            CONNACK if p.body.get(1) == Some(&0) => match self.users.get(&conn) {
                Some((_, Role::Receiver { topic, .. })) => {
                    let mut body = Vec::new();
                    body.extend_from_slice(&self.next_packet_id.max(1).to_be_bytes());
                    string(&mut body, topic);
                    body.push(1); // QoS 1
                    let mut out = Vec::new();
                    packet(&mut out, (SUBSCRIBE << 4) | 0b0010, &body);
                    let _ = ctx.send(conn, &out);
                }
                Some((_, Role::Sender { .. })) => {
                    self.senders.push(conn);
                    self.shared.logged_in.fetch_add(1, Relaxed);
                }
                None => {}
            },
            CONNACK => {
                self.shared.login_failed.fetch_add(1, Relaxed);
            }
            SUBACK if p.body.get(2).is_some_and(|&code| code <= 2) => {
                self.shared.logged_in.fetch_add(1, Relaxed);
            }
            SUBACK => {
                self.shared.login_failed.fetch_add(1, Relaxed);
            }
            PUBACK => {
                self.shared.acknowledged.fetch_add(1, Relaxed);
            }
            PUBLISH => self.on_publish(ctx, conn, p.flags, p.body),
            _ => {} // PINGRESP
        }
    }

    fn on_close(&mut self, _: &mut Ctx<Self>, conn: ConnId, _: (), _: &reactor::CloseReason) {
        if self.users.remove(&conn).is_some() {
            self.senders.retain(|&c| c != conn);
            self.shared.closed.fetch_add(1, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_round_trip_through_the_codec() {
        let mut out = Vec::new();
        packet(&mut out, (PUBLISH << 4) | 0b0010, &[7u8; 300]); // a two-byte remaining length
        assert_eq!(&out[..3], &[0x32, 0xac, 0x02]);
        match MqttCodec.decode(&out).unwrap() {
            Decoded::Frame { frame, consumed } => {
                assert_eq!(
                    (frame.kind, frame.flags, frame.body.len(), consumed),
                    (PUBLISH, 2, 300, 303)
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(MqttCodec.decode(&out[..100]).unwrap(), Decoded::NeedMore { .. }));
        assert!(MqttCodec.decode(&[0x30, 0xff, 0xff, 0xff, 0x7f]).is_err(), "over the limit");
    }
}
