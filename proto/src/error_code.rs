//! Error codes carried in the `error` field of every response (PROTOCOL.md).

/// Every error code the protocol defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorCode {
    Success = 0,
    /// Malformed JSON or a missing field.
    Json = 1001,
    /// An internal RPC failed.
    RpcFailed = 1002,
    /// Verify code expired or absent.
    VerifyExpired = 1003,
    /// Verify code wrong.
    VerifyCodeErr = 1004,
    /// User (name or e-mail) exists, already friends, or duplicate request.
    UserExist = 1005,
    /// Password and confirmation differ.
    PasswdErr = 1006,
    /// E-mail does not match the user.
    EmailNotMatch = 1007,
    /// Password update failed.
    PasswdUpFailed = 1008,
    /// Wrong e-mail or password.
    PasswdInvalid = 1009,
    /// Token invalid or expired.
    TokenInvalid = 1010,
    /// Uid invalid or not found.
    UidInvalid = 1011,
    /// Create chat failed.
    CreateChatFailed = 1012,
    /// Load chat failed.
    LoadChatFailed = 1013,
    /// Not logged in.
    NotLoggedIn = 1101,
    /// Not friends.
    NotFriends = 1102,
    /// Message or field too large.
    TooLarge = 1103,
    /// Rate limited (codes, attempts, messages).
    RateLimited = 1104,
    /// Server busy (store queue full or timed out): retry later.
    ServerBusy = 1105,
    /// Protocol error.
    ProtocolError = 1106,
    /// Not a member of the group (or the group is gone).
    NotMember = 1107,
    /// A group limit: members per group, groups per user.
    GroupFull = 1108,
    /// The member's role does not allow it (owner or admins only).
    NotAllowed = 1109,
}

impl ErrorCode {
    const ALL: [ErrorCode; 23] = [
        ErrorCode::Success,
        ErrorCode::Json,
        ErrorCode::RpcFailed,
        ErrorCode::VerifyExpired,
        ErrorCode::VerifyCodeErr,
        ErrorCode::UserExist,
        ErrorCode::PasswdErr,
        ErrorCode::EmailNotMatch,
        ErrorCode::PasswdUpFailed,
        ErrorCode::PasswdInvalid,
        ErrorCode::TokenInvalid,
        ErrorCode::UidInvalid,
        ErrorCode::CreateChatFailed,
        ErrorCode::LoadChatFailed,
        ErrorCode::NotLoggedIn,
        ErrorCode::NotFriends,
        ErrorCode::TooLarge,
        ErrorCode::RateLimited,
        ErrorCode::ServerBusy,
        ErrorCode::ProtocolError,
        ErrorCode::NotMember,
        ErrorCode::GroupFull,
        ErrorCode::NotAllowed,
    ];

    /// The number in JSON bodies.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The code for a number, if the protocol defines it.
    pub fn from_code(code: i32) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|e| e.code() == code)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} ({})", self, self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(code.code()), Some(code));
        }
        assert_eq!(ErrorCode::from_code(999), None);
        assert_eq!(ErrorCode::ServerBusy.code(), 1105);
    }
}
