//! Delivery watermarks: how acknowledgements move them, and what a device
//! has not received yet. The rules are here, once, for every backend; each
//! backend gives the rows ([`WatermarkRows`], inside one transaction) and two
//! reads ([`super::StoreConn::conversations_behind`] and
//! [`super::StoreConn::conversation_after`]).
//!
//! A watermark belongs to (user, device, conversation): every message of the
//! conversation with a seq up to it has reached that device. It only rises.
//!
//! * A cumulative acknowledgement ("conversation C up to seq N") raises it to
//!   N (at most the conversation's last seq, and only for a member): the
//!   client has checked that it holds everything below.
//! * An acknowledgement by message ids (1101, and what a dialect counts as
//!   delivered) raises it only over contiguous seqs: from the watermark up,
//!   each seq must be acknowledged now, have been acknowledged earlier out
//!   of order ([`HeldAcks`]), or be a message the user sent (a device has its
//!   own messages: the sending device got them in 1018, and the legacy device
//!   is never pushed them). The first seq that is none of these stops it;
//!   the acknowledged seqs above it wait in [`HeldAcks`].
//!
//! Losing what waits (the held acks are memory only: a restart, a batch that
//! failed, more than [`HeldAcks`] holds) never loses a message: it only
//! means those messages are pushed again at the next sync, and the client
//! drops them as duplicates by `message_id`.

use super::model::{Acknowledged, DeliveryAck, StoredMessage, ThreadRecord};
use super::pool::StoreError;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Whose watermark: a device of a user in one conversation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WatermarkKey {
    pub uid: u64,
    pub device: String,
    pub thread_id: u64,
}

/// A message's place: `(thread_id, seq)`.
pub type SeqPoint = (u64, u64);

/// What the rules need of a message named by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageKey {
    pub message_id: u64,
    pub thread_id: u64,
    pub seq: u64,
    pub sender: u64,
    pub receiver: u64,
}

/// A group member: `(thread_id, uid)`.
pub type MemberKey = (u64, u64);

/// The rows the rules read and write, inside one transaction of a backend.
/// Each method is one statement however many rows it names.
pub trait WatermarkRows {
    /// The messages with these ids (those that exist).
    fn message_keys(&mut self, ids: &[u64]) -> Result<Vec<MessageKey>, StoreError>;
    /// These conversations (those that exist), each with its last seq.
    fn conversations(&mut self, ids: &[u64]) -> Result<Vec<(ThreadRecord, u64)>, StoreError>;
    /// The watermarks of these keys (those that exist).
    fn watermarks(&mut self, keys: &[WatermarkKey])
        -> Result<Vec<(WatermarkKey, u64)>, StoreError>;
    /// Of these `(thread_id, uid)`, the group memberships (current or
    /// former), each with the last seq the member may have (`u64::MAX`: no
    /// bound; a former member's leaving).
    fn memberships(&mut self, keys: &[MemberKey]) -> Result<Vec<(MemberKey, u64)>, StoreError>;
    /// The sender of each of these `(thread_id, seq)` messages (those that exist).
    fn senders(&mut self, points: &[SeqPoint]) -> Result<Vec<(SeqPoint, u64)>, StoreError>;
    /// Raises each watermark to at least its seq, creating it if absent.
    /// Returns how many changed.
    fn raise(&mut self, marks: &[(WatermarkKey, u64)]) -> Result<u64, StoreError>;
}

/// Most seqs one batch checks for their sender (the gaps between a
/// watermark and what was acknowledged above it). Beyond it a watermark
/// stops early and moves on at a later acknowledgement.
const MAX_GAP_POINTS: usize = 4096;

/// Acknowledged seqs that could not move their watermark yet (an earlier
/// seq is missing), waiting for it. Memory only and bounded: when full it
/// starts again empty (those messages are pushed again at the next sync).
/// Owned by the thread that commits acknowledgements.
#[derive(Debug)]
pub struct HeldAcks {
    seqs: HashMap<WatermarkKey, BTreeSet<u64>>,
    count: usize,
    capacity: usize,
}

