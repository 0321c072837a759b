//! [`DriftReport`] as an Arrow record batch: one row per column and test, for a Parquet history.

use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, StringBuilder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::{ColumnReport, DatasetDrift, DriftReport, SideCounts, TestResult};
use crate::error::DriftError;

/// The columns of [`DriftReport::record_batch_schema`], in order: name, type, nullable.
const FIELDS: [(&str, DataType, bool); 24] = [
    ("column", DataType::Utf8, false),
    ("kind", DataType::Utf8, true),
    ("test", DataType::Utf8, true),
    ("statistic", DataType::Float64, true),
    ("p_value", DataType::Float64, true),
    ("score", DataType::Float64, true),
    ("threshold", DataType::Float64, true),
    ("drifted", DataType::Boolean, false),
    ("deciding", DataType::Boolean, false),
    ("method", DataType::Utf8, true),
    ("error", DataType::Utf8, true),
    ("reference_rows", DataType::UInt64, false),
    ("reference_null", DataType::UInt64, false),
    ("reference_nan", DataType::UInt64, false),
    ("reference_inf", DataType::UInt64, false),
    ("reference_valid", DataType::UInt64, false),
    ("current_rows", DataType::UInt64, false),
    ("current_null", DataType::UInt64, false),
    ("current_nan", DataType::UInt64, false),
    ("current_inf", DataType::UInt64, false),
    ("current_valid", DataType::UInt64, false),
    ("dataset_drift", DataType::Boolean, false),
    ("share_drifted", DataType::Float64, false),
    ("details", DataType::Utf8, true),
];

impl DriftReport {
    /// The schema of [`DriftReport::to_record_batch`]. It is stable: columns are only ever
    /// appended at the end, so batches from successive reports append to one Parquet dataset.
    ///
    /// | column | type | null | meaning |
    /// |---|---|---|---|
    /// | `column` | Utf8 | no | the column name |
    /// | `kind` | Utf8 | yes | `numerical` or `categorical`; null when the type could not be read |
    /// | `test` | Utf8 | yes | the test name (`ks`, `psi`, …); null on a column's error row |
    /// | `statistic` | Float64 | yes | the test statistic (for distances, the distance) |
    /// | `p_value` | Float64 | yes | the p-value; null for tests without one |
    /// | `score` | Float64 | yes | what the decision uses: the p-value for `ks`, `chisquare`, `z`, else the distance |
    /// | `threshold` | Float64 | yes | the threshold applied |
    /// | `drifted` | Boolean | no | this test's verdict; false on an error row |
    /// | `deciding` | Boolean | no | true on the row that decides the column (its first test, or its error row): filter on it for one row per column |
    /// | `method` | Utf8 | yes | how `ks` computed its p-value: `exact` or `asymp` |
    /// | `error` | Utf8 | yes | why the column could not be tested |
    /// | `reference_rows`, `reference_null`, `reference_nan`, `reference_inf`, `reference_valid` | UInt64 | no | the reference side's [`SideCounts`] |
    /// | `current_rows`, `current_null`, `current_nan`, `current_inf`, `current_valid` | UInt64 | no | the current side's [`SideCounts`] |
    /// | `dataset_drift` | Boolean | no | the dataset verdict, repeated on every row |
    /// | `share_drifted` | Float64 | no | the share of tested columns that drifted, repeated on every row |
    /// | `details` | Utf8 | yes | the test's extras as a JSON object; null when there are none |
    ///
    /// Non-finite numbers are stored as they are (NaN, ±inf), unlike the JSON form. A
    /// caller that keeps a history adds its own columns (a timestamp, a model version) to
    /// each batch.
    pub fn record_batch_schema() -> SchemaRef {
        let fields: Vec<Field> = FIELDS
            .iter()
            .map(|(name, data_type, nullable)| Field::new(*name, data_type.clone(), *nullable))
            .collect();
        Arc::new(Schema::new(fields))
    }

    /// The report as a record batch with [`DriftReport::record_batch_schema`]: one row per
    /// column and test result, in order, plus one row (with a null `test`) for a column
    /// that has no result, such as a column with an error.
    pub fn to_record_batch(&self) -> Result<RecordBatch, DriftError> {
        let rows = self.columns.iter().map(|c| c.results.len().max(1)).sum();
        let mut builders = Builders::with_capacity(rows);
        for column in &self.columns {
            if column.results.is_empty() {
                builders.push(column, None, true, &self.dataset)?;
            }
            for (i, result) in column.results.iter().enumerate() {
                builders.push(column, Some(result), i == 0, &self.dataset)?;
            }
        }
        Ok(RecordBatch::try_new(
            Self::record_batch_schema(),
            builders.finish(),
        )?)
    }
}

