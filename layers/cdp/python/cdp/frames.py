"""Arrow tables as pandas frames that resolution's Python can work with quickly."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa


def python_frame(table: pa.Table) -> pd.DataFrame:
    """A frame whose text columns are Python objects: resolution matches sets of keys against them many times,
    which pandas does far faster on objects than on Arrow-backed strings."""
    frame = table.to_pandas()
    text = [name for name, dtype in frame.dtypes.items() if pd.api.types.is_string_dtype(dtype)]
    return frame.astype(dict.fromkeys(text, object)) if text else frame
