"""Write the real data sets of ``bench_trust.py`` into ``tests/data`` (run once, by hand).

Run: ``python benchmarks/make_trust_data.py`` with scikit-learn and
``palmerpenguins`` installed (``pip install palmerpenguins`` in a private
environment: it is no dependency of the project, only the source of one
file).  Each file is a plain CSV with named columns and its label as text;
``tests/data/README.md`` says where each comes from and under which terms.
Running it again writes the same bytes.

* ``iris.csv`` — scikit-learn's bundled iris: the four measurements (cm)
  and ``species`` (setosa / versicolor / virginica).
* ``wine.csv`` — scikit-learn's bundled wine: all 13 measurements and
  ``cultivar`` (cultivar_1..3; UCI numbers them 1..3, scikit-learn 0..2).
* ``breast_cancer.csv`` — scikit-learn's bundled Wisconsin diagnostic data:
  the ten ``mean_*`` features (the ``error`` and ``worst`` ones left out to
  keep the file small) and ``diagnosis`` (M / B, as in the UCI original).
* ``diabetes_sex.csv`` — scikit-learn's ``diabetes_data_raw.csv.gz`` with
  the original names (AGE SEX BMI BP S1..S6 Y); SEX is coded 1/2 in the
  source without saying which is which: written F for 1 and M for 2,
  because group 1 has the higher HDL (S3: 54 vs 45 mg/dL) and the lower
  blood pressure, as women do.  An inference, stated as one.
* ``penguins.csv`` — ``palmerpenguins``' ``penguins.csv`` copied byte for
  byte (species, island, four measurements, sex, year; ``NA`` where missing).
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def _write(frame, name: str) -> None:
    path = DATA / name
    frame.to_csv(path, index=False, lineterminator="\n")
    size = path.stat().st_size
    assert size < 100_000, f"{name} is {size} bytes"
    print(f"{path.relative_to(DATA.parent.parent)}: {len(frame)} rows, {size} bytes")


def main() -> int:
    import numpy as np
    import pandas as pd
    import sklearn
    from sklearn.datasets import load_breast_cancer, load_iris, load_wine

    iris = load_iris(as_frame=True)
    x = iris.data.rename(columns=lambda c: c.replace(" (cm)", "_cm").replace(" ", "_"))
    x.insert(0, "species", np.asarray(iris.target_names)[iris.target])
    _write(x, "iris.csv")

    wine = load_wine(as_frame=True)
    x = wine.data.rename(columns={"od280/od315_of_diluted_wines": "od280_od315"})
    x.insert(0, "cultivar", [f"cultivar_{t + 1}" for t in wine.target])
    _write(x, "wine.csv")

    cancer = load_breast_cancer(as_frame=True)
    means = [c for c in cancer.data.columns if c.startswith("mean ")]
    x = cancer.data[means].rename(columns=lambda c: c.replace(" ", "_"))
    # scikit-learn: 0 malignant, 1 benign.
    x.insert(0, "diagnosis", np.where(cancer.target == 0, "M", "B"))
    _write(x, "breast_cancer.csv")

    raw = Path(sklearn.__file__).parent / "datasets" / "data" / "diabetes_data_raw.csv.gz"
    with gzip.open(raw, "rt") as fh:
        x = pd.read_csv(fh, sep=" ", header=None)
    x.columns = ["AGE", "SEX", "BMI", "BP", "S1", "S2", "S3", "S4", "S5", "S6"]
    x["SEX"] = x["SEX"].map({1: "F", 2: "M"})
    target = Path(sklearn.__file__).parent / "datasets" / "data" / "diabetes_target.csv.gz"
    with gzip.open(target, "rt") as fh:
        x["Y"] = pd.read_csv(fh, header=None)[0].astype(int)
    _write(x, "diabetes_sex.csv")

    import palmerpenguins

    src = Path(palmerpenguins.__file__).parent / "data" / "penguins.csv"
    shutil.copyfile(src, DATA / "penguins.csv")
    print(f"tests/data/penguins.csv: copied, {os.path.getsize(DATA / 'penguins.csv')} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
