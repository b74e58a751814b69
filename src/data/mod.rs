//! The data layer: class maps and the one [`VOID`], the datasets' classes and palettes, and
//! which files of a folder form image / label pairs.

pub mod class_map;
pub mod dataset;
pub mod folder;

pub use class_map::{ClassMap, VOID, nearest_resize_map};
pub use dataset::{Dataset, VOID_COLOUR};
