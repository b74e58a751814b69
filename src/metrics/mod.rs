//! Semantic-segmentation and perturbation metrics, each computed in one place.
//!
//! Class maps are `u8` per pixel, row-major. In ground-truth maps the value
//! [`VOID`](crate::data::VOID) (255) marks unlabelled pixels, which every metric ignores.
//! Perturbation metrics compare two images whose values are in `[0, 1]` (or 8-bit images).

pub mod confusion;
pub mod detail;
pub mod distance;
pub mod object_size;
pub mod score;

pub use confusion::ConfusionMatrix;
pub use detail::{MapDetail, per_class_iou};
pub use distance::{l2, linf, psnr};
pub use object_size::{BucketScore, SizeAccuracy, accuracy_by_size};
pub use score::{MapMetrics, SegMetrics, agreement, compare_maps};
