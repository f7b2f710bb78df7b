//! The assembled H200 fixtures (see tests/data/README.md): parsing, CSV rows, and the line
//! splitter at every byte offset and on hostile input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use loadtest_gpu::{
    FULL_FIELDS, GpuSample, Line, LineSplitter, ParseLineError, QueryField, metrics_row, parse_line,
};
use loadtest_run::{GPU_METRICS_COLUMNS, GpuReading, gpu_metrics_header};
use proptest::prelude::*;

const LMS: &str = include_str!("data/h200x8_lms200.csv");
const HEADER_FORM: &str = include_str!("data/h200x8_header.csv");
const MIG: &str = include_str!("data/h200_mig.csv");

fn parse_all(bytes: &[&[u8]]) -> Vec<Result<GpuReading, ParseLineError>> {
    let mut splitter = LineSplitter::new();
    let mut lines = Vec::new();
    for b in bytes {
        splitter.push(b, |l| lines.push(l));
    }
    lines.extend(splitter.finish());
    lines
        .into_iter()
        .filter_map(|l| match l {
            Line::Text(t) if t.trim().is_empty() => None,
            Line::Text(t) => Some(parse_line(&t, FULL_FIELDS)),
            Line::Overlong => Some(Err(ParseLineError::NoIndexField)),
        })
        .collect()
}

#[test]
fn lms_fixture_parses_fully() {
    let readings: Vec<GpuReading> = parse_all(&[LMS.as_bytes()])
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(readings.len(), 40);
    for (i, r) in readings.iter().enumerate() {
        assert_eq!(r.gpu as usize, i % 8);
        assert_eq!(r.name.as_deref(), Some("NVIDIA H200"));
        assert_eq!(r.mem_total_mib, Some(143_771.0));
        assert_eq!(r.power_limit_w, Some(700.0));
        assert!(r.power_w.unwrap() > 100.0 && r.power_w.unwrap() <= 700.0);
        assert!(r.uuid.as_deref().unwrap().starts_with("GPU-"));
        assert_eq!(r.pstate.as_deref(), Some("P0"));
    }
    assert_eq!(
        readings[0].uuid.as_deref(),
        Some("GPU-2af1c335-11fb-c9d3-4de3-27a25697fc35")
    );
}

#[test]
fn mig_fixture_has_missing_utilisation() {
    let readings: Vec<GpuReading> = parse_all(&[MIG.as_bytes()])
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(readings.len(), 2);
    assert!(
        readings
            .iter()
            .all(|r| r.util_gpu_pct.is_none() && r.util_mem_pct.is_none())
    );
    assert_eq!(readings[0].power_w, Some(123.31));
}

#[test]
fn header_form_is_rejected_line_by_line() {
    // Why the poller asks for noheader,nounits: the header is not a reading, and unit
    // suffixes make numbers unparseable.
    let results = parse_all(&[HEADER_FORM.as_bytes()]);
    assert_eq!(results.len(), 9);
    assert!(matches!(results[0], Err(ParseLineError::BadIndex { .. })));
    assert!(results[1..].iter().all(|r| matches!(
        r,
        Err(ParseLineError::BadNumber {
            field: QueryField::UtilizationGpu,
            ..
        })
    )));
}

#[test]
fn fixture_rows_have_every_column() {
    let start = Instant::now();
    let mut csv = gpu_metrics_header();
    for (i, r) in parse_all(&[LMS.as_bytes()]).into_iter().enumerate() {
        let sample = GpuSample {
            at: start + Duration::from_millis(200 * (i as u64 / 8)),
            unix_s: 1_767_225_600.0 + 0.2 * (i / 8) as f64,
            child_run: 0,
            reading: r.unwrap(),
        };
        metrics_row(&sample, start, Some(1), "measure").write_csv_line(&mut csv);
    }
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 41);
    assert_eq!(lines[0].split(',').count(), GPU_METRICS_COLUMNS.len());
    for line in &lines[1..] {
        assert_eq!(line.split(',').count(), GPU_METRICS_COLUMNS.len(), "{line}");
        assert!(line.contains(",1,measure,"));
        assert!(line.ends_with(",P0"));
    }
    assert!(lines[9].starts_with("1767225600.200,0.200,1,measure,0,GPU-2af1c335"));
}

#[test]
fn every_split_point_gives_the_same_readings() {
    let bytes = LMS.as_bytes();
    let whole = parse_all(&[bytes]);
    for i in 0..=bytes.len() {
        assert_eq!(
            parse_all(&[&bytes[..i], &bytes[i..]]),
            whole,
            "split at {i}"
        );
    }
}

proptest! {
    #[test]
    fn random_chunking_gives_the_same_readings(cuts in proptest::collection::vec(0..LMS.len(), 0..20)) {
        let bytes = MIG.as_bytes().iter().chain(LMS.as_bytes()).copied().collect::<Vec<u8>>();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut prev = 0;
        for c in cuts {
            chunks.push(&bytes[prev..c]);
            prev = c;
        }
        chunks.push(&bytes[prev..]);
        prop_assert_eq!(parse_all(&chunks), parse_all(&[&bytes]));
    }

    #[test]
    fn hostile_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..6000)) {
        let _ = parse_all(&[&bytes]);
    }

    #[test]
    fn hostile_fields_never_panic(fields in proptest::collection::vec("[0-9a-zA-Z\\[\\]/ .,\"-]{0,12}", 13)) {
        let line = fields.join(", ");
        if let Ok(r) = parse_line(&line, FULL_FIELDS) {
            // Whatever parsed is finite.
            for v in [r.util_gpu_pct, r.power_w, r.temp_c, r.mem_used_mib].into_iter().flatten() {
                prop_assert!(v.is_finite());
            }
        }
    }
}
