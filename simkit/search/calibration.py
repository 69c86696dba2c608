"""Make e5's compressed cosine scores readable: how far a paragraph stands out for this query.

Cosine similarities from e5 are squeezed into a narrow band whose position depends on
the query (an English query scores lower against a typical paragraph than a Chinese one;
the observed bands are in docs/method/search.md), so a raw threshold means little and
differs by language. simkit compares each hit with the query's own similarity to the
index: μ and σ of the query's cosine to a fixed sample of up to 4,096 indexed paragraphs
(evenly spaced rows, stored with the version: :func:`simkit.store.vectors.save_calibration_sample`), and reports

    calibrated = Φ((cosine − μ) / σ)        (Φ: the standard normal CDF)

0.99 means "about 2.3 standard deviations above what this query scores against a typical
paragraph of this index"; ``--threshold 0.99`` keeps every region whose best paragraph
reaches that. It says how much a paragraph stands out, not that the query is on topic:
a query about something no report mentions still has paragraphs that stand out a little.
"""

from __future__ import annotations

import math

import numpy as np


class Calibration:
    """Per-query calibration against a sample of the index's unit vectors."""

    def __init__(self, reference: np.ndarray) -> None:
        self.reference = np.ascontiguousarray(reference, dtype=np.float32)

    def for_query(self, query: np.ndarray) -> QueryCalibration:
        sims = self.reference @ query.astype(np.float32)
        if sims.size < 2:
            return QueryCalibration(0.0, 0.0)
        return QueryCalibration(float(sims.mean()), float(sims.std()))


class QueryCalibration:
    """Maps one query's cosine similarities to calibrated scores in [0, 1]."""

    def __init__(self, mean: float, std: float) -> None:
        self.mean = mean
        self.std = std

    def __call__(self, similarity: float) -> float:
        if self.std <= 1e-9:
            return 0.5
        z = (similarity - self.mean) / self.std
        return round(0.5 * (1.0 + math.erf(z / math.sqrt(2.0))), 4)
