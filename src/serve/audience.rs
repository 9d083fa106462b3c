//! Audience bodies: a JSON request, NDJSON (one member id per line) or a Parquet file with a
//! `member_id` column. Every id in the body comes out, in order; a line or value that is not an
//! id is an error naming it, never skipped.

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Deserialize;

use super::error::{ApiError, Code};
use super::json::from_slice;
use crate::scoring::{AudiencePolicy, DropLevel};

/// An audience's policy: in the query string (any body), or in a JSON body's `policy` (whose
/// fields win over the query's).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AudienceQuery {
    /// `reject` (default) or `review` (drops review decisions too).
    pub drop: Option<DropLevel>,
    /// Also drop members whose quality (0 to 100) is below this.
    #[param(maximum = 100)]
    pub min_quality: Option<u8>,
}

/// A JSON audience's policy (its fields win over the query's).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BodyPolicy {
    /// `reject` (default) or `review` (drops review decisions too).
    pub drop: Option<DropLevel>,
    /// Also drop members whose quality (0 to 100) is below this.
    #[serde(default, deserialize_with = "crate::data::plausible::de_opt_whole_u8")]
    #[schema(maximum = 100)]
    pub min_quality: Option<u8>,
}

/// serde: the policy object (an array is not one, though serde would read a struct from it).
fn de_policy<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BodyPolicy, D::Error> {
    let map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
    BodyPolicy::deserialize(serde_json::Value::Object(map)).map_err(serde::de::Error::custom)
}

/// A JSON audience: ids and policy in the body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AudienceRequest {
    pub member_ids: Vec<String>,
    #[serde(default, deserialize_with = "de_policy")]
    pub policy: BodyPolicy,
}

pub const NDJSON: &str = "application/x-ndjson";
pub const PARQUET: &str = "application/vnd.apache.parquet";

/// Refuses a content type the audience route does not read (none at all included), before the
/// body is read.
pub fn check_content_type(content_type: &str) -> Result<(), ApiError> {
    match content_type {
        "application/json" | NDJSON | PARQUET | "application/octet-stream" => Ok(()),
        other => Err(ApiError::new(
            Code::UnsupportedMediaType,
            format!(
                "content type {}: send application/json, {NDJSON} or {PARQUET}",
                if other.is_empty() {
                    "none".to_string()
                } else {
                    format!("'{other}'")
                }
            ),
        )),
    }
}

/// The ids and policy of an audience body of the given content type.
pub fn parse(
    content_type: &str,
    body: actix_web::web::Bytes,
    query: AudienceQuery,
) -> Result<(Vec<String>, AudiencePolicy), ApiError> {
    check_content_type(content_type)?;
    let (ids, body_policy) = match content_type {
        "application/json" => {
            let r: AudienceRequest = from_slice(&body)?;
            (r.member_ids, r.policy)
        }
        NDJSON => (ndjson_ids(&body)?, BodyPolicy::default()),
        _ => (parquet_ids(body)?, BodyPolicy::default()),
    };
    for (q, field) in [
        (body_policy.min_quality, "policy.min_quality"),
        (query.min_quality, "min_quality"),
    ] {
        if let Some(q) = q.filter(|&q| q > 100) {
            return Err(ApiError::new(
                Code::InvalidField,
                format!("{field}: {q} is not a quality score (0 to 100)"),
            ));
        }
    }
    let policy = AudiencePolicy {
        drop: body_policy.drop.or(query.drop).unwrap_or_default(),
        min_quality: body_policy.min_quality.or(query.min_quality),
    };
    Ok((ids, policy))
}

