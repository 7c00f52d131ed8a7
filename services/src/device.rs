//! Devices: which logins of one user may be online together.
//!
//! A login may name a device: a `device_id` the client chooses once and
//! keeps (it names the device's delivery watermarks in the store) and a
//! `kind`. A user has at most one session per kind: a second desktop login
//! replaces the first desktop, while a phone stays on. A login that names no
//! device (the original clients, and every client before devices) is the
//! *legacy* device: it is the user's only session, as it always was, so it
//! replaces every other session and is replaced by any.
//!
//! Shared by the chat server's directory and the status server's registry,
//! which apply the same rule ([`DeviceKind::replaces`]). Pure data: any
//! thread.

/// Longest device id a client may choose.
pub const MAX_DEVICE_ID: usize = 64;

/// What kind of device a session is on. The numbers travel in the status
/// server's messages (`Session.kind`, `UserLocation.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DeviceKind {
    /// No device named: the one session of its user.
    #[default]
    Legacy = 0,
    Desktop = 1,
    Mobile = 2,
    Web = 3,
}

impl DeviceKind {
    /// The kind a LOGIN names (`"desktop"`, `"mobile"`, `"web"`).
    pub fn from_name(name: &str) -> Option<DeviceKind> {
        match name {
            "desktop" => Some(DeviceKind::Desktop),
            "mobile" => Some(DeviceKind::Mobile),
            "web" => Some(DeviceKind::Web),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Legacy => "",
            DeviceKind::Desktop => "desktop",
            DeviceKind::Mobile => "mobile",
            DeviceKind::Web => "web",
        }
    }

    /// The kind a status message carries; an unknown number is legacy (the
    /// strictest rule: it replaces everything).
    pub fn from_wire(kind: u32) -> DeviceKind {
        match kind {
            1 => DeviceKind::Desktop,
            2 => DeviceKind::Mobile,
            3 => DeviceKind::Web,
            _ => DeviceKind::Legacy,
        }
    }

    pub fn wire(self) -> u32 {
        self as u32
    }

    /// True if a new login of kind `self` ends a session of kind `older`
    /// of the same user: the same kind, or either is legacy.
    pub fn replaces(self, older: DeviceKind) -> bool {
        self == older || self == DeviceKind::Legacy || older == DeviceKind::Legacy
    }
}

/// The device a session is on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Device {
    /// The client's own id for the device; empty for the legacy device
    /// (which is `store::model::LEGACY_DEVICE` in the store).
    pub id: String,
    pub kind: DeviceKind,
}

/// A client's id for a device: 1 to [`MAX_DEVICE_ID`] bytes of `[A-Za-z0-9._:-]`.
pub fn valid_device_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_DEVICE_ID
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

impl Device {
    /// The device a LOGIN names: both fields empty is the legacy device;
    /// otherwise the id is 1 to [`MAX_DEVICE_ID`] bytes of
    /// `[A-Za-z0-9._:-]` and the kind one of the names. `None`: malformed.
    pub fn from_login(id: &str, kind: &str) -> Option<Device> {
        if id.is_empty() && kind.is_empty() {
            return Some(Device::default());
        }
        let kind = DeviceKind::from_name(kind)?;
        valid_device_id(id).then(|| Device { id: id.to_string(), kind })
    }

    pub fn is_legacy(&self) -> bool {
        self.kind == DeviceKind::Legacy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_session_per_kind_and_legacy_alone() {
        use DeviceKind::*;
        assert!(Desktop.replaces(Desktop));
        assert!(!Desktop.replaces(Mobile) && !Mobile.replaces(Web));
        for kind in [Legacy, Desktop, Mobile, Web] {
            assert!(Legacy.replaces(kind) && kind.replaces(Legacy));
            assert_eq!(DeviceKind::from_wire(kind.wire()), kind);
        }
        assert_eq!(DeviceKind::from_wire(99), Legacy);
    }

    #[test]
    fn a_login_names_a_device_fully_or_not_at_all() {
        assert!(Device::from_login("", "").unwrap().is_legacy());
        let phone = Device::from_login("phone-1", "mobile").unwrap();
        assert_eq!((phone.id.as_str(), phone.kind), ("phone-1", DeviceKind::Mobile));
        assert!(Device::from_login("phone-1", "").is_none());
        assert!(Device::from_login("", "desktop").is_none());
        assert!(Device::from_login("a b", "desktop").is_none());
        assert!(Device::from_login(&"x".repeat(65), "web").is_none());
        assert!(Device::from_login("pc", "toaster").is_none());
    }
}
