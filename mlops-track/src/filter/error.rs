//! [`FilterError`]: everything that can be wrong with a search's filter, order-by clauses,
//! page token or page size.

/// Why a filter, an order-by clause, a page token or a page size was refused.
///
/// Parse errors carry `at`, the byte offset in the text where the problem starts (for an
/// order-by clause, the offset within that clause, and [`FilterError::OrderByClause`] names
/// which clause), and say what was expected and what was found.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// The text does not follow the grammar.
    #[error("at {at}: expected {expected}, found {found}")]
    Syntax {
        /// Byte offset of the unexpected text.
        at: usize,
        /// What the grammar allows here.
        expected: String,
        /// What is there instead (quoted), or `end of input`.
        found: String,
    },

    /// `OR`: MLflow's filter language has only conjunctions.
    #[error(
        "at {at}: `OR` is not supported: an MLflow filter is comparisons joined by `AND` \
         (run one search per alternative instead)"
    )]
    Or {
        /// Byte offset of `OR`.
        at: usize,
    },

    /// A prefix other than `metrics.`, `params.`, `tags.`, `attributes.` or `datasets.` (or
    /// MLflow's other spellings of them).
    #[error(
        "at {at}: unknown entity `{found}`: expected `metrics`, `params`, `tags`, \
         `attributes` or `datasets` (also `metric`, `param`, `parameter`, `parameters`, \
         `tag`, `attribute`, `attr`, `run`, `dataset`)"
    )]
    UnknownEntity {
        /// Byte offset of the prefix.
        at: usize,
        /// The prefix as written.
        found: String,
    },

    /// An attribute name MLflow does not search or sort on.
    #[error("at {at}: unknown run attribute `{found}`: expected one of {expected}")]
    UnknownAttribute {
        /// Byte offset of the name.
        at: usize,
        /// The name as written.
        found: String,
        /// The names allowed here.
        expected: &'static str,
    },

    /// A dataset field other than `name`, `digest` and `context`.
    #[error("at {at}: unknown dataset field `{found}`: expected `name`, `digest` or `context`")]
    UnknownDatasetField {
        /// Byte offset of the field.
        at: usize,
        /// The field as written.
        found: String,
    },

    /// A key left unquoted that MLflow's parser reads as an SQL keyword.
    #[error("at {at}: `{word}` is a reserved word in a key: quote the key with backticks")]
    ReservedKey {
        /// Byte offset of the word.
        at: usize,
        /// The word.
        word: String,
    },

    /// A comparator the field does not support (`LIKE` on a metric, `<` on a tag, …).
    #[error("at {at}: `{comparator}` is not supported for {field}: use one of {allowed}")]
    Comparator {
        /// Byte offset of the comparator.
        at: usize,
        /// The comparator as written.
        comparator: String,
        /// The field, e.g. ``metric `rmse` ``.
        field: String,
        /// The comparators the field supports.
        allowed: &'static str,
    },

    /// A value of the wrong type: a string for a metric, a number for a param, a list where
    /// MLflow takes none, …
    #[error("at {at}: expected {expected} for {field}, found {found}")]
    Value {
        /// Byte offset of the value.
        at: usize,
        /// The field, e.g. ``param `lr` ``.
        field: String,
        /// What the field takes.
        expected: &'static str,
        /// What is there instead.
        found: String,
    },

    /// A quoted key, string or list that is never closed.
    #[error("at {at}: unterminated {what}")]
    Unterminated {
        /// Byte offset of the opening quote or parenthesis.
        at: usize,
        /// `string`, `quoted key`, `list`, …
        what: &'static str,
    },

    /// An error in one of several order-by clauses.
    #[error("order_by clause {index}: {source}")]
    OrderByClause {
        /// Which clause, from 0.
        index: usize,
        /// What is wrong with it (positions are within the clause).
        #[source]
        source: Box<FilterError>,
    },

    /// Two order-by clauses sort on the same field (after aliases: `created` is
    /// `start_time`, `metric.x` is `metrics.x`).
    #[error("order_by contains {field} twice")]
    DuplicateOrderBy {
        /// The field, e.g. ``metric `rmse` ``.
        field: String,
    },

    /// A page token that this library did not make, or that was damaged.
    #[error("invalid page token: {reason}")]
    InvalidPageToken {
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A page token made for a different search: its filter, order-by clauses or scope
    /// (experiments, view type) changed since the first page.
    #[error(
        "the page token belongs to a different search (the filter, order_by or experiments \
         changed since the first page); start again without a token"
    )]
    PageTokenMismatch,

    /// A page size outside MLflow's range, 1 to 50 000.
    #[error("max_results must be between 1 and {limit}, got {value}")]
    MaxResults {
        /// The value given.
        value: i64,
        /// The largest page size (MLflow's `SEARCH_MAX_RESULTS_THRESHOLD`).
        limit: usize,
    },
}

impl FilterError {
    /// The byte offset the error points at, for errors in filter or order-by text.
    ///
    /// ```
    /// use mlops_track::filter::Filter;
    /// let err = Filter::parse("metrics.rmse == 0.5").unwrap_err();
    /// assert_eq!(err.position(), Some(13));
    /// ```
    pub fn position(&self) -> Option<usize> {
        match self {
            Self::Syntax { at, .. }
            | Self::Or { at }
            | Self::UnknownEntity { at, .. }
            | Self::UnknownAttribute { at, .. }
            | Self::UnknownDatasetField { at, .. }
            | Self::ReservedKey { at, .. }
            | Self::Comparator { at, .. }
            | Self::Value { at, .. }
            | Self::Unterminated { at, .. } => Some(*at),
            Self::OrderByClause { source, .. } => source.position(),
            Self::DuplicateOrderBy { .. }
            | Self::InvalidPageToken { .. }
            | Self::PageTokenMismatch
            | Self::MaxResults { .. } => None,
        }
    }
}
