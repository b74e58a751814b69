//! An attack split over the page's pool of workers and merged back exactly: by images
//! ([`by_images`]) or by the runs of an ensemble ([`by_members`]).

pub mod by_images;
pub mod by_members;
