//! Framed JSON-lines objects: every object the store writes (log records, metric segments,
//! checkpoints) is one header line that gives the body's kind, length and CRC-32C, then the
//! body, which is one or more JSON lines. A reader that finds the wrong length or checksum
//! knows the object is damaged (or foreign) and skips it; nothing is ever half-trusted.
//!
//! ```text
//! {"mlops":"run-record","v":1,"len":93,"crc32c":"5d0b6a1e"}
//! {"txn":"…","at":1717000000000123,"op":"update","status":"FINISHED"}
//! ```

use serde::{Deserialize, Serialize};

use super::FORMAT_VERSION as VERSION;

/// What a framed object holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One record of the experiments log.
    ExperimentRecord,
    /// A folded experiments log.
    ExperimentCheckpoint,
    /// One record of a run's meta log.
    RunRecord,
    /// A batch of metric points.
    MetricSegment,
    /// A generation of an experiment's run index.
    RunIndex,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::ExperimentRecord => "experiment-record",
            Self::ExperimentCheckpoint => "experiment-checkpoint",
            Self::RunRecord => "run-record",
            Self::MetricSegment => "metric-segment",
            Self::RunIndex => "run-index",
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Header<'a> {
    mlops: &'a str,
    v: u32,
    len: usize,
    crc32c: String,
}

/// Frames `body` (JSON lines, each ending in `\n`).
pub(crate) fn encode(kind: Kind, body: &[u8]) -> Vec<u8> {
    let header = Header {
        mlops: kind.as_str(),
        v: VERSION,
        len: body.len(),
        crc32c: format!("{:08x}", crc32c(body)),
    };
    // Serialising a struct of strings and integers cannot fail.
    let mut out = serde_json::to_vec(&header).unwrap_or_default();
    out.reserve(body.len() + 1);
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

/// The body of a framed object, or why it cannot be trusted.
pub(crate) fn decode(kind: Kind, bytes: &[u8]) -> Result<&[u8], String> {
    let Some(newline) = bytes.iter().position(|&b| b == b'\n') else {
        return Err("no header line (empty or torn object)".to_owned());
    };
    let header: Header<'_> =
        serde_json::from_slice(&bytes[..newline]).map_err(|e| format!("unreadable header: {e}"))?;
    if header.mlops != kind.as_str() {
        return Err(format!(
            "holds a {:?}, expected a {:?}",
            header.mlops,
            kind.as_str()
        ));
    }
    if header.v != VERSION {
        return Err(format!(
            "format version {} (this build reads version {VERSION})",
            header.v
        ));
    }
    let body = &bytes[newline + 1..];
    if body.len() != header.len {
        return Err(format!(
            "body is {} bytes, the header says {} (torn or appended to)",
            body.len(),
            header.len
        ));
    }
    let crc = format!("{:08x}", crc32c(body));
    if crc != header.crc32c {
        return Err(format!(
            "CRC-32C mismatch: header {}, body {crc}",
            header.crc32c
        ));
    }
    Ok(body)
}

/// The CRC-32C (Castagnoli) lookup tables, slicing by 8.
const TABLES: [[u32; 256]; 8] = tables();

const fn tables() -> [[u32; 256]; 8] {
    const POLY: u32 = 0x82F6_3B78; // reflected Castagnoli polynomial
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut k = 0;
        while k < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            k += 1;
        }
        t[0][i] = crc;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut s = 1;
        while s < 8 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            s += 1;
        }
        i += 1;
    }
    t
}

/// CRC-32C of `data`, as iSCSI, ext4 and S3's `x-amz-checksum-crc32c` compute it.
pub(crate) fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let lo = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) ^ crc;
        let hi = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        crc = TABLES[7][(lo & 0xff) as usize]
            ^ TABLES[6][((lo >> 8) & 0xff) as usize]
            ^ TABLES[5][((lo >> 16) & 0xff) as usize]
            ^ TABLES[4][(lo >> 24) as usize]
            ^ TABLES[3][(hi & 0xff) as usize]
            ^ TABLES[2][((hi >> 8) & 0xff) as usize]
            ^ TABLES[1][((hi >> 16) & 0xff) as usize]
            ^ TABLES[0][(hi >> 24) as usize];
    }
    for &b in chunks.remainder() {
        crc = TABLES[0][((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_values() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        // RFC 3720 B.4: 32 bytes of zeros.
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
        let ascending: Vec<u8> = (0u8..32).collect();
        assert_eq!(crc32c(&ascending), 0x46DD_794E);
    }

    #[test]
    fn frames_round_trip_and_detect_damage() {
        let body = b"{\"a\":1}\n{\"b\":2}\n";
        let framed = encode(Kind::MetricSegment, body);
        assert_eq!(decode(Kind::MetricSegment, &framed).unwrap(), body);
        assert!(decode(Kind::RunRecord, &framed).is_err());
        // Torn: every strict prefix is refused.
        for cut in 0..framed.len() {
            assert!(
                decode(Kind::MetricSegment, &framed[..cut]).is_err(),
                "{cut}"
            );
        }
        // A flipped bit in the body is caught.
        let mut bad = framed.clone();
        let last = bad.len() - 3;
        bad[last] ^= 0x01;
        assert!(decode(Kind::MetricSegment, &bad).is_err());
        // Appended garbage is caught.
        let mut longer = framed;
        longer.extend_from_slice(b"{}\n");
        assert!(decode(Kind::MetricSegment, &longer).is_err());
    }
}
