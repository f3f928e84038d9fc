"""The account export as CSV: one file per section of accounts.services.export_user_data, zipped."""

import csv
import io
import json
import zipfile

from . import personal_data, selectors
from .services import export_user_data


def exported_models() -> dict[str, str]:
    """Model label -> export section: the accounts app's own and every registered app's."""
    return {**selectors.EXPORTED_MODELS, **personal_data.exported_models()}


def export_zip_of_csv(user) -> bytes:
    """One CSV per section (rows nested in another section's rows get their own file); nested values as JSON."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, rows in _tables(export_user_data(user)):
            archive.writestr(f"{name}.csv", _csv(rows))
    return buffer.getvalue()


def _tables(data: dict):
    for section, content in data.items():
        if isinstance(content, dict):
            yield section, [content]
        elif isinstance(content, list):
            nested = {key for row in content if isinstance(row, dict) for key, value in row.items()
                      if isinstance(value, list) and value and all(isinstance(v, dict) for v in value)}
            if not nested:
                yield section, content
                continue
            link = f"{section}_row"  # numbers a row so its nested rows (in their own file) can point back to it
            yield section, [{link: n, **{k: v for k, v in row.items() if k not in nested}}
                            for n, row in enumerate(content, 1)]
            for key in sorted(nested):
                yield f"{section}-{key}", [{link: n, **child} for n, row in enumerate(content, 1)
                                           for child in row.get(key, [])]
        else:
            yield section, [{section: content}]


def _csv(rows: list[dict]) -> str:
    fields: list[str] = []
    for row in rows:
        fields.extend(key for key in row if key not in fields)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields or ["(none)"])
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(value) for key, value in row.items()})
    return out.getvalue()


def _cell(value):
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return "" if value is None else value
