"""The sheet: roles, parsed features, edits with events, undo support, fill marks."""

import numpy as np
import pytest
from cellarrays import obj as cell_array

from emgui.core.sheet import (
    FILLED,
    UNCERTAIN,
    USER,
    CellsChanged,
    Roles,
    RowsInserted,
    RowsRemoved,
    Sheet,
    SheetError,
    detect_roles,
)


def obj(*values):
    return cell_array(values)


def small_sheet():
    return Sheet(
        ["name", "gender", "height", "notes"],
        [
            obj("Ana", "Ben", "Cy", "Di"),
            obj("F", "m", None, ""),
            obj("162", "5'11\"", "tall", "1,70 m"),
            obj(None, None, "new", None),
        ],
    )


def test_roles_are_detected_from_names():
    s = small_sheet()
    assert s.roles.label == 1
    assert s.roles.features == (2,)
    assert s.roles.units[2] == "cm"


def test_roles_detected_from_contents_when_names_say_nothing():
    roles = detect_roles(
        ["who", "x", "y"],
        [obj("a", "b", "c"), obj("male", "female", "F"), obj("1.5", "2,5", "3")],
    )
    assert roles.label == 1
    assert roles.features == (2,)
    assert roles.units[2] is None


def test_without_a_height_the_measurements_are_features_and_identifiers_are_not():
    # A 10-digit student id in any order, and 1, 2, 3... in a short sheet,
    # were taken as measurements (fewer than 10 values, or not increasing).
    roles = detect_roles(
        ["student id", "name", "gender", "weight", "age", "glasses", "row"],
        [
            obj("4410987263", "3301987262", "9102837465", "1203948576", "5566778899", "1029384756",
                "7710987263", "2201987262", "8802837465", "6603948576"),
            obj("Ana", "Ben", "Cy", "Di", "Ed", "Flo", "Gus", "Hal", "Ida", "Jo"),
            obj("F", "M", None, "F", "M", "", "M", "F", "F", "M"),
            obj("55", "80", "61", "52", "85", "58,5", "77", "60", "49", "90"),
            obj("15", "16", "15", "17", "16", "15", "17", "16", "15", "16"),
            obj("0", "1", "1", "0", "0", "1", "1", "0", "1", "0"),
            obj(*[str(i) for i in range(1, 11)]),
        ],
    )
    assert roles.label == 2
    assert roles.features == (3, 4)  # weight and age; no id, code or row number
    assert roles.units == {3: None, 4: None}


def test_one_to_n_in_a_short_sheet_is_a_row_number():
    from emgui.core.sheet import no_measurement

    assert "identifier" in no_measurement("row", obj(*[str(i) for i in range(1, 7)]))


