//! Scoring routes: a sign-up candidate, members by id, and a campaign audience. Each handler
//! authenticates, parses, calls the tenant and serialises; nothing here decides.

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};

/// A Parquet file, as bytes.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct ParquetFile(Vec<u8>);
use serde::{Deserialize, Serialize};

use super::audience::{self, AudienceQuery, AudienceRequest};
use super::error::{ApiError, Code};
use super::json::{read_limited, Body};
use super::{blocking, AppState, Data};
use crate::state::tenant::{self, Candidate};

/// The scoring routes.
pub fn config_scoring_api(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/v1/candidates/score", "POST").route(web::post().to(score_candidate)),
    )
    .service(super::resource("/v1/members/score", "POST").route(web::post().to(score_members)))
    .service(super::resource("/v1/audiences/filter", "POST").route(web::post().to(filter_audience)))
    .service(super::resource("/v1/benefits/check", "POST").route(web::post().to(check_benefit)));
}

#[utoipa::path(post, path = "/v1/benefits/check", tag = "scoring", request_body = tenant::BenefitCheck,
    responses((status = 200, description = "grant, hold or deny, with reasons, the member's gang as it stands and its verdict; a hold is stored as an event first", body = tenant::BenefitAnswer),
        (status = 400, description = "`malformed_json`, `invalid_field` (naming the field), `missing_field`", body = ApiError),
        (status = 401, description = "missing or unknown API key", body = ApiError),
        (status = 404, description = "`unknown_member`", body = ApiError),
        (status = 413, description = "body too large", body = ApiError),
        (status = 415, description = "the body is not application/json", body = ApiError),
        (status = 503, description = "the event store is unavailable; the hold was not stored", body = ApiError)),
    security(("api_key" = [])))]
async fn check_benefit(
    req: HttpRequest,
    state: Data,
    body: Body<tenant::BenefitCheck>,
) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(&req)?.clone();
    let answer = blocking(move || tenant.check_benefit(&body)).await?;
    Ok(HttpResponse::Ok().json(answer))
}

#[utoipa::path(post, path = "/v1/candidates/score", tag = "scoring", request_body = Candidate,
    responses((status = 200, description = "the candidate's score, decision and reasons", body = crate::scoring::Verdict),
        (status = 400, description = "`malformed_json`, `invalid_field` (naming the field), `missing_field`", body = ApiError),
        (status = 401, description = "missing or unknown API key", body = ApiError),
        (status = 409, description = "`member_exists`: a recorded sign-up of a known member", body = ApiError),
        (status = 413, description = "body too large", body = ApiError),
        (status = 415, description = "the body is not application/json", body = ApiError),
        (status = 503, description = "the event store is unavailable; nothing was recorded", body = ApiError)),
    security(("api_key" = [])))]
async fn score_candidate(
    req: HttpRequest,
    state: Data,
    body: Body<Candidate>,
) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(&req)?.clone();
    let name = tenant.name.clone();
    let verdict = blocking(move || tenant.score_candidate(&body)).await?;
    state
        .metrics
        .verdict(&name, "/v1/candidates/score", &verdict);
    Ok(HttpResponse::Ok().json(verdict))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersRequest {
    member_ids: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MembersResponse {
    model_version: String,
    /// UTC seconds: the scores are as of this moment (the newest event folded in).
    as_of: i64,
    members: Vec<MemberResult>,
}

/// One member's verdict, or why it has none (`unknown_member`, `not_scored`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum MemberResult {
    Scored {
        member_id: String,
        /// UTC seconds: this member's score is as of this moment (later than the response's
        /// `as_of` for a member an event touched since the snapshot).
        as_of: i64,
        #[serde(flatten)]
        verdict: Box<crate::scoring::Verdict>,
    },
    Failed {
        member_id: String,
        error: ApiError,
    },
}

#[utoipa::path(post, path = "/v1/members/score", tag = "scoring", request_body = MembersRequest,
    responses((status = 200, description = "`model_version`, `as_of` (UTC seconds, the snapshot's) and one result per id (with its own `as_of`): a verdict, or an `error` (`unknown_member`, `not_scored`)", body = MembersResponse),
        (status = 400, description = "`malformed_json` or `invalid_field` (naming the field)", body = ApiError),
        (status = 401, description = "missing or unknown API key", body = ApiError),
        (status = 413, description = "too many ids or body too large", body = ApiError),
        (status = 415, description = "the body is not application/json", body = ApiError)),
    security(("api_key" = [])))]
async fn score_members(
    req: HttpRequest,
    state: Data,
    body: Body<MembersRequest>,
) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(&req)?;
    check_ids(&state, body.member_ids.len())?;
    let models = tenant.snapshot()?;
    let results: Vec<MemberResult> = body
        .member_ids
        .iter()
        .map(|id| match tenant.score_member(&models, id) {
            Ok(verdict) => {
                let as_of = tenant.member_as_of(&models, id).unwrap_or(models.as_of);
                state
                    .metrics
                    .verdict(&tenant.name, "/v1/members/score", &verdict);
                MemberResult::Scored {
                    member_id: id.clone(),
                    as_of,
                    verdict: Box::new(verdict),
                }
            }
            Err(error) => MemberResult::Failed {
                member_id: id.clone(),
                error: error.into(),
            },
        })
        .collect();
    Ok(HttpResponse::Ok().json(MembersResponse {
        model_version: models.member.version.clone(),
        as_of: models.as_of,
        members: results,
    }))
}

pub(super) fn check_ids(state: &AppState, n: usize) -> Result<(), ApiError> {
    if n > state.max_ids {
        return Err(ApiError::new(
            Code::TooManyIds,
            format!("{n} ids; at most {} per request", state.max_ids),
        ));
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/audiences/filter", tag = "audiences",
    request_body(content(
        (AudienceRequest = "application/json"),
        (String = "application/x-ndjson"),
        (ParquetFile = "application/vnd.apache.parquet")),
        description = "JSON: ids and policy; NDJSON: one member id per line (a JSON string, {\"member_id\": …} or bare), policy in the query; Parquet: a file (binary) with a member_id column, policy in the query"),
    params(AudienceQuery),
    responses((status = 200, description = "kept ids, dropped ids with their main reason, summary", body = tenant::Audience),
        (status = 400, description = "`malformed_json`, `malformed_ndjson`, `invalid_parquet`, `missing_column` or `invalid_field` (naming the field or query parameter)", body = ApiError),
        (status = 401, description = "missing or unknown API key", body = ApiError),
        (status = 413, description = "too many ids or body too large", body = ApiError),
        (status = 415, description = "unsupported or missing content type", body = ApiError)),
    security(("api_key" = [])))]
async fn filter_audience(
    req: HttpRequest,
    state: Data,
    query: web::Query<AudienceQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let tenant = state.tenant(&req)?.clone();
    let content_type = req.content_type().to_ascii_lowercase();
    audience::check_content_type(&content_type)?;
    let body = read_limited(body, state.max_body_bytes).await?;
    let query = query.into_inner();
    let (ids, policy) = blocking(move || audience::parse(&content_type, body, query)).await?;
    check_ids(&state, ids.len())?;
    let name = tenant.name.clone();
    let audience = blocking(move || tenant.filter_audience(&ids, &policy)).await?;
    for (decision, n) in &audience.summary.by_decision {
        state
            .metrics
            .decisions_n(&name, "/v1/audiences/filter", decision, *n as u64);
    }
    Ok(HttpResponse::Ok().json(audience))
}