/// One builder per output column.
struct Builders {
    column: StringBuilder,
    kind: StringBuilder,
    test: StringBuilder,
    statistic: Float64Builder,
    p_value: Float64Builder,
    score: Float64Builder,
    threshold: Float64Builder,
    drifted: BooleanBuilder,
    deciding: BooleanBuilder,
    method: StringBuilder,
    error: StringBuilder,
    reference: SideBuilders,
    current: SideBuilders,
    dataset_drift: BooleanBuilder,
    share_drifted: Float64Builder,
    details: StringBuilder,
}

/// The five count columns of one side.
struct SideBuilders {
    rows: UInt64Builder,
    null: UInt64Builder,
    nan: UInt64Builder,
    inf: UInt64Builder,
    valid: UInt64Builder,
}

impl SideBuilders {
    fn with_capacity(n: usize) -> Self {
        Self {
            rows: UInt64Builder::with_capacity(n),
            null: UInt64Builder::with_capacity(n),
            nan: UInt64Builder::with_capacity(n),
            inf: UInt64Builder::with_capacity(n),
            valid: UInt64Builder::with_capacity(n),
        }
    }

    fn push(&mut self, counts: &SideCounts) {
        self.rows.append_value(counts.rows);
        self.null.append_value(counts.null);
        self.nan.append_value(counts.nan);
        self.inf.append_value(counts.inf);
        self.valid.append_value(counts.valid);
    }

    fn finish(mut self, out: &mut Vec<ArrayRef>) {
        for builder in [
            &mut self.rows,
            &mut self.null,
            &mut self.nan,
            &mut self.inf,
            &mut self.valid,
        ] {
            out.push(Arc::new(builder.finish()));
        }
    }
}

impl Builders {
    fn with_capacity(n: usize) -> Self {
        Self {
            column: StringBuilder::with_capacity(n, n * 16),
            kind: StringBuilder::with_capacity(n, n * 11),
            test: StringBuilder::with_capacity(n, n * 8),
            statistic: Float64Builder::with_capacity(n),
            p_value: Float64Builder::with_capacity(n),
            score: Float64Builder::with_capacity(n),
            threshold: Float64Builder::with_capacity(n),
            drifted: BooleanBuilder::with_capacity(n),
            deciding: BooleanBuilder::with_capacity(n),
            method: StringBuilder::with_capacity(n, n * 5),
            error: StringBuilder::with_capacity(n, 0),
            reference: SideBuilders::with_capacity(n),
            current: SideBuilders::with_capacity(n),
            dataset_drift: BooleanBuilder::with_capacity(n),
            share_drifted: Float64Builder::with_capacity(n),
            details: StringBuilder::with_capacity(n, 0),
        }
    }

    /// Appends the row of `column` and `result` (`None`: the column's row without a test).
    fn push(
        &mut self,
        column: &ColumnReport,
        result: Option<&TestResult>,
        deciding: bool,
        dataset: &DatasetDrift,
    ) -> Result<(), DriftError> {
        self.column.append_value(&column.column);
        self.kind.append_option(column.kind.map(|k| k.as_str()));
        self.test.append_option(result.map(|r| r.test.name()));
        self.statistic.append_option(result.map(|r| r.statistic));
        self.p_value.append_option(result.and_then(|r| r.p_value));
        self.score.append_option(result.map(|r| r.score));
        self.threshold.append_option(result.map(|r| r.threshold));
        self.drifted.append_value(result.is_some_and(|r| r.drifted));
        self.deciding.append_value(deciding);
        self.method
            .append_option(result.and_then(|r| r.method.as_deref()));
        self.error.append_option(column.error.as_deref());
        self.reference.push(&column.reference);
        self.current.push(&column.current);
        self.dataset_drift.append_value(dataset.dataset_drift);
        self.share_drifted.append_value(dataset.share_drifted);
        let details = match result {
            Some(r) if !r.details.is_empty() => Some(serde_json::to_string(&r.details).map_err(
                |e| DriftError::InvalidOption {
                    option: "report details",
                    value: r.test.name().to_owned(),
                    reason: e.to_string(),
                },
            )?),
            _ => None,
        };
        self.details.append_option(details);
        Ok(())
    }

