//! Tools around the daemons: `imctl` (a local cluster in one command, and a
//! scripted demo against it).
//!
//! | module | what |
//! |---|---|
//! | [`daemons`] | starting a daemon binary, prefixing its logs, stopping it |
//! | [`up`] | `imctl up`: the whole local cluster in the foreground |
//! | [`demo`] | `imctl demo`: two users, friends on two servers, a conversation |
//! | [`gate`] | logging in through the gate |
//! | [`spool`] | reading verification codes from the mail spool |
//! | [`cli`] | `imcli`, the terminal chat client |
//! | [`bench`] | `imbench`, the load generator |

pub mod bench;
pub mod cli;
pub mod daemons;
pub mod demo;
pub mod gate;
pub mod spool;
pub mod up;
