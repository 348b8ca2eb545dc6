"""Features: encodings without data, label-free table columns from the workspace, filled from isomorphic twins."""

from __future__ import annotations

import numpy as np
import pytest

from archgen.errors import NoDataError
from archgen.predictors.features import arch_features, encoding_features, filled_table_columns, label_free_features


def test_encoding_needs_no_data_and_merges_isomorphic_cells(ws) -> None:
    space = ws.space("nb201")
    a = space.parse("|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|")
    b = space.parse("|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    X = encoding_features([a, b])
    np.testing.assert_array_equal(X[0], X[1])
    assert label_free_features([a], None, "none").shape == (1, 0)


def test_table_features_come_from_the_workspace(ws) -> None:
    space = ws.space("nb201")
    archs = [space.from_index(i) for i in range(5)]
    X = label_free_features(archs, "cifar10", "table", ws)
    assert X.shape[0] == 5 and np.isfinite(X).any()
    assert arch_features(archs, "cifar10", "table", ws).shape[1] == encoding_features(archs).shape[1] + X.shape[1]
    with pytest.raises(NoDataError, match="bind a Workspace"):
        label_free_features(archs, "cifar10", "table", None)


def test_unscored_rows_take_their_twins_scores(ws) -> None:
    table = ws.table("nb201")
    raw = table.column("cifar10", "zc_synflow")
    filled = filled_table_columns(ws, "nb201", (("cifar10", "zc_synflow"),))[:, 0]
    assert np.isnan(raw).sum() > 1000 and np.isnan(filled).sum() < np.isnan(raw).sum()
    ok = ~np.isnan(raw)
    np.testing.assert_array_equal(filled[ok], raw[ok])
    assert filled_table_columns(ws, "nb201", (("cifar10", "zc_synflow"),)) is filled_table_columns(
        ws, "nb201", (("cifar10", "zc_synflow"),)
    )