/// One id per line: a JSON string, an object with `member_id`, or the bare id. Blank lines are
/// skipped.
pub fn ndjson_ids(body: &[u8]) -> Result<Vec<String>, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        ApiError::new(
            Code::MalformedNdjson,
            format!("byte {}: not UTF-8", e.valid_up_to()),
        )
    })?;
    #[derive(Deserialize)]
    struct Line {
        member_id: String,
    }
    let bad =
        |n: usize, why: String| ApiError::new(Code::MalformedNdjson, format!("line {n}: {why}"));
    let mut ids = Vec::with_capacity(text.len() / 12);
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        let id = match line.as_bytes().first() {
            None => continue,
            Some(b'"') => {
                serde_json::from_str::<String>(line).map_err(|e| bad(i + 1, e.to_string()))?
            }
            Some(b'{') => {
                serde_json::from_str::<Line>(line)
                    .map_err(|e| bad(i + 1, e.to_string()))?
                    .member_id
            }
            Some(_) => line.to_string(),
        };
        if id.is_empty() {
            return Err(bad(i + 1, "empty member id".into()));
        }
        ids.push(id);
    }
    Ok(ids)
}

/// The `member_id` column of a Parquet file (text; nulls refused with their row).
pub fn parquet_ids(body: actix_web::web::Bytes) -> Result<Vec<String>, ApiError> {
    let bad = |why: String| ApiError::new(Code::InvalidParquet, why);
    let builder = ParquetRecordBatchReaderBuilder::try_new(body).map_err(|e| bad(e.to_string()))?;
    let schema = builder.parquet_schema();
    let Some(col) = (0..schema.num_columns()).find(|&i| schema.column(i).name() == "member_id")
    else {
        return Err(ApiError::new(
            Code::MissingColumn,
            "the Parquet audience has no member_id column",
        ));
    };
    let mask = parquet::arrow::ProjectionMask::leaves(schema, [col]);
    let reader = builder
        .with_projection(mask)
        .build()
        .map_err(|e| bad(e.to_string()))?;
    let mut ids = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| bad(e.to_string()))?;
        let a = batch.column(0);
        let row0 = ids.len();
        let null_at = |i: usize| {
            ApiError::new(
                Code::InvalidField,
                format!("member_id: row {}: null", row0 + i),
            )
        };
        match a.data_type() {
            DataType::Utf8 => {
                for (i, v) in a.as_string::<i32>().iter().enumerate() {
                    ids.push(v.ok_or_else(|| null_at(i))?.to_string());
                }
            }
            DataType::LargeUtf8 => {
                for (i, v) in a.as_string::<i64>().iter().enumerate() {
                    ids.push(v.ok_or_else(|| null_at(i))?.to_string());
                }
            }
            other => {
                return Err(ApiError::new(
                    Code::InvalidField,
                    format!("member_id: the column is {other}, expected text"),
                ))
            }
        }
        debug_assert!(a.len() + row0 == ids.len());
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndjson_takes_strings_objects_and_bare_ids_and_names_a_bad_line() {
        let body = b"\"M1\"\n{\"member_id\":\"M2\"}\n\n  M3  \n";
        assert_eq!(
            ndjson_ids(body).ok(),
            Some(vec!["M1".into(), "M2".into(), "M3".into()])
        );
        let e = ndjson_ids(b"\"M1\"\n{\"id\":5}\n")
            .err()
            .map(|e| (e.code.as_str(), e.message));
        let (code, message) = e.unwrap_or_default();
        assert_eq!(code, "malformed_ndjson");
        assert!(message.starts_with("line 2:"), "{message}");
        let e = ndjson_ids(b"\"\"\n")
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        assert_eq!(e, "line 1: empty member id");
    }

    #[test]
    fn a_json_audience_keeps_its_policy_in_the_body() {
        let body = actix_web::web::Bytes::from_static(
            br#"{"member_ids":["a","b"],"policy":{"drop":"review"}}"#,
        );
        let (ids, policy) = parse("application/json", body.clone(), AudienceQuery::default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ids, vec!["a", "b"]);
        assert_eq!(policy.drop, DropLevel::Review);
        // The body's fields win over the query's; the query fills what the body leaves out.
        let q = AudienceQuery {
            drop: Some(DropLevel::Reject),
            min_quality: Some(40),
        };
        let (_, policy) =
            parse("application/json", body.clone(), q).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (policy.drop, policy.min_quality),
            (DropLevel::Review, Some(40))
        );
        assert_eq!(
            parse("text/csv", body, AudienceQuery::default())
                .err()
                .map(|e| e.status),
            Some(415)
        );
    }
}
