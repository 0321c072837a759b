"""Writes the sample data the README's first command uses: a reference and a current month of
a toy customer table, where `age` and `country` drift and the rest do not.

Rerun (deterministic): .venv/bin/python examples/data/make_sample.py
"""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).parent
ROWS = 5000


def table(rng: np.random.Generator, drift: bool) -> pa.Table:
    age = rng.normal(44.0 if drift else 40.0, 11.0, ROWS).round(1)
    income = rng.lognormal(10.5, 0.6, ROWS).round(2)
    tenure = rng.integers(0, 120, ROWS)
    plans = rng.choice(["basic", "plus", "pro", "team"], ROWS, p=[0.5, 0.3, 0.15, 0.05])
    countries = ["FR", "DE", "ES", "IT", "NL"] + (["PL"] if drift else [])
    weights = np.array([0.3, 0.25, 0.2, 0.15, 0.1] + ([0.25] if drift else []))
    country = rng.choice(countries, ROWS, p=weights / weights.sum())
    active = rng.random(ROWS) < 0.8
    age_arr = pa.array(age, mask=rng.random(ROWS) < 0.01)  # a few missing ages
    return pa.table(
        {
            "age": age_arr,
            "income": income,
            "tenure_months": tenure,
            "plan": plans,
            "country": country,
            "is_active": active,
        }
    )


def main() -> None:
    pq.write_table(table(np.random.default_rng(7), False), HERE / "reference.parquet")
    pq.write_table(table(np.random.default_rng(8), True), HERE / "current.parquet")


if __name__ == "__main__":
    main()