impl HeldAcks {
    pub fn new(capacity: usize) -> HeldAcks {
        HeldAcks { seqs: HashMap::new(), count: 0, capacity }
    }

    /// Seqs waiting, over all watermarks.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn take(&mut self, key: &WatermarkKey) -> BTreeSet<u64> {
        let seqs = self.seqs.remove(key).unwrap_or_default();
        self.count -= seqs.len();
        seqs
    }

    fn hold(&mut self, key: WatermarkKey, seqs: BTreeSet<u64>) {
        if seqs.is_empty() {
            return;
        }
        if self.count + seqs.len() > self.capacity {
            log::debug!(
                "{} held acknowledgements forgotten (pushed again at the next sync)",
                self.count
            );
            self.seqs.clear();
            self.count = 0;
            if seqs.len() > self.capacity {
                return;
            }
        }
        self.count += seqs.len();
        self.seqs.insert(key, seqs);
    }
}

/// What one batch says of one watermark.
#[derive(Debug, Default)]
struct Claim {
    /// Raised to at least this (cumulative acknowledgements).
    floor: u64,
    /// Acknowledged seqs above the floor, by id.
    acked: BTreeSet<u64>,
}

/// Applies a batch of acknowledgements (the rules above); returns how many
/// watermarks rose. Inside the caller's transaction.
pub fn advance(
    rows: &mut dyn WatermarkRows,
    acks: &[DeliveryAck],
    held: &mut HeldAcks,
) -> Result<u64, StoreError> {
    let mut claims = claims_of(rows, acks)?;
    if claims.is_empty() {
        return Ok(0);
    }
    for (key, claim) in claims.iter_mut() {
        claim.acked.extend(held.take(key));
    }
    let keys: Vec<WatermarkKey> = claims.keys().cloned().collect();
    let current: HashMap<WatermarkKey, u64> = rows.watermarks(&keys)?.into_iter().collect();

    // Where each walk starts, and the seqs it must ask about on its way up.
    let mut gaps: Vec<(u64, u64)> = Vec::new();
    for (key, claim) in claims.iter_mut() {
        let start = claim.floor.max(current.get(key).copied().unwrap_or(0));
        claim.floor = start;
        claim.acked = claim.acked.split_off(&(start + 1));
        let Some(&top) = claim.acked.last() else { continue };
        for seq in start + 1..top {
            if gaps.len() == MAX_GAP_POINTS {
                break;
            }
            if !claim.acked.contains(&seq) {
                gaps.push((key.thread_id, seq));
            }
        }
    }
    let senders: HashMap<(u64, u64), u64> =
        if gaps.is_empty() { HashMap::new() } else { rows.senders(&gaps)?.into_iter().collect() };

    let mut raised = Vec::new();
    for (key, mut claim) in claims {
        let mut mark = claim.floor;
        loop {
            let next = mark + 1;
            let own = senders.get(&(key.thread_id, next)) == Some(&key.uid);
            // `senders` holds only seqs below an acknowledged one.
            if claim.acked.remove(&next) || own {
                mark = next;
            } else {
                break;
            }
        }
        if mark > current.get(&key).copied().unwrap_or(0) {
            raised.push((key.clone(), mark));
        }
        held.hold(key, claim.acked);
    }
    if raised.is_empty() {
        return Ok(0);
    }
    rows.raise(&raised)
}

