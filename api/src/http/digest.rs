//! Serving a digest over HTTP: choosing its format (`format` parameter or
//! `Accept`) and the response with the headers each format needs.

use actix_web::HttpResponse;
use actix_web::http::header::{self, HeaderValue};
use incidex_registry::digests::Digest;
use incidex_registry::digests::render::{self, Format};
use incidex_schema::validation::FieldError;

use super::{ApiError, ApiResult, ErrorCode};

/// The format to answer in: the `format` parameter, else the first
/// acceptable type of `Accept` (by quality, then our order: JSON, HTML,
/// Markdown, CSV); no `Accept` means JSON.
pub fn negotiate_format(accept: Option<&str>, param: Option<&str>) -> ApiResult<Format> {
    if let Some(p) = param {
        return Format::parse(p).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidParameter,
                format!("format: unknown format `{p}` (json, csv, md, html)"),
            )
            .with_errors(vec![FieldError::new(
                "format",
                "invalid_value",
                "json, csv, md or html",
            )])
        });
    }
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(Format::Json);
    };
    const OFFERED: [Format; 4] = [Format::Json, Format::Html, Format::Markdown, Format::Csv];
    let mut ranges: Vec<(String, f32)> = Vec::new();
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let range = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        if !range.contains('/') {
            continue;
        }
        let mut q = 1.0f32;
        for param in parts {
            if let Some((k, v)) = param.split_once('=')
                && k.trim().eq_ignore_ascii_case("q")
            {
                q = v.trim().parse().unwrap_or(0.0);
            }
        }
        ranges.push((range, q));
    }
    let matches = |range: &str, f: Format| {
        let media = f.media_type();
        range == "*/*"
            || range == media
            || range
                .strip_suffix("/*")
                .is_some_and(|t| media.split('/').next() == Some(t))
    };
    // Explicitly refused types (q=0) stay refused under a wildcard.
    let refused: Vec<Format> = OFFERED
        .into_iter()
        .filter(|f| {
            ranges
                .iter()
                .any(|(r, q)| *q <= 0.0 && r.as_str() == f.media_type())
        })
        .collect();
    let mut acceptable: Vec<&(String, f32)> = ranges.iter().filter(|(_, q)| *q > 0.0).collect();
    // Stable: equal qualities keep the client's order.
    acceptable.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (range, _) in acceptable {
        if let Some(f) = OFFERED
            .into_iter()
            .find(|f| !refused.contains(f) && matches(range, *f))
        {
            return Ok(f);
        }
    }
    Err(ApiError::new(
        ErrorCode::NotAcceptable,
        "digests are served as application/json, text/html, text/markdown or text/csv",
    ))
}

/// A digest rendered as an HTTP response in `format`.
pub fn respond_digest(digest: &Digest, format: Format) -> ApiResult<HttpResponse> {
    let body = render::render(digest, format).map_err(ApiError::internal)?;
    let mut response = HttpResponse::Ok();
    response
        .content_type(format.content_type())
        .insert_header((header::VARY, "Accept"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "inline; filename=\"{}\"",
        render::file_name(&digest.id, format)
    )) {
        response.insert_header((header::CONTENT_DISPOSITION, v));
    }
    if format == Format::Html {
        response.insert_header((header::CONTENT_SECURITY_POLICY, render::html_csp()));
    }
    Ok(response.body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: ApiResult<Format>) -> Result<Format, ErrorCode> {
        r.map_err(|e| e.code())
    }

    #[test]
    fn negotiates_formats() {
        assert_eq!(code(negotiate_format(None, None)), Ok(Format::Json));
        assert_eq!(code(negotiate_format(Some("*/*"), None)), Ok(Format::Json));
        assert_eq!(
            code(negotiate_format(Some("text/csv"), None)),
            Ok(Format::Csv)
        );
        assert_eq!(
            code(negotiate_format(
                Some("text/markdown;q=0.5, text/html"),
                None
            )),
            Ok(Format::Html)
        );
        assert_eq!(
            code(negotiate_format(Some("text/*"), None)),
            Ok(Format::Html)
        );
        assert_eq!(
            code(negotiate_format(
                Some("application/json;q=0, */*;q=0.1"),
                None
            )),
            Ok(Format::Html)
        );
        assert_eq!(
            code(negotiate_format(Some("application/pdf"), None)),
            Err(ErrorCode::NotAcceptable)
        );
        assert_eq!(
            code(negotiate_format(Some("application/pdf"), Some("md"))),
            Ok(Format::Markdown),
            "the parameter decides"
        );
        assert_eq!(
            code(negotiate_format(None, Some("pdf"))),
            Err(ErrorCode::InvalidParameter)
        );
    }
}
