//! The data layer: class maps and the one [`VOID`], the datasets' classes and palettes, and
//! which files of a folder or of a dataset's standard layout (VOC, Cityscapes) form image /
//! label pairs.

pub mod class_map;
pub mod dataset;
pub mod folder;
pub mod layout;
pub mod relabel;

pub use class_map::{ClassMap, VOID, nearest_resize_map};
pub use dataset::{Dataset, VOID_COLOUR};
pub use layout::{DatasetSource, ImageSource, LabelIds, Listing, Missing};
