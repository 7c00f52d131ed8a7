//! imcli, the terminal chat client: [`app`] is its state and behaviour,
//! [`net`] its chat-server connection, [`ui`] the drawing.

pub mod app;
pub mod net;
pub mod ui;
