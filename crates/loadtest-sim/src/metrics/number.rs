//! Numbers as prometheus_client prints them (`floatToGoString`): `1.0`, `0.001`, `+Inf`,
//! `1e+06`, `1.7958740413692524e+09`.

/// Python's `repr(float)`: the shortest round-trip form, `.0` on integers, exponent form
/// below 1e-4 and from 1e16.
pub(crate) fn python_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    let ax = x.abs();
    if !(1e-4..1e16).contains(&ax) {
        let s = format!("{x:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let s = format!("{x}");
    if s.contains('.') { s } else { s + ".0" }
}

/// prometheus_client's `floatToGoString`.
pub(crate) fn go_float(x: f64) -> String {
    if x == f64::INFINITY {
        return "+Inf".to_owned();
    }
    if x == f64::NEG_INFINITY {
        return "-Inf".to_owned();
    }
    if x.is_nan() {
        return "NaN".to_owned();
    }
    let s = python_repr(x);
    match s.find('.') {
        Some(dot) if x > 0.0 && dot > 6 => {
            let mantissa = format!("{}.{}{}", &s[..1], &s[1..dot], &s[dot + 1..]);
            let mantissa = mantissa.trim_end_matches(['0', '.']);
            format!("{mantissa}e+0{}", dot - 1)
        }
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_prometheus_client() {
        for (x, want) in [
            (0.0, "0.0"),
            (1.0, "1.0"),
            (0.001, "0.001"),
            (56.0, "56.0"),
            (6263.0, "6263.0"),
            (0.5066452026367188, "0.5066452026367188"),
            (1_000_000.0, "1e+06"),
            (1_048_576.0, "1.048576e+06"),
            (1_795_874_041.369_252_4, "1.7958740413692524e+09"),
            (1e-5, "1e-05"),
            (f64::INFINITY, "+Inf"),
            (2560.0, "2560.0"),
        ] {
            assert_eq!(go_float(x), want, "{x}");
        }
    }
}