    /// The arrays, in schema order.
    fn finish(mut self) -> Vec<ArrayRef> {
        let mut out: Vec<ArrayRef> = Vec::with_capacity(FIELDS.len());
        out.push(Arc::new(self.column.finish()));
        out.push(Arc::new(self.kind.finish()));
        out.push(Arc::new(self.test.finish()));
        out.push(Arc::new(self.statistic.finish()));
        out.push(Arc::new(self.p_value.finish()));
        out.push(Arc::new(self.score.finish()));
        out.push(Arc::new(self.threshold.finish()));
        out.push(Arc::new(self.drifted.finish()));
        out.push(Arc::new(self.deciding.finish()));
        out.push(Arc::new(self.method.finish()));
        out.push(Arc::new(self.error.finish()));
        self.reference.finish(&mut out);
        self.current.finish(&mut out);
        out.push(Arc::new(self.dataset_drift.finish()));
        out.push(Arc::new(self.share_drifted.finish()));
        out.push(Arc::new(self.details.finish()));
        out
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, UInt64Type};
    use arrow_array::{Array, BooleanArray, Float64Array, StringArray, UInt64Array};

    use super::*;
    use crate::kind::ColumnKind;
    use crate::report::DEFAULT_DRIFT_SHARE;
    use crate::stat_test::StatTest;

    fn report() -> DriftReport {
        let mut details = serde_json::Map::new();
        details.insert("bins".to_owned(), serde_json::json!(10));
        let x = ColumnReport {
            column: "x".to_owned(),
            kind: Some(ColumnKind::Numerical),
            reference: SideCounts {
                rows: 100,
                null: 1,
                nan: 2,
                inf: 3,
                valid: 94,
            },
            current: SideCounts {
                rows: 50,
                null: 0,
                nan: 0,
                inf: 1,
                valid: 49,
            },
            results: vec![
                TestResult {
                    test: StatTest::Ks,
                    statistic: 0.25,
                    p_value: Some(0.003),
                    score: 0.003,
                    threshold: 0.05,
                    drifted: true,
                    method: Some("exact".to_owned()),
                    details: serde_json::Map::new(),
                },
                TestResult {
                    test: StatTest::Psi,
                    statistic: f64::INFINITY,
                    p_value: None,
                    score: f64::NAN,
                    threshold: 0.1,
                    drifted: false,
                    method: None,
                    details,
                },
            ],
            drifted: true,
            error: None,
            plot: None,
        };
        let y = ColumnReport {
            column: "y".to_owned(),
            kind: None,
            reference: SideCounts {
                rows: 7,
                null: 7,
                nan: 0,
                inf: 0,
                valid: 0,
            },
            current: SideCounts {
                rows: 8,
                null: 0,
                nan: 0,
                inf: 0,
                valid: 8,
            },
            results: Vec::new(),
            drifted: false,
            error: Some("no valid values".to_owned()),
            plot: None,
        };
        let columns = vec![x, y];
        let dataset = DatasetDrift::from_columns(&columns, 0.5);
        DriftReport { columns, dataset }
    }

