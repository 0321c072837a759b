//! The common-shape decoder against the general one: whatever the first accepts, the second
//! accepts with the same result (bit for bit: requests are compared by their `Debug` text,
//! which tells `-0.0` from `0.0`), and the requests it is for do take it.

use bytes::Bytes;
use mlops_core::testing::{FuzzRng, mutate, mutate_json, run_fuzz_at_least};
use serde_json::{Value, json};

use super::common_request;
use super::request::decode_general;
use crate::model::ModelMetadata;
use crate::tensor::{Datatype, TensorSpec};

fn metadata(inputs: Vec<TensorSpec>) -> ModelMetadata {
    ModelMetadata {
        name: "m".into(),
        version: None,
        platform: "test".into(),
        inputs,
        outputs: vec![TensorSpec::new("y", Datatype::Fp32, [-1, 1])],
    }
}

/// The models, by index: the fuzz input's first byte picks one.
fn models() -> Vec<ModelMetadata> {
    vec![
        metadata(vec![TensorSpec::new("input", Datatype::Fp32, [-1, 4])]),
        metadata(vec![
            TensorSpec::new("a", Datatype::Int64, [-1, 2]),
            TensorSpec::new("b", Datatype::Fp64, [-1]),
        ]),
        metadata(vec![TensorSpec::new("c", Datatype::Uint8, [2, 2, 2])]),
        metadata(vec![TensorSpec::new("h", Datatype::Fp16, [-1, 2])]),
        metadata(vec![TensorSpec::new("s", Datatype::Int8, [])]),
        metadata(vec![TensorSpec::new("z", Datatype::Fp32, [-1, 0])]),
        metadata(vec![TensorSpec::new("t", Datatype::Bool, [-1])]),
    ]
}

/// Valid requests in the common shape, with the index of their model.
fn seeds() -> Vec<(usize, Value)> {
    vec![
        (
            0,
            json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1.0, 2.0, 3.0, 4.0]}]}),
        ),
        (
            0,
            json!({"id": "r-1", "inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP32", "data": [[1, -2, 3.5, 4e3], [0.1, -0.0, 3.4028234e38, 1.4e-45]]}]}),
        ),
        (
            1,
            json!({"inputs": [
                {"datatype": "FP64", "shape": [3], "name": "b", "data": [0.1, -7, 9007199254740993u64]},
                {"name": "a", "shape": [3, 2], "datatype": "INT64", "data": [-9223372036854775808i64, 9223372036854775807i64, 0, -1, 2, 3]}
            ], "id": ""}),
        ),
        (
            2,
            json!({"inputs": [{"name": "c", "shape": [2, 2, 2], "datatype": "UINT8", "data": [[[0, 1], [2, 255]], [[4, 5], [6, 7]]]}]}),
        ),
        (
            3,
            json!({"inputs": [{"name": "h", "shape": [1, 2], "datatype": "FP16", "data": [65504, -6.1e-5]}]}),
        ),
        (
            4,
            json!({"inputs": [{"name": "s", "shape": [], "datatype": "INT8", "data": [-128]}]}),
        ),
        (
            5,
            json!({"inputs": [{"name": "z", "shape": [3, 0], "datatype": "FP32", "data": []}]}),
        ),
    ]
}

/// JSON text of `value` as clients write it: `data` after the other fields of an object
/// (`serde_json::Value` sorts keys, which would put it first); the others sorted, or in
/// the order most clients use (`name`, `shape`, `datatype`: the order the one-pass decoder
/// has its shortcuts for).
fn text(value: &Value, pretty: bool) -> Vec<u8> {
    text_in(value, pretty, false)
}

/// [`text`], the fields in the clients' order when `client_order`.
fn text_in(value: &Value, pretty: bool, client_order: bool) -> Vec<u8> {
    fn rank(key: &str, client_order: bool) -> usize {
        match key {
            "data" => 4,
            "name" if client_order => 0,
            "shape" if client_order => 1,
            "datatype" if client_order => 2,
            _ => 3,
        }
    }
    fn write(value: &Value, pretty: bool, client_order: bool, out: &mut String) {
        match value {
            Value::Object(map) => {
                out.push('{');
                let mut keys: Vec<&String> = map.keys().collect();
                // Stable: the sorted order within a rank.
                keys.sort_by_key(|k| rank(k, client_order));
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push_str(if pretty { ",\n  " } else { "," });
                    }
                    out.push_str(&serde_json::to_string(key).unwrap());
                    out.push_str(if pretty { ": " } else { ":" });
                    write(&map[key], pretty, client_order, out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(if pretty { ", " } else { "," });
                    }
                    write(item, pretty, client_order, out);
                }
                out.push(']');
            }
            other => out.push_str(&serde_json::to_string(other).unwrap()),
        }
    }
    let mut out = String::new();
    write(value, pretty, client_order, &mut out);
    out.into_bytes()
}