/// Each acknowledgement as claims on watermarks: ids resolved to seqs (only
/// messages addressed to the acknowledging user count: its private ones,
/// and its groups' up to its leaving), conversations checked for membership
/// and clamped to their last seq (or the leaving).
fn claims_of(
    rows: &mut dyn WatermarkRows,
    acks: &[DeliveryAck],
) -> Result<BTreeMap<WatermarkKey, Claim>, StoreError> {
    let mut ids: Vec<u64> = Vec::new();
    let mut conversations: Vec<u64> = Vec::new();
    for ack in acks {
        match &ack.acknowledged {
            Acknowledged::Messages(message_ids) => ids.extend(message_ids),
            Acknowledged::UpTo { conversation, .. } => conversations.push(*conversation),
        }
    }
    ids.sort_unstable();
    ids.dedup();
    conversations.sort_unstable();
    conversations.dedup();
    let messages: HashMap<u64, MessageKey> = if ids.is_empty() {
        HashMap::new()
    } else {
        rows.message_keys(&ids)?.into_iter().map(|m| (m.message_id, m)).collect()
    };
    let threads: HashMap<u64, (ThreadRecord, u64)> = if conversations.is_empty() {
        HashMap::new()
    } else {
        rows.conversations(&conversations)?.into_iter().map(|c| (c.0.thread_id, c)).collect()
    };
    let mut group_keys: Vec<(u64, u64)> = Vec::new();
    for ack in acks {
        match &ack.acknowledged {
            Acknowledged::Messages(message_ids) => group_keys.extend(
                message_ids
                    .iter()
                    .filter_map(|id| messages.get(id))
                    .filter(|m| m.receiver == 0)
                    .map(|m| (m.thread_id, ack.uid)),
            ),
            Acknowledged::UpTo { conversation, .. } => {
                if threads.get(conversation).is_some_and(|(t, _)| t.is_group()) {
                    group_keys.push((*conversation, ack.uid));
                }
            }
        }
    }
    group_keys.sort_unstable();
    group_keys.dedup();
    let until: HashMap<(u64, u64), u64> = if group_keys.is_empty() {
        HashMap::new()
    } else {
        rows.memberships(&group_keys)?.into_iter().collect()
    };
    let mut claims: BTreeMap<WatermarkKey, Claim> = BTreeMap::new();
    for ack in acks {
        let key_of =
            |thread_id| WatermarkKey { uid: ack.uid, device: ack.device.clone(), thread_id };
        match &ack.acknowledged {
            Acknowledged::Messages(message_ids) => {
                for id in message_ids {
                    let addressed = |m: &&MessageKey| {
                        m.receiver == ack.uid
                            || (m.receiver == 0
                                && until.get(&(m.thread_id, ack.uid)).is_some_and(|&u| m.seq <= u))
                    };
                    let Some(m) = messages.get(id).filter(addressed) else {
                        continue;
                    };
                    claims.entry(key_of(m.thread_id)).or_default().acked.insert(m.seq);
                }
            }
            Acknowledged::UpTo { conversation, seq } => {
                let Some((thread, last_seq)) = threads.get(conversation) else { continue };
                let bound = if thread.is_group() {
                    until.get(&(*conversation, ack.uid)).copied()
                } else {
                    thread.has_member(ack.uid).then_some(u64::MAX)
                };
                let Some(bound) = bound.filter(|_| *seq != 0) else { continue };
                let claim = claims.entry(key_of(*conversation)).or_default();
                claim.floor = claim.floor.max((*seq).min(*last_seq).min(bound));
            }
        }
    }
    Ok(claims)
}

/// Marks each message delivered if the watermark of its receiver (on any
/// device) covers it; `watermark_of(uid, thread_id)` reads one.
pub fn fill_delivered(
    messages: &mut [StoredMessage],
    mut watermark_of: impl FnMut(u64, u64) -> Result<u64, StoreError>,
) -> Result<(), StoreError> {
    let mut known: HashMap<(u64, u64), u64> = HashMap::new();
    for m in messages.iter_mut() {
        if m.receiver == 0 {
            continue; // a group's: no one receiver's watermark says
        }
        let key = (m.receiver, m.thread_id);
        let mark = match known.get(&key) {
            Some(&mark) => mark,
            None => {
                let mark = watermark_of(m.receiver, m.thread_id)?;
                known.insert(key, mark);
                mark
            }
        };
        m.delivered = m.seq <= mark;
    }
    Ok(())
}
