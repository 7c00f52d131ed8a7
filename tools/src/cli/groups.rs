//! imcli's groups: the commands (`/group create`, `/invite`, `/leave`,
//! `/members`), the answers to them, and a group's messages and events in
//! its conversation. Groups sit in the sidebar beside friends (`#`).

use super::app::{now_hm, App, ChatLine, Friend, Peer};
use proto::body::{MsgDeliveredAck, TextChatMsgRsp};
use proto::group_body::*;
use proto::MsgId;
use std::collections::HashMap;

impl App {
    /// `/group create NAME FRIEND...`, `/invite FRIEND...`, `/leave`, `/members`
    /// (the last three for the selected group).
    pub(super) fn group_command(&mut self, verb: &str, rest: &str) {
        let words: Vec<&str> = rest.split_whitespace().collect();
        match (verb, words.as_slice()) {
            ("group", ["create", name, friends @ ..]) => {
                let Some(members) = self.friend_uids(friends) else { return };
                let req = GroupCreateReq { name: name.to_string(), members, ..Default::default() };
                self.send(MsgId::GroupCreateReq, &req);
            }
            ("invite", friends) if !friends.is_empty() => {
                let Some(group_id) = self.selected_group() else { return };
                let Some(uids) = self.friend_uids(friends) else { return };
                self.send(MsgId::GroupInviteReq, &GroupInviteReq { group_id, uids });
            }
            ("leave", []) => {
                let Some(group_id) = self.selected_group() else { return };
                self.send(MsgId::GroupLeaveReq, &GroupReq { group_id });
            }
            ("members", []) => {
                let Some(group_id) = self.selected_group() else { return };
                let req = GroupMembersReq { group_id, ..Default::default() };
                self.send(MsgId::GroupMembersReq, &req);
            }
            _ => self.notice(
                "Groups: /group create NAME FRIEND..., /invite FRIEND..., /leave, /members",
            ),
        }
    }

    /// The selected chat if it is a group (a notice if not).
    fn selected_group(&mut self) -> Option<u64> {
        let s = self.session()?;
        match s.friends.get(s.selected) {
            Some(f) if f.group => Some(f.uid),
            _ => {
                self.notice("Select a group first (Up/Down)");
                None
            }
        }
    }

    /// The uids of friends named `names` (a notice and `None` for a stranger).
    fn friend_uids(&mut self, names: &[&str]) -> Option<Vec<u64>> {
        let s = self.session()?;
        let mut uids = Vec::new();
        for name in names {
            match s.friends.iter().find(|f| !f.group && f.name == *name) {
                Some(f) => uids.push(f.uid),
                None => {
                    self.notice(format!("{name} is not one of your friends"));
                    return None;
                }
            }
        }
        Some(uids)
    }

    /// Asks for the user's groups with ids above `after`.
    pub(super) fn load_groups(&mut self, after: u64) {
        self.send(MsgId::LoadGroupsReq, &LoadGroupsReq { after });
    }

    /// The answers to group requests; false for any other frame.
    pub(super) fn on_group_frame(&mut self, id: MsgId, body: &[u8]) -> bool {
        match id {
            MsgId::GroupCreateRsp | MsgId::GroupInfoRsp => {
                let Ok(r) = serde_json::from_slice::<GroupRsp>(body) else { return true };
                match r.group {
                    Some(info) if r.error == 0 => {
                        let created = id == MsgId::GroupCreateRsp;
                        self.show_group(&info, created);
                    }
                    _ => self.notice(format!("Group request refused: error {}", r.error)),
                }
            }
            MsgId::LoadGroupsRsp => {
                let Ok(r) = serde_json::from_slice::<LoadGroupsRsp>(body) else { return true };
                for info in &r.groups {
                    self.show_group(info, false);
                }
                if r.load_more {
                    self.load_groups(r.next_after);
                }
            }
            MsgId::GroupMembersRsp => {
                let Ok(r) = serde_json::from_slice::<GroupMembersRsp>(body) else { return true };
                if r.error != 0 {
                    self.notice(format!("Members not listed: error {}", r.error));
                    return true;
                }
                let Some(s) = self.session() else { return true };
                for m in &r.members {
                    s.names.insert(m.uid, m.name.clone());
                }
                let listed: Vec<String> = r
                    .members
                    .iter()
                    .map(|m| match m.role.as_str() {
                        "member" => m.name.clone(),
                        role => format!("{} ({role})", m.name),
                    })
                    .collect();
                let more = if r.load_more { ", …" } else { "" };
                self.notice(format!("Members: {}{more}", listed.join(", ")));
            }
            MsgId::GroupInviteRsp
            | MsgId::GroupLeaveRsp
            | MsgId::GroupRemoveRsp
            | MsgId::GroupSetRoleRsp
            | MsgId::GroupUpdateRsp
            | MsgId::GroupDissolveRsp => {
                let Ok(r) = serde_json::from_slice::<GroupChangeRsp>(body) else { return true };
                if r.error != 0 {
                    self.notice(format!("Group change refused: error {}", r.error));
                }
            }
            _ => return false,
        }
        true
    }

