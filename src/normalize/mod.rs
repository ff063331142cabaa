//! Page normalization: decisions about a page's pixels that a profile asks for. Today: the colour
//! mode — bitonal text, gray, colour, or mixed (bitonal text with the regions where colour matters, a red
//! seal or a signature, kept as small colour images).

pub mod colour;

pub use colour::{ColourMode, Layered, classify};

pub mod blank;

pub use blank::is_blank;
