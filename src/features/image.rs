//! Feature matrices and the per-member event index in a start image. A matrix's column names
//! are read back as this build's own feature names.

use std::io::{self, Read, Write};

use super::member::MemberIndex;
use super::{member, recruit, Matrix};
use crate::data::image::{take_name, Image, ImageError, In, Out};
use crate::image_struct;

/// This build's name of a member-time or recruitment-time feature.
pub fn feature_name(s: &str) -> Option<&'static str> {
    member::FEATURES
        .iter()
        .chain(recruit::FEATURES)
        .map(|f| f.name)
        .find(|&n| n == s)
}

/// Feature names, read back as this build's.
pub fn put_names<W: Write>(names: &[&'static str], o: &mut Out<W>) -> io::Result<()> {
    names.len().put(o)?;
    names.iter().try_for_each(|n| n.to_string().put(o))
}

pub fn take_names<R: Read>(i: &mut In<R>) -> Result<Vec<&'static str>, ImageError> {
    let n = i.count()?;
    (0..n).map(|_| take_name(i, feature_name)).collect()
}

impl Image for Matrix {
    fn put<W: Write>(&self, o: &mut Out<W>) -> io::Result<()> {
        put_names(&self.names, o)?;
        self.rows.put(o)?;
        self.values.put(o)
    }

    fn take<R: Read>(i: &mut In<R>) -> Result<Self, ImageError> {
        let m = Matrix {
            names: take_names(i)?,
            rows: Image::take(i)?,
            values: Image::take(i)?,
        };
        if m.values.len() != m.rows * m.cols() {
            return Err(ImageError::Damaged(format!(
                "a matrix of {} values for {} rows of {}",
                m.values.len(),
                m.rows,
                m.cols()
            )));
        }
        Ok(m)
    }
}

image_struct!(MemberIndex {
    coupons,
    orders,
    points
});
