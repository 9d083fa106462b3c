//! Tiers, RFM segments and clusters in a start image.

use std::io::{self, Read, Write};

use super::cluster::{Cluster, ClusterParams, Clusters};
use super::rfm::{Rfm, Scores, Segment};
use super::segment::Segmentation;
use crate::data::image::{Image, ImageError, In, Out};
use crate::features::image::{put_names, take_names};
use crate::{image_enum, image_struct};

image_struct!(Rfm {
    recency_days,
    frequency,
    monetary_cents
});
image_struct!(Scores { r, f, m });
image_enum!(Segment = Segment::ALL);
image_struct!(Cluster {
    id,
    name,
    centroid_z,
    centroid
});
image_struct!(ClusterParams {
    k_min,
    k_max,
    select_sample,
    silhouette_sample,
    fit_sample,
    seed
});

impl Image for Clusters {
    fn put<W: Write>(&self, o: &mut Out<W>) -> io::Result<()> {
        put_names(&self.features, o)?;
        self.mean.put(o)?;
        self.std.put(o)?;
        self.clusters.put(o)?;
        self.criterion.put(o)?;
        self.silhouette.put(o)?;
        self.params.put(o)
    }

    fn take<R: Read>(i: &mut In<R>) -> Result<Self, ImageError> {
        Ok(Clusters {
            features: take_names(i)?,
            mean: Image::take(i)?,
            std: Image::take(i)?,
            clusters: Image::take(i)?,
            criterion: Image::take(i)?,
            silhouette: Image::take(i)?,
            params: Image::take(i)?,
        })
    }
}

image_struct!(Segmentation {
    as_of,
    members,
    tiers,
    rfm,
    scores,
    segments,
    clustering,
    clusters
} checked by holds_together);

/// Refused where its columns are not one per member, or a member's cluster is not one.
fn holds_together(s: &Segmentation) -> Result<(), ImageError> {
    let n = s.members.len();
    let k = s.clustering.clusters.len();
    let lengths = [
        s.tiers.len(),
        s.rfm.len(),
        s.scores.len(),
        s.segments.len(),
        s.clusters.len(),
    ];
    if lengths.iter().any(|&l| l != n) || s.clusters.iter().any(|&c| c as usize >= k.max(1)) {
        return Err(ImageError::Damaged(format!(
            "a segmentation whose columns are not one for each of its {n} members"
        )));
    }
    Ok(())
}
