//! imcli, the terminal chat client: [`app`] is its state and behaviour
//! (`groups` its groups), [`net`] its chat-server connection, [`ui`] the drawing.

pub mod app;
mod groups;
pub mod net;
pub mod ui;
