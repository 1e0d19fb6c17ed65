//! Metric samples as stored: the rkyv archive of [`MetricSample`], read back with checked
//! access (the workspace enables rkyv's `unaligned` format, so LMDB's unaligned values are
//! read in place).

use protocol::MetricSample;
use rkyv::rancor;
use thiserror::Error;

/// A sample could not be encoded, or stored bytes are not a valid sample.
#[derive(Debug, Error)]
#[error("metric sample: {0}")]
pub struct SampleCodecError(#[source] rancor::Error);

/// Encodes a sample for the performance store.
pub fn encode_sample(sample: &MetricSample) -> Result<Vec<u8>, SampleCodecError> {
    rkyv::to_bytes::<rancor::Error>(sample)
        .map(|b| b.into_vec())
        .map_err(SampleCodecError)
}

/// Validates a stored sample and reads it in place (no copy, no allocation).
pub fn access_sample(bytes: &[u8]) -> Result<&protocol::ArchivedMetricSample, SampleCodecError> {
    rkyv::access::<protocol::ArchivedMetricSample, rancor::Error>(bytes).map_err(SampleCodecError)
}

/// Decodes a stored sample, validating it first.
pub fn decode_sample(bytes: &[u8]) -> Result<MetricSample, SampleCodecError> {
    rkyv::from_bytes::<MetricSample, rancor::Error>(bytes).map_err(SampleCodecError)
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