    /// Puts a group in the sidebar (or renames it there); `select` it.
    fn show_group(&mut self, info: &GroupInfo, select: bool) {
        let Some(s) = self.session() else { return };
        let name =
            if info.role == "left" { format!("{} (left)", info.name) } else { info.name.clone() };
        let index = match s.friends.iter().position(|f| f.group && f.uid == info.group_id) {
            Some(index) => {
                s.friends[index].name = name;
                index
            }
            None => {
                s.friends.push(Friend::group(info.group_id, name));
                s.friends.len() - 1
            }
        };
        if select {
            s.selected = index;
        }
    }

    /// A group's messages (1018 for mine, 1019 for everyone's), events as
    /// `*` lines; acknowledged like any push.
    pub(super) fn on_group_messages(&mut self, rsp: TextChatMsgRsp, pushed: bool) {
        let group = rsp.group_id;
        let Some(s) = self.session() else { return };
        if !s.friends.iter().any(|f| f.group && f.uid == group) {
            // Added to a group just now: its name comes with its info.
            s.friends.push(Friend::group(group, format!("group {group}")));
            self.send(MsgId::GroupInfoReq, &GroupReq { group_id: group });
        }
        let Some(s) = self.session() else { return };
        let me = s.uid;
        let mut known: HashMap<u64, String> = s.names.clone();
        known.extend(s.friends.iter().filter(|f| !f.group).map(|f| (f.uid, f.name.clone())));
        known.insert(me, s.name.clone());
        let name_of = |uid: u64| known.get(&uid).cloned().unwrap_or_else(|| format!("uid {uid}"));
        let mut lines = Vec::new();
        let mut ended = false;
        for data in &rsp.chat_datas {
            if !s.seen.insert(data.message_id) {
                continue; // pushed twice: shown once
            }
            let event = data.kind == 1;
            let text = if event {
                let parsed = serde_json::from_str::<GroupEvent>(&data.content).ok();
                ended |= parsed.as_ref().is_some_and(|e| removes(e, me));
                parsed.map_or_else(|| data.content.clone(), |e| describe(&e, &name_of))
            } else {
                data.content.clone()
            };
            lines.push(ChatLine {
                message_id: data.message_id,
                seq: data.seq,
                from_me: rsp.fromuid == me && !event,
                from: name_of(rsp.fromuid),
                event,
                text,
                time: now_hm(),
            });
        }
        let ids: Vec<u64> = rsp.chat_datas.iter().map(|d| d.message_id).collect();
        let new_lines = lines.iter().filter(|l| !l.from_me).count();
        let selected = s.friends.get(s.selected).map(|f| f.peer());
        s.conversations.entry(Peer::Group(group)).or_default().extend(lines);
        if let Some(entry) = s.friends.iter_mut().find(|f| f.group && f.uid == group) {
            if selected != Some(Peer::Group(group)) {
                entry.unread += new_lines;
            }
            if ended && !entry.name.ends_with(" (left)") {
                entry.name.push_str(" (left)");
            }
        }
        if pushed {
            self.send(MsgId::MsgDeliveredAck, &MsgDeliveredAck { message_ids: ids, uid: None });
            self.mark_selected_read();
        }
    }
}

/// True if `event` ends `me`'s membership.
fn removes(event: &GroupEvent, me: u64) -> bool {
    match event {
        GroupEvent::Left { uid } | GroupEvent::Removed { uid, .. } => *uid == me,
        GroupEvent::Dissolved { .. } => true,
        _ => false,
    }
}

/// An event as a line of the conversation.
fn describe(event: &GroupEvent, name_of: &dyn Fn(u64) -> String) -> String {
    let names = |uids: &[u64]| uids.iter().map(|&u| name_of(u)).collect::<Vec<_>>().join(", ");
    match event {
        GroupEvent::Created { by, name } => format!("{} created {name}", name_of(*by)),
        GroupEvent::Joined { by, uids } => format!("{} added {}", name_of(*by), names(uids)),
        GroupEvent::Left { uid } => format!("{} left", name_of(*uid)),
        GroupEvent::Removed { by, uid } => format!("{} removed {}", name_of(*by), name_of(*uid)),
        GroupEvent::Role { uid, role, .. } => format!("{} is now {role}", name_of(*uid)),
        GroupEvent::Owner { to, .. } => format!("{} owns the group now", name_of(*to)),
        GroupEvent::Updated { by, name: Some(name), .. } => {
            format!("{} renamed the group {name}", name_of(*by))
        }
        GroupEvent::Updated { by, .. } => format!("{} changed the group's settings", name_of(*by)),
        GroupEvent::Dissolved { by } => format!("{} dissolved the group", name_of(*by)),
    }
}
