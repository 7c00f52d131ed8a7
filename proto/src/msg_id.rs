//! Message ids of the chat protocol (PROTOCOL.md, "Messages").

/// Every message id the chat protocol defines. The numbers are the original
/// system's; ids from 1100 up are this project's additions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum MsgId {
    LoginReq = 1005,
    LoginRsp = 1006,
    SearchUserReq = 1007,
    SearchUserRsp = 1008,
    AddFriendReq = 1009,
    AddFriendRsp = 1010,
    NotifyAddFriendReq = 1011,
    AuthFriendReq = 1013,
    AuthFriendRsp = 1014,
    NotifyAuthFriendReq = 1015,
    TextChatMsgReq = 1017,
    TextChatMsgRsp = 1018,
    NotifyTextChatMsgReq = 1019,
    NotifyOffLineReq = 1021,
    HeartBeatReq = 1023,
    HeartbeatRsp = 1024,
    LoadChatThreadReq = 1025,
    LoadChatThreadRsp = 1026,
    CreatePrivateChatReq = 1027,
    CreatePrivateChatRsp = 1028,
    LoadChatMsgReq = 1029,
    LoadChatMsgRsp = 1030,
    MsgDeliveredAck = 1101,
    ErrorNotify = 1103,
    ConversationAck = 1110,
    ConversationRead = 1111,
    NotifyConversationRead = 1112,
    LoadConversationsReq = 1113,
    LoadConversationsRsp = 1114,
    LoadConversationRangeReq = 1115,
    LoadConversationRangeRsp = 1116,
    NotifyPresence = 1117,
    GroupCreateReq = 1120,
    GroupCreateRsp = 1121,
    GroupInviteReq = 1122,
    GroupInviteRsp = 1123,
    GroupLeaveReq = 1124,
    GroupLeaveRsp = 1125,
    GroupRemoveReq = 1126,
    GroupRemoveRsp = 1127,
    GroupSetRoleReq = 1128,
    GroupSetRoleRsp = 1129,
    GroupUpdateReq = 1130,
    GroupUpdateRsp = 1131,
    GroupDissolveReq = 1132,
    GroupDissolveRsp = 1133,
    LoadGroupsReq = 1134,
    LoadGroupsRsp = 1135,
    GroupInfoReq = 1136,
    GroupInfoRsp = 1137,
    GroupMembersReq = 1138,
    GroupMembersRsp = 1139,
    GroupReadersReq = 1140,
    GroupReadersRsp = 1141,
}

impl MsgId {
    const ALL: [MsgId; 54] = [
        MsgId::LoginReq,
        MsgId::LoginRsp,
        MsgId::SearchUserReq,
        MsgId::SearchUserRsp,
        MsgId::AddFriendReq,
        MsgId::AddFriendRsp,
        MsgId::NotifyAddFriendReq,
        MsgId::AuthFriendReq,
        MsgId::AuthFriendRsp,
        MsgId::NotifyAuthFriendReq,
        MsgId::TextChatMsgReq,
        MsgId::TextChatMsgRsp,
        MsgId::NotifyTextChatMsgReq,
        MsgId::NotifyOffLineReq,
        MsgId::HeartBeatReq,
        MsgId::HeartbeatRsp,
        MsgId::LoadChatThreadReq,
        MsgId::LoadChatThreadRsp,
        MsgId::CreatePrivateChatReq,
        MsgId::CreatePrivateChatRsp,
        MsgId::LoadChatMsgReq,
        MsgId::LoadChatMsgRsp,
        MsgId::MsgDeliveredAck,
        MsgId::ErrorNotify,
        MsgId::ConversationAck,
        MsgId::ConversationRead,
        MsgId::NotifyConversationRead,
        MsgId::LoadConversationsReq,
        MsgId::LoadConversationsRsp,
        MsgId::LoadConversationRangeReq,
        MsgId::LoadConversationRangeRsp,
        MsgId::NotifyPresence,
        MsgId::GroupCreateReq,
        MsgId::GroupCreateRsp,
        MsgId::GroupInviteReq,
        MsgId::GroupInviteRsp,
        MsgId::GroupLeaveReq,
        MsgId::GroupLeaveRsp,
        MsgId::GroupRemoveReq,
        MsgId::GroupRemoveRsp,
        MsgId::GroupSetRoleReq,
        MsgId::GroupSetRoleRsp,
        MsgId::GroupUpdateReq,
        MsgId::GroupUpdateRsp,
        MsgId::GroupDissolveReq,
        MsgId::GroupDissolveRsp,
        MsgId::LoadGroupsReq,
        MsgId::LoadGroupsRsp,
        MsgId::GroupInfoReq,
        MsgId::GroupInfoRsp,
        MsgId::GroupMembersReq,
        MsgId::GroupMembersRsp,
        MsgId::GroupReadersReq,
        MsgId::GroupReadersRsp,
    ];

    /// The id for a number from the wire, if the protocol defines it.
    pub fn from_u16(id: u16) -> Option<MsgId> {
        MsgId::ALL.iter().copied().find(|m| m.code() == id)
    }

    /// The number on the wire.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The response a server sends to this request, if it has one.
    pub fn response(self) -> Option<MsgId> {
        Some(match self {
            MsgId::LoginReq => MsgId::LoginRsp,
            MsgId::SearchUserReq => MsgId::SearchUserRsp,
            MsgId::AddFriendReq => MsgId::AddFriendRsp,
            MsgId::AuthFriendReq => MsgId::AuthFriendRsp,
            MsgId::TextChatMsgReq => MsgId::TextChatMsgRsp,
            MsgId::HeartBeatReq => MsgId::HeartbeatRsp,
            MsgId::LoadChatThreadReq => MsgId::LoadChatThreadRsp,
            MsgId::CreatePrivateChatReq => MsgId::CreatePrivateChatRsp,
            MsgId::LoadChatMsgReq => MsgId::LoadChatMsgRsp,
            MsgId::LoadConversationsReq => MsgId::LoadConversationsRsp,
            MsgId::LoadConversationRangeReq => MsgId::LoadConversationRangeRsp,
            MsgId::GroupCreateReq => MsgId::GroupCreateRsp,
            MsgId::GroupInviteReq => MsgId::GroupInviteRsp,
            MsgId::GroupLeaveReq => MsgId::GroupLeaveRsp,
            MsgId::GroupRemoveReq => MsgId::GroupRemoveRsp,
            MsgId::GroupSetRoleReq => MsgId::GroupSetRoleRsp,
            MsgId::GroupUpdateReq => MsgId::GroupUpdateRsp,
            MsgId::GroupDissolveReq => MsgId::GroupDissolveRsp,
            MsgId::LoadGroupsReq => MsgId::LoadGroupsRsp,
            MsgId::GroupInfoReq => MsgId::GroupInfoRsp,
            MsgId::GroupMembersReq => MsgId::GroupMembersRsp,
            MsgId::GroupReadersReq => MsgId::GroupReadersRsp,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_round_trips_and_unknown_ids_are_none() {
        for id in MsgId::ALL {
            assert_eq!(MsgId::from_u16(id.code()), Some(id));
        }
        assert_eq!(MsgId::from_u16(1012), None);
        assert_eq!(MsgId::from_u16(0), None);
    }

    #[test]
    fn requests_know_their_responses() {
        assert_eq!(MsgId::LoginReq.response(), Some(MsgId::LoginRsp));
        assert_eq!(MsgId::TextChatMsgReq.response(), Some(MsgId::TextChatMsgRsp));
        assert_eq!(MsgId::MsgDeliveredAck.response(), None);
    }
}
