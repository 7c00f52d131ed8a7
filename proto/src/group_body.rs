//! JSON bodies of the group requests, 1120-1141 (PROTOCOL.md "Groups").
//!
//! Every request names its group by `group_id`, which is also the group's
//! `conversation_id` (its messages are sent with 1017 `{group_id, ...}` and
//! pushed as 1019 like any message). Changes of membership are answered with
//! the `seq` of the event they stored; the event itself reaches every member
//! (the one who made it too) as a 1019 of kind 1.

use crate::body::lenient_uid;
use serde::{Deserialize, Serialize};

// ----- requests (client → server) -----------------------------------------

/// 1120 GROUP_CREATE_REQ: a new group with its creator as owner and
/// `members` (the creator's friends) in it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupCreateReq {
    pub name: String,
    pub description: String,
    pub members: Vec<u64>,
}

/// 1122 GROUP_INVITE_REQ: adds the inviter's friends `uids`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupInviteReq {
    pub group_id: u64,
    pub uids: Vec<u64>,
}

/// 1124 GROUP_LEAVE_REQ, 1132 GROUP_DISSOLVE_REQ, 1136 GROUP_INFO_REQ.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupReq {
    pub group_id: u64,
}

/// 1126 GROUP_REMOVE_REQ: removes member `uid` (owner and admins).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupRemoveReq {
    pub group_id: u64,
    #[serde(deserialize_with = "lenient_uid")]
    pub uid: u64,
}

/// 1128 GROUP_SET_ROLE_REQ: the owner makes member `uid` an `admin`, a
/// `member` again, or the `owner` (a transfer: the old owner is an admin then).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupSetRoleReq {
    pub group_id: u64,
    #[serde(deserialize_with = "lenient_uid")]
    pub uid: u64,
    pub role: String,
}

/// 1130 GROUP_UPDATE_REQ: what is given changes (owner and admins).
/// `invite`: `members` (any member invites friends) or `admins`;
/// `history_visible`: new members may read what came before their joining.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupUpdateReq {
    pub group_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_visible: Option<bool>,
}

/// 1134 LOAD_GROUPS_REQ: the user's groups with ids above `after`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadGroupsReq {
    pub after: u64,
}

/// 1138 GROUP_MEMBERS_REQ: members with uids above `after_uid`, at most
/// `limit` (0 or above the page size: the page size).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupMembersReq {
    pub group_id: u64,
    pub after_uid: u64,
    pub limit: u32,
}

/// 1140 GROUP_READERS_REQ: who has read the group up to `seq` (at least),
/// members with uids above `after_uid`, at most `limit`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupReadersReq {
    pub group_id: u64,
    pub seq: u64,
    pub after_uid: u64,
    pub limit: u32,
}

// ----- responses (server → client) -----------------------------------------

/// A group as its members see it (1121, 1135, 1137).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupInfo {
    pub group_id: u64,
    pub name: String,
    pub description: String,
    pub owner: u64,
    /// `members` or `admins`: who may invite.
    pub invite: String,
    pub history_visible: bool,
    pub member_count: u32,
    pub last_seq: u64,
    /// The asking user's role: `owner`, `admin`, `member`, or `left` (a
    /// former member, who may still read up to `left_seq`).
    pub role: String,
    pub joined_seq: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub left_seq: u64,
    /// The seq of its dissolution (0: it lives).
    #[serde(skip_serializing_if = "is_zero")]
    pub dissolved_seq: u64,
}

/// 1121 GROUP_CREATE_RSP, 1137 GROUP_INFO_RSP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupRsp {
    pub error: i32,
    pub group: Option<GroupInfo>,
}

/// 1123, 1125, 1127, 1129, 1131, 1133: a change was stored as the event
/// `seq` of the group (0 with an error, or when nothing changed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupChangeRsp {
    pub error: i32,
    pub group_id: u64,
    pub seq: u64,
}

/// 1135 LOAD_GROUPS_RSP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadGroupsRsp {
    pub error: i32,
    pub groups: Vec<GroupInfo>,
    pub load_more: bool,
    pub next_after: u64,
}

/// One member in 1139.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupMember {
    pub uid: u64,
    pub name: String,
    pub nick: String,
    pub icon: String,
    /// `owner`, `admin` or `member`.
    pub role: String,
    pub joined_seq: u64,
}

/// 1139 GROUP_MEMBERS_RSP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupMembersRsp {
    pub error: i32,
    pub group_id: u64,
    pub members: Vec<GroupMember>,
    pub load_more: bool,
    pub next_after: u64,
}

/// 1141 GROUP_READERS_RSP: `read_count` of the `member_count` members
/// other than the asker have read up to `seq`; `readers` is a page of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupReadersRsp {
    pub error: i32,
    pub group_id: u64,
    pub seq: u64,
    pub read_count: u32,
    pub member_count: u32,
    pub readers: Vec<u64>,
    pub load_more: bool,
    pub next_after: u64,
}

/// What a group event (a 1019 of kind 1) says, in its `content`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum GroupEvent {
    /// The group was made by `by`, called `name`.
    Created { by: u64, name: String },
    /// `uids` joined, invited by `by`.
    Joined { by: u64, uids: Vec<u64> },
    /// `uid` left.
    Left { uid: u64 },
    /// `by` removed `uid`.
    Removed { by: u64, uid: u64 },
    /// `uid`'s role is now `role` (`admin` or `member`), set by the owner `by`.
    Role { by: u64, uid: u64, role: String },
    /// `to` owns the group now (`from` did).
    Owner { from: u64, to: u64 },
    /// `by` changed what is given.
    Updated {
        by: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invite: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        history_visible: Option<bool>,
    },
    /// `by` dissolved the group: nothing more is sent in it.
    Dissolved { by: u64 },
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_tagged_json() {
        let e = GroupEvent::Joined { by: 1, uids: vec![2, 3] };
        let text = serde_json::to_string(&e).unwrap();
        assert_eq!(text, r#"{"event":"joined","by":1,"uids":[2,3]}"#);
        assert_eq!(serde_json::from_str::<GroupEvent>(&text).unwrap(), e);
    }

    #[test]
    fn a_remove_needs_a_uid() {
        assert!(serde_json::from_str::<GroupRemoveReq>(r#"{"group_id":1}"#).is_err());
        let req: GroupRemoveReq = serde_json::from_str(r#"{"group_id":1,"uid":"7"}"#).unwrap();
        assert_eq!(req.uid, 7);
    }
}