def test_a_weight_beside_a_height_is_a_feature_too():
    # DESIGN.md: detected features are the measurements, not the heights alone.
    n = 12
    roles = detect_roles(
        ["name", "gender", "height", "weight", "notes"],
        [
            obj(*[f"p{i}" for i in range(n)]),
            obj(*(["F", "M"] * (n // 2))),
            obj(*[str(150 + 3 * i) for i in range(n)]),
            obj(*[f"{50 + 2.5 * i:g}" for i in range(n)]),
            obj(*(["ok"] * n)),
        ],
    )
    assert roles.features == (2, 3)
    assert roles.units == {2: "cm", 3: None}


def test_detection_takes_no_more_features_than_the_rows_support_and_says_so():
    from emgui.core.sheet import ROWS_PER_FEATURE

    rng = np.random.default_rng(0)
    n, width = 50, 40
    columns = ["gender"] + [f"m{j}" for j in range(width)]
    columns[30] = "height"  # a height far to the right is taken first
    cells = [obj(*(["F", "M"] * (n // 2)))] + [
        obj(*[f"{v:.1f}" for v in rng.normal(170, 10, n)]) for _ in range(width)
    ]
    notes: list[str] = []
    roles = detect_roles(columns, cells, notes)
    bound = n // ROWS_PER_FEATURE
    assert len(roles.features) == bound
    assert 30 in roles.features and roles.units[30] == "cm"
    assert list(roles.features) == sorted(roles.features)
    assert roles.features[: bound - 1] == tuple(range(1, bound))  # then the others in column order
    assert len(notes) == 1 and f"{bound} of them are used" in notes[0] and "'m0'" in notes[0]
    # The sheet keeps the sentence for the window to show after opening.
    sheet = Sheet.from_table(columns, cells)
    assert sheet.roles.features == roles.features and sheet.load_warnings == notes
    # Within the bound: nothing to say.
    notes.clear()
    detect_roles(columns[: bound + 1], cells[: bound + 1], notes)
    assert notes == []


@pytest.mark.parametrize("name", ["id", "Student ID", "student no", "#"])
def test_a_different_whole_number_on_every_row_named_like_an_id_is_no_measurement(name):
    from emgui.core.sheet import no_measurement

    ids = obj("1000000000000007", "1000000000000001", "1000000000000042")
    assert "identifier" in no_measurement(name, ids)
    assert no_measurement("weight", ids) is None  # not named so: a measurement
    assert no_measurement(name, obj("12", "12", "15", "17")) is None  # repeats: no identifier


def test_cells_are_kept_as_typed_and_features_parsed():
    s = small_sheet()
    assert s.text(2, 2) == "tall"
    assert np.isnan(s.value(2, 2))
    assert "tall" in s.issue(2, 2)
    assert s.value(1, 2) == pytest.approx(180.34)
    assert s.value(3, 2) == pytest.approx(170.0)
    assert s.issue(0, 2) is None


def test_set_cell_reparses_and_announces_exact_range():
    s = small_sheet()
    events = []
    s.subscribe(events.append)
    v0 = s.version
    s.set_cell(2, 2, "181")
    assert s.value(2, 2) == 181.0 and s.issue(2, 2) is None
    assert events == [CellsChanged(2, 2, 2, 2)]
    assert s.version == v0 + 1


def test_paste_block_past_the_end_adds_rows():
    s = small_sheet()
    events = []
    s.subscribe(events.append)
    s.set_block(3, 1, [["F", "160"], ["M", "x"], ["", "175"]])
    assert s.n_rows == 6
    assert events[0] == RowsInserted(4, 2)
    assert events[-1] == CellsChanged(3, 1, 5, 2)
    assert s.text(4, 1) == "M" and s.text(5, 1) is None
    assert s.issue(4, 2) is not None and s.value(5, 2) == 175.0


def test_capture_restore_round_trip_keeps_cells_and_marks():
    s = small_sheet()
    s.apply_fill(
        np.array([2]), np.array([FILLED], np.int8), np.array([0.8]),
        np.array([1]), np.array([[0.2, 0.8]]), ["female", "male"], {"female": "F", "male": "m"},
    )
    before = s.capture([2], [1, 2])
    s.set_cell(2, 1, "F")
    assert s.provenance[2] == USER and np.isnan(s.confidence[2])
    s.restore(before)
    assert s.text(2, 1) == "m" and s.provenance[2] == FILLED and s.confidence[2] == 0.8
    assert s.probabilities([2]).tolist() == [[pytest.approx(0.2), 0.8]]


def test_remove_and_restore_rows():
    s = small_sheet()
    events = []
    s.subscribe(events.append)
    removed = s.remove_rows([3, 1])
    assert s.n_rows == 2
    assert [s.text(i, 0) for i in range(2)] == ["Ana", "Cy"]
    assert events == [RowsRemoved(3, 1), RowsRemoved(1, 1)]
    s.restore_rows(removed)
    assert [s.text(i, 0) for i in range(4)] == ["Ana", "Ben", "Cy", "Di"]
    assert s.value(1, 2) == pytest.approx(180.34)


def test_removed_rows_are_recorded_before_subscribers_hear_of_it():
    s = small_sheet()

    def broken_view(event):
        raise RuntimeError("a view that fails")

    s.subscribe(broken_view)
    record = []
    with pytest.raises(RuntimeError):
        s.remove_rows([1, 2], record=record)
    assert s.n_rows == 2 and len(record) == 1  # out of the sheet, and what went out is kept
    s.unsubscribe(broken_view)
    s.restore_rows(record[0])
    assert [s.text(i, 0) for i in range(4)] == ["Ana", "Ben", "Cy", "Di"]


def test_accept_and_clear_filled():
    s = small_sheet()
    s.apply_fill(
        np.array([2, 3]), np.array([FILLED, UNCERTAIN], np.int8),
        np.array([0.9, 0.55]), np.array([1, 0]), np.array([[0.1, 0.9], [0.55, 0.45]]),
        ["female", "male"], {"female": "F", "male": "m"},
    )
    assert s.counts()["filled"] == 1 and s.counts()["uncertain"] == 1
    s.clear_filled()
    assert s.text(2, 1) is None and s.text(3, 1) == ""  # the uncertain blank is untouched
    assert (s.provenance == USER).all()
    s.apply_fill(
        np.array([2]), np.array([FILLED], np.int8), np.array([0.9]),
        np.array([1]), np.array([[0.1, 0.9]]), ["female", "male"], {"female": "F", "male": "m"},
    )
    s.accept_filled()
    assert s.text(2, 1) == "m" and s.provenance[2] == USER


def test_marks_survive_to_table_and_back():
    s = small_sheet()
    s.apply_fill(
        np.array([2]), np.array([FILLED], np.int8), np.array([0.875]),
        np.array([1]), np.array([[0.125, 0.875]]), ["female", "male"], {"female": "F", "male": "m"},
    )
    columns, cells = s.to_table()
    # The marks, then each feature's reasons (one height here cannot be read).
    assert columns[-3:] == ["gender_imputed", "gender_confidence", "height_issue"]
    assert list(cells[-3]) == ["false", "false", "true", "false"]
    assert list(cells[-2]) == [None, None, "0.875", None]
    again = Sheet.from_table(columns, cells)
    assert again.columns == s.columns
    assert again.provenance.tolist() == [USER, USER, FILLED, USER]
    assert again.confidence[2] == 0.875


def test_bad_roles_are_refused():
    s = small_sheet()
    with pytest.raises(SheetError):
        s.set_roles(Roles(label=2, features=(2,), units={2: "cm"}))
    with pytest.raises(SheetError):
        s.set_roles(Roles(label=9))


def test_blank_sheet_for_typing():
    s = Sheet.blank(n_rows=3)
    assert s.columns == ["Name", "Gender", "Height (cm)"]
    assert s.roles.label == 1 and s.roles.features == (2,) and s.roles.units[2] == "cm"
    s.set_cell(0, 2, "5'9\"")
    assert s.value(0, 2) == pytest.approx(175.26)


def test_clear_filled_gives_back_the_marker_the_fill_replaced():
    s = Sheet(["gender", "height"], [obj("F", "?", "N/A", None), obj("160", "170", "180", "175")])
    assert s.counts()["missing"] == 3
    s.apply_fill(
        np.array([1, 2, 3]), np.full(3, FILLED, np.int8), np.full(3, 0.9),
        np.array([0, 1, 1]), np.full((3, 2), 0.5), ["female", "male"], {"female": "F", "male": "M"},
    )
    assert s.counts() == {"rows": 4, "missing": 0, "filled": 3, "uncertain": 0, "unreadable": 0}
    patch = s.capture([1, 2, 3], [0])
    s.clear_filled()
    assert [s.text(i, 0) for i in range(4)] == ["F", "?", "N/A", None]
    assert s.counts()["missing"] == 3
    s.restore(patch)
    assert [s.text(i, 0) for i in range(4)] == ["F", "F", "M", "M"]
    s.clear_filled()  # the restored marks still know what was there before
    assert [s.text(i, 0) for i in range(4)] == ["F", "?", "N/A", None]


def test_a_new_fill_announces_and_clears_rows_of_the_old_one():
    s = Sheet(["gender", "height"], [obj("F", None, None, None), obj("160", "170", "180", "175")])
    common = (["female", "male"], {"female": "F", "male": "M"})
    s.apply_fill(np.array([1]), np.array([FILLED], np.int8), np.array([0.9]),
                 np.array([0]), np.array([[0.9, 0.1]]), *common)
    events = []
    s.subscribe(events.append)
    s.apply_fill(np.array([3]), np.array([FILLED], np.int8), np.array([0.8]),
                 np.array([1]), np.array([[0.2, 0.8]]), *common)
    assert s.text(1, 0) is None and s.provenance[1] == USER
    assert events == [CellsChanged(1, 0, 3, 0)]


def test_counts_follow_edits_inserts_and_removals():
    s = small_sheet()
    assert s.counts() == {"rows": 4, "missing": 2, "filled": 0, "uncertain": 0, "unreadable": 1}
    s.set_cell(0, 2, "oops")
    s.set_cell(2, 1, "F")
    assert s.counts()["unreadable"] == 2 and s.counts()["missing"] == 1
    s.insert_rows(1, 2)
    assert s.counts()["missing"] == 3 and s.counts()["rows"] == 6
    removed = s.remove_rows([0, 1])
    assert s.counts() == {"rows": 4, "missing": 2, "filled": 0, "uncertain": 0, "unreadable": 1}
    s.restore_rows(removed)
    assert s.counts()["unreadable"] == 2 and s.counts()["missing"] == 3


def test_remove_column_shifts_roles():
    s = small_sheet()
    s.remove_column(0)
    assert s.columns == ["gender", "height", "notes"]
    assert s.roles.label == 0 and s.roles.features == (1,)
    s.remove_column(0)
    assert s.roles.label is None and s.roles.features == (0,)


def test_probabilities_are_derived_for_two_classes_and_kept_for_more():
    s = Sheet(["gender", "height"], [obj("F", None, None, None), obj("160", "170", "180", "175")])
    two = (["female", "male"], {"female": "F", "male": "M"})
    s.apply_fill(np.array([1, 2]), np.array([FILLED, UNCERTAIN], np.int8), np.array([0.75, 0.5]),
                 np.array([1, 0]), np.array([[0.25, 0.75], [0.5, 0.5]]), *two)
    got = s.probabilities([0, 1, 2])
    assert np.isnan(got[0]).all()  # not filled
    assert got[1].tolist() == [0.25, 0.75] and got[2].tolist() == [0.5, 0.5]
    assert s._post is None  # nothing (n, 2) is kept for two classes

    three = (["a", "b", "c"], {"a": "A", "b": "B", "c": "C"})
    post = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    s.apply_fill(np.array([1, 3]), np.full(2, FILLED, np.int8), np.array([0.5, 0.6]),
                 np.array([2, 0]), post, *three)
    assert s.probabilities([1, 3]).tolist() == post.tolist()
    assert np.isnan(s.probabilities([2])).all()  # the old fill's row was cleared
    patch = s.capture([1, 3], [0])
    removed = s.remove_rows([0])
    assert s.probabilities([0, 2]).tolist() == post.tolist()
    s.restore_rows(removed)
    s.clear_filled()
    assert np.isnan(s.probabilities([1, 3])).all()
    s.restore(patch)
    assert s.probabilities([1, 3]).tolist() == post.tolist()
    assert [s.text(i, 0) for i in range(4)] == ["F", "C", None, "A"]


def test_a_refit_that_leaves_a_filled_row_uncertain_blanks_it_again():
    s = Sheet(["gender", "height"], [obj("F", "?", None, "M"), obj("160", "170", "180", "175")])
    two = (["female", "male"], {"female": "F", "male": "M"})
    s.apply_fill(np.array([1, 2]), np.full(2, FILLED, np.int8), np.array([0.9, 0.8]),
                 np.array([1, 0]), np.array([[0.1, 0.9], [0.8, 0.2]]), *two)
    assert [s.text(i, 0) for i in range(4)] == ["F", "M", "F", "M"]
    # The second fit is less sure of row 1: it is left blank -- as it was typed ("?").
    s.apply_fill(np.array([1, 2]), np.array([UNCERTAIN, FILLED], np.int8), np.array([0.6, 0.8]),
                 np.array([1, 0]), np.array([[0.4, 0.6], [0.8, 0.2]]), *two)
    assert [s.text(i, 0) for i in range(4)] == ["F", "?", "F", "M"]
    assert s.provenance.tolist() == [USER, UNCERTAIN, FILLED, USER]
    assert s.counts()["missing"] == 1 and s.counts()["uncertain"] == 1
    s.clear_filled()
    assert [s.text(i, 0) for i in range(4)] == ["F", "?", None, "M"]


def test_a_feature_keeps_no_issue_array_until_a_cell_cannot_be_read():
    s = Sheet(["name", "height"], [obj("a", "b", "c"), obj("160", "170", "180")])
    assert s._issues[1] is None and not s.unreadable(1).any()
    assert s.issues(1).tolist() == [None, None, None] and s.issue(0, 1) is None
    s.set_cell(1, 1, "tall")
    assert s.unreadable(1).tolist() == [False, True, False] and s.counts()["unreadable"] == 1
    assert "tall" in s.issue(1, 1)
    removed = s.remove_rows([1])
    assert s.counts()["unreadable"] == 0
    s.restore_rows(removed)
    assert s.unreadable(1).tolist() == [False, True, False] and s.counts()["unreadable"] == 1
    s.insert_rows(0, 1)
    assert s.unreadable(1).tolist() == [False, False, True, False]
    s.set_cell(2, 1, "175")
    assert not s.unreadable(1).any() and s.counts()["unreadable"] == 0


def _state(s):
    label = s.roles.label
    return (
        [s.text(i, label) for i in range(s.n_rows)],
        s.provenance.tolist(),
        [None if np.isnan(c) else round(float(c), 9) for c in s.confidence],
        s.guess.tolist(),
        s._before_fill.tolist(),
    )


@pytest.mark.parametrize("cells", [("F", None, None, "M", None, None), ("F", "?", None, "M", "N/A", None)])
def test_undo_records_copy_the_text_before_a_fill_only_when_there_is_some(cells):
    """Blanks that were None need no copy of a million Nones; markers ("?") are copied and come back."""
    from emgui.core.sheet import NO_TEXT_BEFORE_FILL

    rng = np.random.default_rng(len(cells))
    common = (["female", "male"], {"female": "F", "male": "M"})

    def fill(s, rows, status):
        rows = np.array(rows)
        s.apply_fill(rows, np.array(status, np.int8), rng.uniform(0.5, 1, len(rows)),
                     rng.integers(0, 2, len(rows)), None, *common)

    sheets = [Sheet(["gender", "height"], [obj(*cells), obj(*["170"] * 6)]) for _ in range(2)]
    sheets[1]._before_fill_any = True  # the full copy, as the reference
    states = []
    for s in sheets:
        fill(s, [1, 2, 4, 5], [FILLED, FILLED, UNCERTAIN, FILLED])
        before = _state(s)
        patch = s.capture(s.filled_rows(), [0])
        fill(s, [1, 2, 5], [FILLED, UNCERTAIN, FILLED])  # a refit: row 4 stale, row 2 now uncertain
        s.clear_filled(np.array([1, 2, 5]))  # what undoing the refit does first
        s.restore(patch)  # then the first fill's marks
        assert _state(s) == before
        states.append((before, patch))
    with_markers = any(c not in (None, "F", "M") for c in cells)
    assert (states[0][1].before_fill is NO_TEXT_BEFORE_FILL) is not with_markers
    s.clear_filled()
    assert [s.text(i, 0) for i in range(6)] == list(cells)


def test_the_all_none_row_arrays_are_made_only_when_a_fill_needs_them():
    """A sheet's "text before the fill" and number marks cost nothing until a fill writes one."""
    common = (["female", "male"], {"female": "F", "male": "M"})
    s = Sheet(["gender", "height"], [obj("F", None, None, "M", "?"), obj("160", "170", "180", "190", "175")])
    unmade = {"_before_fill": None, "_number_marks": None}
    assert s._lazy == unmade
    removed = s.remove_rows([3])
    s.insert_rows(0, 2)
    s.restore_rows(removed)  # rows that held nothing: still not made
    s.set_cell(0, 0, "F")
    assert s._lazy == unmade and s.n_rows == 7
    assert [s.text(i, 0) for i in range(7)] == ["F", None, "F", "M", None, None, "?"]
    rows = np.array([1, 4])  # two blanks
    s.apply_fill(rows, np.array([FILLED, FILLED], np.int8), np.array([0.9, 0.8]), np.array([0, 1]), None, *common)
    s.accept_filled()
    s.clear_filled()
    assert s._lazy == unmade  # blanks that held None: nothing to keep
    s.apply_fill(np.array([6]), np.array([FILLED], np.int8), np.array([0.9]), np.array([1]), None, *common)
    assert s._before_fill.tolist() == [None] * 6 + ["?"] and s.text(6, 0) == "M"  # the "?" it replaced
    removed = s.remove_rows([6])
    assert s._before_fill.tolist() == [None] * 6
    s.restore_rows(removed)
    assert s._before_fill.tolist() == [None] * 6 + ["?"]
    s.clear_filled()
    assert s.text(6, 0) == "?"


def test_reading_number_marks_of_an_unfilled_sheet_makes_no_row_array():
    # A table paints number_mark for every feature cell in view; before any
    # number is filled that must not make the (n_rows,) array of None
    # (five million rows: 40 MB and a ~40 ms pause; issue 14 item 3).
    sheet = small_sheet()
    f = sheet.roles.features[0]
    assert all(sheet.number_mark(r, f) is None for r in range(sheet.n_rows))
    assert sheet._lazy["_number_marks"] is None
