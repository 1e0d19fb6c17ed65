//! Metric samples as stored: the rkyv archive of [`MetricSample`], read back with checked
//! access (the workspace enables rkyv's `unaligned` format, so LMDB's unaligned values are
//! read in place).

use protocol::MetricSample;
use rkyv::rancor;

/// Encodes a sample for the performance store.
pub fn encode_sample(sample: &MetricSample) -> Result<Vec<u8>, String> {
    rkyv::to_bytes::<rancor::Error>(sample)
        .map(|b| b.into_vec())
        .map_err(|e| e.to_string())
}

/// Decodes a stored sample, validating it first.
pub fn decode_sample(bytes: &[u8]) -> Result<MetricSample, String> {
    rkyv::from_bytes::<MetricSample, rancor::Error>(bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let s = MetricSample {
            cpu_total_pct: 3.5,
            cpu_per_core_pct: vec![1.0, 6.0],
            ..MetricSample::default()
        };
        assert_eq!(decode_sample(&encode_sample(&s).unwrap()).unwrap(), s);
        assert!(decode_sample(&[1, 2, 3]).is_err());
    }
}
