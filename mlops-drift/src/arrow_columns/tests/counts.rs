//! [`ValueCounts`] and [`CategoryCounts`] as values: merging, sorting, serde.

use super::*;

#[test]
fn value_counts_add_up() {
    let mut a = ValueCounts {
        rows: 10,
        nulls: 1,
        nan: 2,
        pos_inf: 3,
        neg_inf: 1,
    };
    assert_eq!(a.valid(), 3);
    assert_eq!(a.dropped(), 7);
    let b = counts(5, 5);
    a.merge(&b);
    assert_eq!(a.rows, 15);
    assert_eq!(a.nulls, 6);
    assert_eq!(a.valid(), 3);
    a += b;
    a += &b;
    assert_eq!(a.rows, 25);
    assert_eq!(a.valid(), 3);
    // Never underflows, even for inconsistent counts.
    assert_eq!(counts(1, 5).valid(), 0);
}

#[test]
fn value_counts_serde_round_trip() {
    let c = ValueCounts {
        rows: 4,
        nulls: 1,
        nan: 1,
        pos_inf: 1,
        neg_inf: 0,
    };
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(
        json,
        r#"{"rows":4,"nulls":1,"nan":1,"pos_inf":1,"neg_inf":0}"#
    );
    assert_eq!(serde_json::from_str::<ValueCounts>(&json).unwrap(), c);
}

#[test]
fn category_counts_merge_and_sort_deterministically() {
    let mut a = CategoryCounts::new();
    count_categories(&StringArray::from(vec!["b", "a", "b", "c"]), &mut a).unwrap();
    let mut b = CategoryCounts::new();
    count_categories(&StringArray::from(vec!["c", "c", "d"]), &mut b).unwrap();
    a.merge(&b);
    assert_eq!(a.len(), 4);
    assert_eq!(a.total(), 7);
    assert_eq!(a.get("c"), 3);
    assert_eq!(a.get("zzz"), 0);
    assert_eq!(a.sorted(), vec![("a", 1), ("b", 2), ("c", 3), ("d", 1)]);
    assert_eq!(
        a.most_common(),
        vec![("c", 3), ("b", 2), ("a", 1), ("d", 1)]
    );
    a.add("e", 0);
    assert_eq!(a.len(), 4);
    a.add("e", 5);
    assert_eq!(a.total(), 12);
    // Counting into the same `CategoryCounts` twice is a merge.
    count_categories(&StringArray::from(vec!["a"]), &mut a).unwrap();
    assert_eq!(a.get("a"), 2);
}

#[test]
fn category_counts_serde_is_a_sorted_object() {
    let mut a = CategoryCounts::new();
    for (k, n) in [("zeta", 1), ("alpha", 3), ("mu", 2), ("Beta", 4)] {
        a.add(k, n);
    }
    let json = serde_json::to_string(&a).unwrap();
    assert_eq!(json, r#"{"Beta":4,"alpha":3,"mu":2,"zeta":1}"#);
    let back: CategoryCounts = serde_json::from_str(&json).unwrap();
    assert_eq!(back, a);
    assert_eq!(back.total(), 10);
    let zeros: CategoryCounts = serde_json::from_str(r#"{"a":0,"b":2}"#).unwrap();
    assert_eq!(zeros.len(), 1);
    assert_eq!(zeros.total(), 2);
}