fn same(model: &ModelMetadata, body: &[u8]) -> bool {
    let fast = common_request::decode(body, model);
    let general = decode_general(&Bytes::copy_from_slice(body), None, model);
    match (fast, general) {
        (None, _) => false,
        (Some(fast), Ok(general)) => {
            assert_eq!(
                format!("{fast:?}"),
                format!("{general:?}"),
                "{}",
                String::from_utf8_lossy(body)
            );
            true
        }
        (Some(fast), Err(e)) => panic!(
            "the common decoder accepted what the general one refuses ({e}): {} -> {fast:?}",
            String::from_utf8_lossy(body)
        ),
    }
}

#[test]
fn the_common_shape_takes_the_one_pass_decoder_with_the_general_result() {
    let models = models();
    for (model, seed) in seeds() {
        for body in [
            text(&seed, false),
            text(&seed, true),
            text_in(&seed, false, true),
            text_in(&seed, true, true),
        ] {
            assert!(
                same(&models[model], &body),
                "not decoded in one pass: {}",
                String::from_utf8_lossy(&body)
            );
        }
    }
}

/// Numbers an FP32 input takes in one pass.
const FLOATS: &[&str] = &[
    "0",
    "-0",
    "-0.0",
    "1.5",
    "0.1",
    "4.35",
    "-2.675",
    "1e22",
    "1e23",
    "1e-23",
    "0.000061",
    "123.456e-5",
    "9007199254740993.0",
    "12345678901234567.8",
];

#[test]
fn numbers_convert_as_the_general_decoder_converts_them() {
    let models = models();
    let numbers = [
        "0",
        "-0",
        "-0.0",
        "0e5",
        "1",
        "-1",
        "1.5",
        "1E+2",
        "1e-2",
        "0.1",
        "0.30000000000000004",
        "3.4028235e38",
        "3.4028236e38",
        "1e39",
        "-1e39",
        "1e-46",
        "1.17549435e-38",
        "4.9e-324",
        "1e-400",
        "1e400",
        "123456789012345678",
        "9999999999999999999",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "255",
        "256",
        "-128",
        "-129",
        "65504",
        "65520",
        "2.5e-8",
        "01",
        "-",
        "1.",
        ".5",
        "1e",
        "+1",
        "1.0e+",
        "0x10",
        "NaN",
        "Infinity",
        "\"NaN\"",
        "true",
        "null",
        "1 2",
        "0.000061",
        "123.456e-5",
        "1.7976931348623157e308",
        "2.2250738585072014e-308",
        "9007199254740993.0",
        "0.1e1",
        "1e22",
        "1e23",
        "1e-22",
        "1e-23",
        "12345678901234567.8",
        "1234567890123456789.5",
        "0.12345678901234567890123",
        "4.35",
        "-2.675",
        "1.00000000000000011102230246251565404236316680908203125",
        "1e+0",
        "1E-0",
        "5e-324",
        "1e00001",
        "-1.5e3",
        "0.30000000000000004441",
    ];
    for model in [0, 1, 2, 3, 4] {
        let spec = &models[model].inputs[0];
        for number in numbers {
            let shape: Vec<usize> = spec
                .shape
                .iter()
                .map(|&d| usize::try_from(d).unwrap_or(1))
                .collect();
            let count: usize = shape.iter().product();
            let data = vec![number; count].join(",");
            let body = format!(
                r#"{{"inputs":[{{"name":"{}","shape":{shape:?},"datatype":"{}","data":[{data}]}}]}}"#,
                spec.name, spec.datatype
            );
            // Inputs the general decoder refuses fall back; the rest must agree, and plain
            // floats (Clinger's exact case and the rest) take the one-pass decoder.
            let taken = same(&models[model], body.as_bytes());
            assert!(
                taken || model != 0 || !FLOATS.contains(&number),
                "not decoded in one pass: {body}"
            );
        }
    }
}

