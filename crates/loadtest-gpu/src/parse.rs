//! Parsing one `--format=csv,noheader,nounits` line into a [`GpuReading`].

use loadtest_run::GpuReading;

use crate::fields::QueryField;

/// Why a line was not a valid reading. The line is skipped and counted; it is never fatal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseLineError {
    /// The line has a different number of comma-separated fields than were queried.
    #[error("expected {expected} comma-separated fields, found {found}")]
    FieldCount {
        /// Fields queried.
        expected: usize,
        /// Fields on the line.
        found: usize,
    },
    /// The `index` field is missing or not a non-negative integer.
    #[error("index {value:?} is not a GPU index")]
    BadIndex {
        /// The text found.
        value: String,
    },
    /// A numeric field holds something that is neither a finite number nor a `[…]` marker.
    #[error("{field} {value:?} is not a number")]
    BadNumber {
        /// The field.
        field: QueryField,
        /// The text found.
        value: String,
    },
    /// The field list has no `index` field, so no line can be attributed to a GPU.
    #[error("the field list has no index field")]
    NoIndexField,
}

/// `None` for a value nvidia-smi reports as missing: empty, or any bracketed text such as
/// `[N/A]`, `[Not Supported]`, `[Unknown Error]`.
#[must_use]
pub fn missing_or_text(raw: &str) -> Option<&str> {
    let v = raw.trim();
    if v.is_empty() || (v.starts_with('[') && v.ends_with(']')) {
        None
    } else {
        Some(v)
    }
}

fn number(field: QueryField, raw: &str) -> Result<Option<f64>, ParseLineError> {
    let Some(text) = missing_or_text(raw) else {
        return Ok(None);
    };
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => Err(ParseLineError::BadNumber {
            field,
            value: text.to_owned(),
        }),
    }
}

/// Parses one output line whose columns are `fields`, in order.
///
/// Values are separated by commas (nvidia-smi writes `", "`); each is trimmed. A trailing
/// `\r` or spaces are ignored.
///
/// # Errors
/// [`ParseLineError`] when the field count differs, the index is not an integer, or a numeric
/// field holds text that is neither a number nor a `[…]` marker.
pub fn parse_line(line: &str, fields: &[QueryField]) -> Result<GpuReading, ParseLineError> {
    if !fields.contains(&QueryField::Index) {
        return Err(ParseLineError::NoIndexField);
    }
    let line = line.trim_end_matches(['\r', '\n']);
    let found = line.split(',').count();
    if found != fields.len() {
        return Err(ParseLineError::FieldCount {
            expected: fields.len(),
            found,
        });
    }
    let mut reading = GpuReading::default();
    for (field, raw) in fields.iter().copied().zip(line.split(',')) {
        match field {
            QueryField::Index => {
                reading.gpu = raw
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| ParseLineError::BadIndex {
                        value: raw.trim().to_owned(),
                    })?;
            }
            QueryField::Uuid => reading.uuid = missing_or_text(raw).map(str::to_owned),
            QueryField::Name => reading.name = missing_or_text(raw).map(str::to_owned),
            QueryField::Pstate => reading.pstate = missing_or_text(raw).map(str::to_owned),
            QueryField::UtilizationGpu => reading.util_gpu_pct = number(field, raw)?,
            QueryField::UtilizationMemory => reading.util_mem_pct = number(field, raw)?,
            QueryField::MemoryUsed => reading.mem_used_mib = number(field, raw)?,
            QueryField::MemoryTotal => reading.mem_total_mib = number(field, raw)?,
            QueryField::PowerDraw => reading.power_w = number(field, raw)?,
            QueryField::PowerLimit => reading.power_limit_w = number(field, raw)?,
            QueryField::TemperatureGpu => reading.temp_c = number(field, raw)?,
            QueryField::ClocksSm => reading.sm_clock_mhz = number(field, raw)?,
            QueryField::ClocksMem => reading.mem_clock_mhz = number(field, raw)?,
        }
    }
    Ok(reading)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::{FULL_FIELDS, SAFE_FIELDS};

    #[test]
    fn full_line() {
        let r = parse_line(
            "0, GPU-faae5314-b87e-87c0-400b-b7cfb9e7b310, NVIDIA A100-SXM4-40GB, 97, 61, 35210, 40960, 312.45, 400.00, 58, 1410, 1215, P0",
            FULL_FIELDS,
        )
        .unwrap();
        assert_eq!(r.gpu, 0);
        assert_eq!(r.name.as_deref(), Some("NVIDIA A100-SXM4-40GB"));
        assert_eq!(r.power_w, Some(312.45));
        assert_eq!(r.pstate.as_deref(), Some("P0"));
        assert_eq!(r.mem_clock_mhz, Some(1215.0));
    }

    #[test]
    fn bracketed_and_empty_are_missing() {
        let r = parse_line(
            "3, GPU-x, NVIDIA H200, [N/A], [N/A], 639, 143771, [Not Supported], [Unknown Error], , 1980, 2619, [N/A]\r",
            FULL_FIELDS,
        )
        .unwrap();
        assert_eq!(r.gpu, 3);
        assert_eq!(r.util_gpu_pct, None);
        assert_eq!(r.power_w, None);
        assert_eq!(r.power_limit_w, None);
        assert_eq!(r.temp_c, None);
        assert_eq!(r.pstate, None);
        assert_eq!(r.mem_used_mib, Some(639.0));
    }

    #[test]
    fn bad_lines() {
        assert!(matches!(
            parse_line("garbage", SAFE_FIELDS),
            Err(ParseLineError::FieldCount { .. })
        ));
        assert!(matches!(
            parse_line("x, a, b, 1, 2, 3, 4, 5", SAFE_FIELDS),
            Err(ParseLineError::BadIndex { .. })
        ));
        assert!(matches!(
            parse_line("0, a, b, NaN, 2, 3, 4, 5", SAFE_FIELDS),
            Err(ParseLineError::BadNumber { .. })
        ));
        assert!(matches!(
            parse_line("0, a, b, 5 %, 2, 3, 4, 5", SAFE_FIELDS),
            Err(ParseLineError::BadNumber { .. })
        ));
        assert!(matches!(
            parse_line("0", &[QueryField::Name]),
            Err(ParseLineError::NoIndexField)
        ));
    }
}