    fn strings<'a>(batch: &'a RecordBatch, name: &str) -> &'a StringArray {
        batch.column_by_name(name).unwrap().as_string::<i32>()
    }

    fn floats<'a>(batch: &'a RecordBatch, name: &str) -> &'a Float64Array {
        batch
            .column_by_name(name)
            .unwrap()
            .as_primitive::<Float64Type>()
    }

    fn counts<'a>(batch: &'a RecordBatch, name: &str) -> &'a UInt64Array {
        batch
            .column_by_name(name)
            .unwrap()
            .as_primitive::<UInt64Type>()
    }

    fn bools<'a>(batch: &'a RecordBatch, name: &str) -> &'a BooleanArray {
        batch.column_by_name(name).unwrap().as_boolean()
    }

    fn opt_strings(array: &StringArray) -> Vec<Option<&str>> {
        array.iter().collect()
    }

    fn opt_floats(array: &Float64Array) -> Vec<Option<f64>> {
        array.iter().collect()
    }

    fn values<T: Copy>(array: impl IntoIterator<Item = Option<T>>) -> Vec<T> {
        array.into_iter().map(Option::unwrap).collect()
    }

    #[test]
    fn every_cell() {
        let batch = report().to_record_batch().unwrap();
        assert_eq!(batch.schema(), DriftReport::record_batch_schema());
        assert_eq!(batch.num_rows(), 3);
        assert_eq!(batch.num_columns(), 24);

        let column = strings(&batch, "column");
        assert_eq!(column.null_count(), 0);
        assert_eq!(opt_strings(column), [Some("x"), Some("x"), Some("y")]);
        let kind = strings(&batch, "kind");
        assert_eq!(
            opt_strings(kind),
            [Some("numerical"), Some("numerical"), None]
        );
        let test = strings(&batch, "test");
        assert_eq!(opt_strings(test), [Some("ks"), Some("psi"), None]);

        let statistic = opt_floats(floats(&batch, "statistic"));
        assert_eq!(statistic, [Some(0.25), Some(f64::INFINITY), None]);
        let p_value = opt_floats(floats(&batch, "p_value"));
        assert_eq!(p_value, [Some(0.003), None, None]);
        let score = opt_floats(floats(&batch, "score"));
        assert_eq!(score[0], Some(0.003));
        assert!(score[1].unwrap().is_nan());
        assert_eq!(score[2], None);
        let threshold = opt_floats(floats(&batch, "threshold"));
        assert_eq!(threshold, [Some(0.05), Some(0.1), None]);

        assert_eq!(values(bools(&batch, "drifted")), [true, false, false]);
        assert_eq!(values(bools(&batch, "deciding")), [true, false, true]);
        let method = strings(&batch, "method");
        assert_eq!(opt_strings(method), [Some("exact"), None, None]);
        let error = strings(&batch, "error");
        assert_eq!(opt_strings(error), [None, None, Some("no valid values")]);

        let expect = [
            ("reference_rows", [100, 100, 7]),
            ("reference_null", [1, 1, 7]),
            ("reference_nan", [2, 2, 0]),
            ("reference_inf", [3, 3, 0]),
            ("reference_valid", [94, 94, 0]),
            ("current_rows", [50, 50, 8]),
            ("current_null", [0, 0, 0]),
            ("current_nan", [0, 0, 0]),
            ("current_inf", [1, 1, 0]),
            ("current_valid", [49, 49, 8]),
        ];
        for (name, want) in expect {
            let array = counts(&batch, name);
            assert_eq!(array.null_count(), 0, "{name}");
            assert_eq!(values(array), want, "{name}");
        }

        // One tested column, drifted: share 1 >= 0.5.
        assert_eq!(values(bools(&batch, "dataset_drift")), [true, true, true]);
        assert_eq!(values(floats(&batch, "share_drifted")), [1.0, 1.0, 1.0]);
        let details = strings(&batch, "details");
        assert_eq!(opt_strings(details), [None, Some(r#"{"bins":10}"#), None]);
    }

    #[test]
    fn schema_is_stable() {
        let schema = DriftReport::record_batch_schema();
        let described: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| format!("{}:{}:{}", f.name(), f.data_type(), f.is_nullable()))
            .collect();
        assert_eq!(
            described.join(" "),
            "column:Utf8:false kind:Utf8:true test:Utf8:true statistic:Float64:true \
             p_value:Float64:true score:Float64:true threshold:Float64:true \
             drifted:Boolean:false deciding:Boolean:false method:Utf8:true error:Utf8:true \
             reference_rows:UInt64:false reference_null:UInt64:false \
             reference_nan:UInt64:false reference_inf:UInt64:false \
             reference_valid:UInt64:false current_rows:UInt64:false \
             current_null:UInt64:false current_nan:UInt64:false current_inf:UInt64:false \
             current_valid:UInt64:false dataset_drift:Boolean:false \
             share_drifted:Float64:false details:Utf8:true"
        );
    }

    #[test]
    fn empty_report_has_no_rows() {
        let report = DriftReport {
            columns: Vec::new(),
            dataset: DatasetDrift::from_columns(&[], DEFAULT_DRIFT_SHARE),
        };
        let batch = report.to_record_batch().unwrap();
        assert_eq!(batch.num_rows(), 0);
        assert_eq!(batch.schema(), DriftReport::record_batch_schema());
    }
}