#[test]
fn anything_else_falls_back_to_the_general_decoder() {
    let model = &models()[0];
    let row = r#""name":"input","shape":[1,4],"datatype":"FP32""#;
    for body in [
        // Escapes, parameters, outputs, data first, a repeated field, a scalar, strings.
        format!(r#"{{"id":"a\"b","inputs":[{{{row},"data":[1,2,3,4]}}]}}"#),
        format!(r#"{{"inputs":[{{{row},"data":[1,2,3,4],"parameters":{{}}}}]}}"#),
        format!(r#"{{"inputs":[{{{row},"data":[1,2,3,4]}}],"outputs":[{{"name":"y"}}]}}"#),
        r#"{"inputs":[{"data":[1,2,3,4],"name":"input","shape":[1,4],"datatype":"FP32"}]}"#.into(),
        format!(r#"{{"inputs":[{{{row},"data":[1,2,3,4],"data":[1,2,3,4]}}]}}"#),
        format!(r#"{{"inputs":[{{{row},"data":[1,2,3,"NaN"]}}]}}"#),
        format!(r#"{{"inputs":[{{{row},"data":[1,2,3,4]}}],"inputs":[]}}"#),
        format!(r#"{{"inputs":[{{{row},"data":[[1,2],[3,4]]}}]}}"#),
        format!(r#"{{"inputs":[{{{row},"data":[1,2,3,4]}}]}} x"#),
        format!(r#"{{"inputs":[{{{row},"data":[1,2,3,4,]}}]}}"#),
    ] {
        assert!(
            common_request::decode(body.as_bytes(), model).is_none(),
            "taken: {body}"
        );
    }
}

/// Ranks up to the one-pass decoder's (8, kept on the stack) take it; higher ones, which the
/// general decoder accepts up to its own limit, fall back to it.
#[test]
fn high_ranks_fall_back_to_the_general_decoder() {
    for rank in [1usize, 8, 9, 20] {
        let model = metadata(vec![TensorSpec::new("r", Datatype::Fp32, vec![-1; rank])]);
        let shape = vec![1usize; rank];
        let dims = vec!["1"; rank].join(",");
        // In the common field order (`json!` would sort the keys, data first).
        let body = format!(
            r#"{{"inputs":[{{"name":"r","shape":[{dims}],"datatype":"FP32","data":[2.5]}}]}}"#
        );
        let general = decode_general(&Bytes::copy_from_slice(body.as_bytes()), None, &model)
            .unwrap_or_else(|e| panic!("rank {rank}: {e}"));
        assert_eq!(general.inputs[0].data.shape(), shape.as_slice());
        match common_request::decode(body.as_bytes(), &model) {
            Some(fast) => {
                assert!(rank <= 8, "rank {rank} took the one-pass decoder");
                assert_eq!(format!("{fast:?}"), format!("{general:?}"));
            }
            None => assert!(rank > 8, "rank {rank} fell back"),
        }
    }
}

/// Tokens of the request grammar, for byte mutations.
const DICT: &[&[u8]] = &[
    b"\"inputs\"",
    b"\"id\"",
    b"\"name\"",
    b"\"shape\"",
    b"\"datatype\"",
    b"\"data\"",
    b"\"parameters\"",
    b"\"FP32\"",
    b"\"INT64\"",
    b"\"FP64\"",
    b"\"BOOL\"",
    b"\"FP3\"",
    b"\"FP32 \"",
    b"\"FP32\\\"\"",
    b"-0",
    b"1e309",
    b"1e-400",
    b"18446744073709551616",
    b"[[1,2],[3,4]]",
    b"[]",
    b"\\u0041",
    b" \n",
];

#[test]
fn fuzz_the_common_decoder_never_accepts_what_the_general_one_refuses() {
    let models = models();
    let seeds = seeds();
    let mut taken = 0u64;
    // A broken shortcut (a datatype compared wrongly) showed after ~5,000 cases; each case
    // takes microseconds.
    run_fuzz_at_least(
        "common_request",
        50_000,
        |rng: &mut FuzzRng| {
            let (model, seed) = rng.pick(&seeds);
            let text = if rng.one_in(2) {
                text_in(&mutate_json(seed, rng), rng.one_in(2), rng.one_in(2))
            } else {
                mutate(&text_in(seed, false, rng.one_in(2)), DICT, rng)
            };
            let mut input = vec![u8::try_from(*model).unwrap()];
            input.extend(text);
            input
        },
        |input| {
            let model = &models[usize::from(input[0]) % models.len()];
            if same(model, &input[1..]) {
                taken += 1;
            }
        },
    );
    // Mutations keep many requests valid: the one-pass decoder must have seen some.
    assert!(taken > 0, "no fuzz case took the one-pass decoder");
}

#[test]
fn random_decimals_round_as_the_general_decoder_rounds_them() {
    let models = models();
    let (fp32, fp64) = (&models[0], &models[1]);
    let mut rng = FuzzRng::new(0x5EED);
    let mut taken = 0;
    for _ in 0..20_000 {
        // 1 to 20 digits, a point anywhere (or none), an exponent sometimes.
        let digits: String = (0..1 + rng.below(20))
            .map(|_| char::from(b'0' + u8::try_from(rng.below(10)).unwrap()))
            .collect();
        let digits = digits.trim_start_matches('0');
        let digits = if digits.is_empty() { "0" } else { digits };
        let point = rng.below(digits.len() + 1);
        let mut number = String::new();
        if rng.one_in(2) {
            number.push('-');
        }
        number.push_str(&digits[..point.max(1)]);
        if point > 0 && point < digits.len() {
            number.push('.');
            number.push_str(&digits[point..]);
        } else {
            number.push_str(".5");
        }
        if rng.one_in(2) {
            let power = i64::try_from(rng.below(60)).unwrap() - 30;
            number.push_str(&format!("e{power}"));
        }
        let fp32_body = format!(
            r#"{{"inputs":[{{"name":"input","shape":[1,4],"datatype":"FP32","data":[{number},1,2,3]}}]}}"#
        );
        let fp64_body = format!(
            r#"{{"inputs":[{{"name":"a","shape":[1,2],"datatype":"INT64","data":[1,2]}},{{"name":"b","shape":[1],"datatype":"FP64","data":[{number}]}}]}}"#
        );
        for (model, body) in [(fp32, fp32_body), (fp64, fp64_body)] {
            if same(model, body.as_bytes()) {
                taken += 1;
            }
        }
    }
    assert!(
        taken > 30_000,
        "only {taken} of 40000 took the one-pass decoder"
    );
}

/// The word-at-a-time scan of a string stops where a byte-by-byte one does, on strings
/// built mostly from the bytes it must stop at and their neighbours.
#[test]
fn the_string_scan_stops_at_the_first_byte_to_escape() {
    let alphabet: Vec<u8> = [b'"', b'\\', 0x00, 0x1f, 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80]
        .into_iter()
        .chain([0xa2, 0xdc, 0xff, b'a', b'0', b'\n'])
        .collect();
    let naive = |bytes: &[u8]| {
        bytes
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
    };
    let mut rng = FuzzRng::new(0x5CA9);
    for _ in 0..50_000 {
        let len = rng.below(40);
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if rng.one_in(4) {
                    *rng.pick(&alphabet)
                } else {
                    b'a' + u8::try_from(rng.below(26)).unwrap()
                }
            })
            .collect();
        assert_eq!(
            common_request::plain_len(&bytes),
            naive(&bytes),
            "{bytes:?}"
        );
    }
    for byte in 0..=255u8 {
        for at in 0..20 {
            let mut bytes = vec![b'x'; 20];
            bytes[at] = byte;
            assert_eq!(
                common_request::plain_len(&bytes),
                naive(&bytes),
                "{bytes:?}"
            );
        }
    }
}

/// The one-pass decoder's datatype names are the protocol's.
#[test]
fn datatypes_are_read_as_the_protocol_spells_them() {
    for datatype in Datatype::ALL {
        assert_eq!(
            common_request::datatype_of(datatype.as_str().as_bytes()),
            Some(datatype)
        );
    }
    for text in [
        "", "fp32", "FP3", "FP322", "INT", "BYTE", "UINT128", "BOOL ",
    ] {
        assert_eq!(common_request::datatype_of(text.as_bytes()), None, "{text}");
        assert_eq!(Datatype::parse(text), None, "{text}");
    }
}

/// `TensorData::from_vec` (fixed dimensions up to rank 3, then dynamic) builds the array
/// `ArrayD::from_shape_vec` builds: same shape, strides and layout (the `Debug` text shows
/// them all), empty dimensions included, and refuses what it refuses.
#[test]
fn tensors_are_built_as_ndarray_builds_them() {
    use ndarray::{ArrayD, IxDyn};

    use crate::tensor::TensorData;
    for shape in [
        vec![],
        vec![0],
        vec![3],
        vec![1, 4],
        vec![2, 0],
        vec![0, 3],
        vec![3, 1],
        vec![2, 3, 4],
        vec![2, 0, 4],
        vec![1, 1, 1],
        vec![2, 1, 3, 2],
        vec![1, 2, 0, 3, 1],
    ] {
        let count: usize = shape.iter().product();
        for len in [count, count + 1] {
            let values: Vec<f32> = (0..len).map(|i| i as f32).collect();
            let ours = TensorData::from_vec(&shape, values.clone());
            let theirs = ArrayD::from_shape_vec(IxDyn(&shape), values);
            match (ours, theirs) {
                (Ok(TensorData::Fp32(ours)), Ok(theirs)) => {
                    assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "{shape:?}");
                    assert_eq!(ours.strides(), theirs.strides(), "{shape:?}");
                }
                (Err(_), Err(_)) => assert_ne!(len, count, "{shape:?}"),
                (ours, theirs) => panic!("{shape:?} of {len}: {ours:?} against {theirs:?}"),
            }
        }
    }
}

/// A random tensor of `datatype`: a random shape (rank 0 to 3, empty dimensions included),
/// values drawn from each type's edges, and sometimes a non-contiguous view (transposed),
/// which the encoders must write in logical order.
fn random_data(datatype: Datatype, rng: &mut FuzzRng) -> crate::tensor::TensorData {
    use crate::tensor::{Element, TensorData, f16};
    use ndarray::{ArrayD, IxDyn};

    fn build<T: Element>(
        shape: &[usize],
        rng: &mut FuzzRng,
        pick: impl Fn(&mut FuzzRng) -> T,
    ) -> TensorData {
        let count = shape.iter().product();
        let values: Vec<T> = (0..count).map(|_| pick(rng)).collect();
        let array = ArrayD::from_shape_vec(IxDyn(shape), values).unwrap();
        let array = if rng.one_in(3) {
            array.reversed_axes()
        } else {
            array
        };
        T::wrap(array)
    }
    fn float(rng: &mut FuzzRng) -> f64 {
        let edges = [
            0.0,
            -0.0,
            1.0,
            -1.5,
            0.1,
            1e-7,
            1e21,
            1e22,
            123_456_789.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            65504.0,
            3.402_823_466e38,
        ];
        if rng.one_in(2) {
            *rng.pick(&edges)
        } else {
            f64::from_bits(rng.next_u64())
        }
    }
    let rank = rng.below(4);
    let shape: Vec<usize> = (0..rank)
        .map(|_| if rng.one_in(8) { 0 } else { 1 + rng.below(3) })
        .collect();
    #[allow(clippy::cast_possible_truncation)]
    match datatype {
        Datatype::Bool => build(&shape, rng, |r| r.one_in(2)),
        Datatype::Uint8 => build(&shape, rng, |r| r.next_u64() as u8),
        Datatype::Uint16 => build(&shape, rng, |r| r.next_u64() as u16),
        Datatype::Uint32 => build(&shape, rng, |r| r.next_u64() as u32),
        Datatype::Uint64 => build(&shape, rng, |r| r.next_u64() >> r.below(64)),
        Datatype::Int8 => build(&shape, rng, |r| r.next_u64() as i8),
        Datatype::Int16 => build(&shape, rng, |r| r.next_u64() as i16),
        Datatype::Int32 => build(&shape, rng, |r| r.next_u64() as i32),
        Datatype::Int64 => build(&shape, rng, |r| (r.next_u64() as i64) >> r.below(64)),
        Datatype::Fp16 => build(&shape, rng, |r| f16::from_f64(float(r))),
        Datatype::Fp32 => build(&shape, rng, |r| float(r) as f32),
        Datatype::Fp64 => build(&shape, rng, float),
        _ => build(&shape, rng, |r| {
            // Mostly text, sometimes bytes that are not UTF-8 (an error as JSON).
            let texts: [&[u8]; 5] = [b"a", b"", b"\"q\"", b"\xff\xfe", "\u{e9}".as_bytes()];
            let text: &[u8] = texts[r.below(texts.len())];
            Bytes::copy_from_slice(text)
        }),
    }
}

/// The hand-written encoder against the general one: the same bytes, the same binary
/// split, the same error, on random answers (every datatype, non-finite floats, views,
/// names and ids to escape, binary outputs, a missing output); and the common answers do
/// take it.
#[test]
fn the_common_response_takes_the_hand_written_encoder_with_the_general_bytes() {
    use super::common_response;
    use super::request::OutputChoice;
    use super::response::{encode, encode_general};
    use crate::tensor::Tensor;

    let names = [
        "y",
        "variable",
        "probabilities",
        "a\"b",
        "tab\there",
        "\u{e9}t\u{e9}",
        "",
    ];
    let mut rng = FuzzRng::new(0xE4C0);
    let mut taken = 0;
    for case in 0..20_000 {
        let outputs_len = 1 + rng.below(6);
        let mut specs = Vec::new();
        let mut tensors = Vec::new();
        for i in 0..outputs_len {
            let datatype = *rng.pick(&Datatype::ALL);
            let name = if rng.one_in(3) {
                (*rng.pick(&names)).to_owned()
            } else {
                format!("out{i}")
            };
            specs.push(TensorSpec::new(name.clone(), datatype, [-1]));
            // Sometimes the model does not return an output (an error), or returns it under
            // the name of another (the first of the name is the one written).
            if !rng.one_in(12) {
                tensors.push(Tensor {
                    name,
                    data: random_data(datatype, &mut rng),
                });
            }
        }
        if rng.one_in(2) {
            tensors.reverse();
        }
        let mut model = metadata(vec![TensorSpec::new("x", Datatype::Fp32, [-1, 1])]);
        model.outputs = specs;
        model.name = (*rng.pick(&["m", "linear-regressor", "m\"x"])).to_owned();
        model.version = rng
            .one_in(2)
            .then(|| (*rng.pick(&["3", "v\\1"])).to_owned());
        let id = (*rng.pick(&[None, Some("r-1"), Some(""), Some("q\"uote"), Some("\u{1}")]))
            .map(str::to_owned);
        let mut choices: Vec<OutputChoice> = Vec::new();
        for index in 0..outputs_len {
            if !rng.one_in(4) {
                choices.push(OutputChoice {
                    index,
                    binary: rng.one_in(4),
                });
            }
        }
        if rng.one_in(2) {
            choices.reverse();
        }
        let fast = encode(&model, id.as_deref(), &choices, &tensors);
        let general = encode_general(&model, id.as_deref(), &choices, &tensors);
        match (fast, general) {
            (Ok(fast), Ok(general)) => {
                assert_eq!(
                    String::from_utf8_lossy(&fast.body),
                    String::from_utf8_lossy(&general.body),
                    "case {case}"
                );
                assert_eq!(fast.body, general.body, "case {case}");
                assert_eq!(fast.header_len, general.header_len, "case {case}");
            }
            (Err(fast), Err(general)) => {
                assert_eq!(fast.to_string(), general.to_string(), "case {case}");
            }
            (fast, general) => panic!("case {case}: {fast:?} against {general:?}"),
        }
        if common_response::encode(&model, id.as_deref(), &choices, &tensors).is_some() {
            taken += 1;
        }
    }
    assert!(
        taken > 2_000,
        "only {taken} of 20000 took the hand-written encoder"
    );

    // The answer of the one-row benchmark takes it.
    let mut model = metadata(vec![TensorSpec::new("input", Datatype::Fp32, [-1, 4])]);
    model.outputs = vec![TensorSpec::new("variable", Datatype::Fp32, [-1, 1])];
    let outputs = [Tensor::new(
        "variable",
        crate::tensor::TensorData::from_vec(&[1, 1], vec![5.25f32]).unwrap(),
    )];
    let choices = [OutputChoice {
        index: 0,
        binary: false,
    }];
    let fast = common_response::encode(&model, None, &choices, &outputs).unwrap();
    assert_eq!(
        fast.body,
        br#"{"model_name":"m","outputs":[{"name":"variable","datatype":"FP32","shape":[1,1],"data":[5.25]}]}"#
    );
}

/// Every numeric datatype, named right after the input (where the decoder compares the
/// model's own datatype as it is), takes the one-pass decoder; any other datatype named
/// there agrees with the general decoder (which refuses it).
#[test]
fn each_datatype_after_the_name_takes_the_one_pass_decoder() {
    for datatype in Datatype::ALL {
        let model = metadata(vec![TensorSpec::new("x", datatype, [-1])]);
        for named in Datatype::ALL {
            let body = format!(
                r#"{{"inputs": [{{"name": "x", "shape": [1], "datatype": "{named}", "data": [1]}}]}}"#
            );
            let taken = same(&model, body.as_bytes());
            let numeric = !matches!(datatype, Datatype::Bool | Datatype::Bytes);
            assert_eq!(
                taken,
                numeric && named == datatype,
                "{datatype} model, {named} named"
            );
        }
    }
}
