//! The per-address-space VMA tree (to be written).

/// Placeholder so that the crate builds until the tree lands.
pub struct VmaTree;
