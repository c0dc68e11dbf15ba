"""Data menu: fill the gaps (F5), stop (Esc), step (F6), the threshold, the columns, accept or clear the fill.

A part of :class:`emgui.ui.window.MainWindow` (a mixin).  The fit runs in
:class:`emgui.ui.worker.FitController`'s thread as a :class:`_FillRun`
(fit input, model choice, EM, trust checks); the window only writes the
plan it gives back, as one undo step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import QMessageBox

from emgui.ui import dialogs, pacing
from emgui.ui.fit_panel import iterations

__all__ = ["BlanksTest", "FitActions"]


class _FillRun:
    """One F5 as the fit's thread runs it: the fit input, the model choice, EM, the trust checks.

    ``prepare`` makes the fit's input from a copy of the sheet (large sheets)
    or hands over the one already made; ``make_fit`` screens for unusual
    values, chooses the model by BIC and gives the EM fit the plot follows;
    ``after`` runs the final checks, the self-check and the calibration, and
    plans the fill (see :class:`emgui.core.fill.FillJob`).  All three run in
    the fit's thread; the window only writes the plan.
    """

    def __init__(self, fit_input, components, min_confidence: float, options: dict, source=None,
                 fill: str = "labels", sheet=None, version: int = 0, target=None) -> None:
        self.fit_input, self.source, self.fill = fit_input, source, fill
        # Or the sheet itself, copied in the fit's thread; ``version`` is the
        # sheet's when F5 was pressed (an edit meanwhile: the result is
        # stale by that, and the window fits again).
        self.sheet, self.version = sheet, version
        # The window's sheet the fill goes into, at ``version``: ``after``
        # writes the plan into copies of its per-row arrays (see
        # Sheet.prepare_fill), so that the GUI thread only swaps them in.
        self.target = target
        self.components, self.min_confidence = components, float(min_confidence)
        self.options = dict(options)
        self.job = None
        self.model = None  # (covariance, unnamed per group), once the model is chosen

    def prepare(self):
        if self.fit_input is None:
            from emgui.core.fill import FillError, fit_source, prepare_from

            if self.source is None:
                sheet, self.sheet = self.sheet, None
                try:
                    self.source = replace(fit_source(sheet), version=self.version)
                except Exception as exc:
                    if sheet.version != self.version:  # read while the sheet was changed
                        raise FillError("The data changed while the fit was being prepared; press F5 again.") from exc
                    raise
            self.fit_input = prepare_from(self.source, self.components)
            _ = self.fit_input.histogram  # binned here too, off the GUI thread
            self.source = None
        return self.fit_input

    def make_fit(self):
        from emgui.core.fill import FillJob

        options = {k: v for k, v in self.options.items() if k in ("max_iter", "tol", "reg_covar")}
        self.job = FillJob(
            self.fit_input, components=self.components, min_confidence=self.min_confidence,
            seed=int(self.options.get("seed", 0)), fill=self.fill, **options,
        )
        self.job.prepare()
        # Read by the window (GUI thread) once the first iteration arrives, i.e. after this is set.
        c = self.job.chosen
        n_typed = self.job.n_typed
        self.model = (c.covariance, [n_typed > 0 and k >= n_typed for k in range(c.groups)])
        return self.job.em()

    def after(self, result) -> _Filled:
        plan, report = self.job.finish(result)
        notes, blanks = self.job.notes(plan, report), self._blanks_test()
        prepared = None
        if self.target is not None:
            from emgui.core.fill import prepare_plan

            target, self.target = self.target, None
            prepared = prepare_plan(target, plan, self.version)
        return _Filled(self.min_confidence, plan, report, notes, self.job, blanks, prepared)

    def _blanks_test(self) -> BlanksTest | None:
        """Little's MCAR test over the features when some feature value was blank (else None).

        Run here, in the fit's thread: at a million rows the test's own EM
        takes ~5 s, so a large sheet is tested on :data:`MCAR_ROWS` rows
        drawn at random (~0.2 s; the test stays valid, with less power).
        """
        from emgui.core import mixture, trust

        fi = self.job.fit_input
        if fi.blank_values is None:
            return None
        sub = trust.subsample(len(fi.X), MCAR_ROWS, seed=int(self.options.get("seed", 0)))
        try:
            test = trust.little_mcar(fi.X if sub is None else fi.X[sub])
        except (mixture.MixtureError, ValueError, ArithmeticError):
            return None  # no single normal fits these values: the fill stands, without the sentence
        if test is None or test.get("p") is None:
            return None
        columns = [n for n, b in zip(fi.feature_names, fi.blank_values.any(axis=0), strict=True) if b]
        return BlanksTest(test["chi2"], test["df"], test["p"], tuple(columns), None if sub is None else len(sub))


#: The window's Little test uses at most this many rows (drawn at random).
MCAR_ROWS = 100_000


@dataclass(frozen=True)
class BlanksTest:
    """Little's (1988) MCAR test of a fill's blank feature values, for the Fit panel's sentence."""

    chi2: float
    df: int
    p: float
    columns: tuple[str, ...]  # the features with blank values
    rows: int | None = None  # rows tested when a random subsample, else None (all)


@dataclass(frozen=True)
class _Filled:
    """What a fill run gives the window: the plan at a threshold, the report, the notes."""

    min_confidence: float
    plan: object
    report: object
    notes: object
    job: object
    blanks: BlanksTest | None = None
    # The plan written into copies of the sheet's arrays (a PreparedFill), or None.
    prepared: object = None


class FitActions:
    """Starting, stepping and stopping the fit, and writing its result into the sheet."""

    @property
    def min_confidence(self) -> float:
        """Fill a blank only when EM is at least this sure (0 fills all)."""
        return self._min_confidence

    def set_min_confidence(self, value: float) -> None:
        """Set the sheet's threshold (0 fills all), shown beside Fill Gaps while it is set.

        It belongs to the open sheet: a new or opened sheet starts at 0,
        so a threshold never carries over silently to another file or the
        next start of the program.
        """
        self._min_confidence = min(max(float(value), 0.0), 1.0)
        self._show_threshold()

    def _show_threshold(self) -> None:
        value = self._min_confidence
        self.threshold_button.setText(f"≥ {value * 100:.3g} %")
        self.threshold_button.setToolTip(
            f"Cells EM is less than {value * 100:.3g} % sure of stay blank, marked ?. "
            "Click to change (Data ▸ Confidence Threshold…); opening a file sets it back to 0."
        )
        self._threshold_in_bar.setVisible(value > 0)

    def _prepare(self):
        """The fit's input, or None after telling the user why there is none."""
        from emgui.core.fill import FillError, prepare_fit

        try:
            return prepare_fit(self._sheet, self._components_for_sheet())
        except (FillError, ValueError) as exc:
            self._warn_fit(str(exc))
            return None

    def _components_for_sheet(self) -> int | None:
        """K to look for when the label column names no class yet; None when it does."""
        import numpy as np

        from emgui.core.sheet import USER

        sheet = self._sheet
        typed = sheet.roles.label is not None and bool(
            np.any(~sheet.label_missing() & (sheet.provenance == USER))
        )
        return None if typed or not self._n_components else self._n_components

    @property
    def n_components(self) -> int:
        """Classes to find when no label is typed (Data ▸ Columns…)."""
        return self._n_components

    def set_n_components(self, k: int) -> None:
        self._n_components = max(0, int(k))
        self._settings.setValue("fill/components", self._n_components)

    def _warn_fit(self, message: str) -> None:
        if "feature" in message:
            # The core's sentence says what to change; this says where.
            message += "\n\nData ▸ Columns… chooses the label and the feature columns."
        QMessageBox.warning(self, "Cannot fill the gaps", message)

    def _begin_fit_display(self, fit_input) -> None:
        names = self._class_names(fit_input)
        if self._plot is not None:
            self._draw_data(fit_input, names=names)
        self.fit_panel.reset(names, fit_input.feature_names)
        self._explained, self._last_snapshot = fit_input, None
        if self._how_em is not None:
            self._explain_fit()


    def _fill_what(self) -> str:
        """What F5 fills: ``"all"`` with *Data ▸ Also Fill Blank Numbers* ticked, else ``"labels"``."""
        return "all" if self.action_map["fill_numbers"].isChecked() else "labels"

    @Slot()
    def fill_gaps(self) -> None:
        """Fit the mixture in the background and fill the blank labels (F5).

        After stepping (F6), with the sheet unchanged, EM runs on from the
        stepped fit instead of starting again.
        """
        self._ensure_ready()
        if self._continue_stepped():
            return
        self._fit_serial += 1
        from emgui.core.fill import FillError, cached_fit_input, fit_source, forget_fit_input

        sheet, k = self._sheet, self._components_for_sheet()
        if sheet.n_rows >= pacing.LARGE_ROWS and cached_fit_input(sheet, k) is None:
            # A large sheet changed since its fit input was made (a refit
            # after a fill, an edit): copying its columns and making it is
            # done in the fit's thread (five million rows: the copy alone
            # held the GUI thread ~0.1 s).
            if not sheet.roles.features:
                try:
                    fit_source(sheet)  # says why there is nothing to fit (no copy without features)
                except FillError as exc:
                    self._warn_fit(str(exc))
                    return
            # The last fit's input is stale: let it go before the new one is made.
            forget_fit_input(sheet)
            self._explained = None
            self._fit_input = None
            self._preparing_k = k
            self._set_fitting(True)
            self.fit_label.setText("Preparing…")
            self._start_fill_run(_FillRun(None, k, self._min_confidence, self.fit_options, fill=self._fill_what(),
                                          sheet=sheet, version=sheet.version, target=sheet), sheet.version)
            return
        fit_input = self._prepare()
        if fit_input is None:
            return
        self._fit_input = fit_input
        self._begin_fit_display(fit_input)
        self._set_fitting(True)
        self.fit_label.setText("Fitting…")
        self._paint_now()
        self._start_fill_run(_FillRun(fit_input, k, self._min_confidence, self.fit_options,
                                      fill=self._fill_what(), version=fit_input.version, target=self._sheet),
                             fit_input.version)

    def _paint_now(self) -> None:
        """Lay out and paint what F5 changed now, before the fit's thread starts.

        Painted a turn later, the table's ~2,000 ``data()`` calls each waited
        for the interpreter lock, which the fit's thread holds while it
        chooses the model (thousands of small numpy calls): the first frame
        after F5 paused the window 75-77 ms at 1M rows; painted here, 37-44 ms
        (``benchmarks/bench_window.py --rows 1000000``, issue 14 item 3: every
        pause <= 50 ms).  The events already posted (layouts, updates, a
        queued result of an earlier fit, whose version check still holds) are
        delivered first, as the event loop would; settling layouts alone left
        the pause as it was.
        """
        from PySide6.QtCore import QCoreApplication

        QCoreApplication.sendPostedEvents()
        self.repaint()

    def _start_fill_run(self, run: _FillRun, version: int) -> None:
        """Run ``run`` (a :class:`_FillRun`) in the fit's thread."""
        self._fill_run = run
        self._controller.start(
            prepare=run.prepare,
            make_fit=run.make_fit,
            data_version=version,
            after=run.after,
            **self.fit_options,
        )

    def _take_stepped(self):
        """The stepped fit as ``(fit, data_version, fit_input)``, ending stepping; None if there is none.

        Stepping under way, or stopped with Escape (kept in ``_stepped``);
        None as well when the sheet has changed since (the fit describes old data).
        """
        if self._controller is not None and self._controller.is_stepping():
            fit, version = self._controller.take_stepping_fit()
            stepped = (fit, version, self._fit_input)
        else:
            stepped = self._stepped
        self._stepped = None
        if stepped is None or stepped[2] is None or stepped[1] != self._sheet.version:
            return None
        return stepped

    def _continue_stepped(self) -> bool:
        """F5 after stepping: EM runs on in the fit's thread from where the steps left it."""
        stepped = self._take_stepped()
        if stepped is None:
            return False
        fit, version, fit_input = stepped
        self._fit_serial += 1
        self._fit_input = fit_input
        self._set_fitting(True)
        self.fit_label.setText("Fitting…")
        self._controller.start(make_fit=lambda: fit, data_version=version)
        return True

    @Slot()
    def fill_from_stepped(self) -> None:
        """Fit panel ▸ Fill from This Fit: write the fit stepped so far (kept by Escape) into the sheet."""
        stepped = self._take_stepped()
        if stepped is None:
            self.fit_panel.show_message("The sheet changed since the steps; press F5 or F6 to fit it again.")
            return
        from emgui.ui.worker import FitOutcome

        fit, version, fit_input = stepped
        self._fit_serial += 1
        self._fit_input = fit_input
        self._apply_outcome(FitOutcome(fit.result(), version))

    @Slot()
    def step_fit(self) -> None:
        """Run one E-step and M-step (starting a step-by-step fit if none is running).

        After Escape kept a stepped fit (and the sheet is unchanged), the
        steps go on from it.
        """
        self._ensure_ready()
        if self._controller.is_stepping():
            self._controller.step()
            if self._plot is not None:
                self._plot.flush()
            return
        stepped = self._take_stepped()
        if stepped is not None:
            fit, version, fit_input = stepped
            self._fit_input = fit_input
            self._set_fitting(True)
            self._controller.resume_stepping(fit, version)
            if self._plot is not None:
                self._plot.flush()
            return
        fit_input = self._prepare()
        if fit_input is None:
            return
        self._fit_serial += 1
        self._fill_run = None  # steps fit the plain model (separate spreads, the typed classes)
        self._fit_input = fit_input
        self._begin_fit_display(fit_input)
        self._set_fitting(True)
        if self._controller.begin_stepping(
            fit_input.X,
            fit_input.labels,
            fit_input.n_components,
            data_version=fit_input.version,
            **self.fit_options,
        ) and self._plot is not None:
            self._plot.flush()

    @Slot()
    def stop_fit(self) -> None:
        """Stop the running fit (Esc); nothing is filled.  Stepping stops too, but its fit is kept."""
        if self._controller is not None and self._controller.is_stepping():
            fit, version = self._controller.take_stepping_fit()
            self._stepped = (fit, version, self._fit_input)
            self._set_fitting(False)
            at = self._last_snapshot.iteration if self._last_snapshot is not None else 0
            self.fit_label.setText(f"Stepped to iteration {at}")
            self.fit_panel.show_stepped(at)
            self.statusBar().showMessage("Stepping stopped; the fit is kept (see the Fit panel).", 8000)
            return
        if self._pending_apply is not None and self._pending_apply == self._fit_serial:
            # Finished, but not written yet: then not at all.
            self._pending_apply = None
            self._on_fit_cancelled()
            return
        if self._controller is not None:
            self._controller.stop()

    def _stop_quietly(self) -> None:
        self._pending_apply = None
        if self._controller is not None and (self._controller.is_running() or self._controller.is_stepping()):
            self._controller.stop()
        self._set_fitting(False)

    def is_fitting(self) -> bool:
        """Whether a fit (threaded or step by step) is under way."""
        return self._fitting

    def _set_fitting(self, on: bool) -> None:
        self._fitting = on
        self.action_map["stop"].setEnabled(on)

    @Slot()
    def _on_fit_started(self) -> None:
        if self._fit_input is not None:
            self.fit_label.setText("Fitting…")

    @Slot(object)
    def _on_fit_prepared(self, fit_input) -> None:
        """The fit's thread made the input of a large sheet's fit: show the data and keep it."""
        from emgui.core.fill import remember_fit_input

        if fit_input is self._fit_input:
            return  # made on this thread and drawn already (F5 on a small or unchanged sheet)
        self._fit_input = fit_input
        remember_fit_input(self._sheet, self._preparing_k, fit_input)
        self.fit_label.setText("Fitting…")
        # Drawn a turn later (the plot's items and the window's repaint
        # would add up otherwise); the first iteration flushes it if sooner.
        self._pending_display = fit_input
        serial = self._fit_serial
        QTimer.singleShot(pacing.STEP_MS, self, lambda: self._flush_display(serial))

    def _flush_display(self, serial: int | None = None) -> None:
        """Draw the data of a fit whose input the fit's thread made (see _on_fit_prepared)."""
        fit_input, self._pending_display = self._pending_display, None
        if fit_input is not None and serial in (None, self._fit_serial):
            self._begin_fit_display(fit_input)

    @Slot(object)
    def _on_fit_iterated(self, snapshot) -> None:
        self._flush_display()
        if self._plot is not None:
            self._plot.show_snapshot(snapshot)
        stepping = self._controller.is_stepping()
        previous = self._last_snapshot
        self.fit_panel.show_snapshot(
            snapshot, stepping=stepping,
            previous_ll=(
                previous.log_likelihood
                if previous is not None and previous.iteration == snapshot.iteration - 1 else None
            ),
        )
        self._last_snapshot = snapshot
        if self._how_em is not None:
            self._explain_model()
            self._how_em.show_snapshot(snapshot)
        where = "Starting guess" if stepping and snapshot.iteration == 0 else f"Iteration {snapshot.iteration}"
        self.fit_label.setText(f"{where}  ·  log-likelihood {snapshot.log_likelihood:,.2f}")

    @Slot(object)
    def _on_fit_finished(self, outcome) -> None:
        self._flush_display()
        fit_input = self._fit_input
        if fit_input is None or fit_input.version != outcome.data_version:
            return  # a fit nobody waits for any more (another sheet was opened)
        if self._sheet.n_rows >= pacing.LARGE_ROWS:
            # Applied from a timer a turn later.  A queued signal is a posted
            # event, and Qt serves posted events before timers and input: the
            # plot's last frame, this apply and the table's repaint would run
            # back to back (~50 ms); from a timer, what is due comes first.
            serial = self._fit_serial
            self._pending_apply = serial
            QTimer.singleShot(pacing.STEP_MS, self, lambda: self._apply_outcome(outcome, serial))
            return
        self._apply_outcome(outcome)

    def _apply_outcome(self, outcome, serial: int | None = None) -> None:
        """Fill the sheet from a finished fit (or fit again if the sheet changed meanwhile)."""
        if serial is not None:
            if self._pending_apply != serial or self._fit_serial != serial:
                return  # stopped (Esc), or another fit or sheet came first
            self._pending_apply = None
        fit_input = self._fit_input
        if fit_input is None or fit_input.version != outcome.data_version:
            return
        if outcome.data_version != self._sheet.version:
            # The sheet changed while EM ran: this result describes old data.
            self.fit_discarded.emit()
            self.statusBar().showMessage("The data changed during the fit; fitting again…", 4000)
            self.fill_gaps()
            return
        self._set_fitting(False)
        from emgui.core.fill import plan_fill
        from emgui.ui.commands import FillCommand

        result = outcome.result
        filled = outcome.extra
        notes = report = blanks = prepared = None
        if isinstance(filled, _Filled):
            # Planned in the worker thread with the model chosen there (a
            # million rows: ~15 ms the GUI thread need not spend), unless
            # the threshold changed meanwhile.
            report, notes, blanks = filled.report, filled.notes, filled.blanks
            result = report.result
            if filled.min_confidence == self._min_confidence:
                # Written into copies of the sheet's arrays in the fit's
                # thread too: the command swaps them in if the sheet is
                # unchanged (5M rows: ~40 ms of the GUI thread in place).
                plan, prepared = filled.plan, filled.prepared
            else:
                plan = filled.job.replan(result, self._min_confidence)
        else:  # a step-by-step fit: the plain model
            plan = plan_fill(fit_input, result, self._min_confidence)
        if len(plan.rows) or len(self._sheet.filled_rows()) or plan.numbers is not None:
            roles = self._sheet.roles
            if not self.undo_stack.push(FillCommand(self._sheet, plan, notes=notes, prepared=prepared)):
                # The sheet is as it was (the stack reported why); the fit is not shown as applied.
                self._last_job = None
                self._fit_input = None
                self.fit_label.setText("Nothing was filled")
                self.fit_panel.show_message("The fill could not be written; the sheet is as it was. Press F5 to try again.")
                return
            if self._sheet.roles == roles:
                from emgui.core.fill import carry_fit_input

                # The fill changed nothing the fit's input holds: F5 again
                # fits the same input (five million rows: no second one of
                # ~60 MB made beside the last fit's, see carry_fit_input).
                carry_fit_input(self._sheet, outcome.data_version)
                # What a fill writes (labels, blank numbers) is what the fit's
                # input leaves out, so the plot's data stays as drawn: no
                # copy of the sheet for it in a helper thread beside the
                # recovery copy's (five million rows: the peak through the
                # fill went from 1,272 to 976 MB, bench_window.py).
                self._plot_data_timer.stop()
        self._last_job = (filled.job, self._sheet.version) if isinstance(filled, _Filled) else None
        self._fit_input = None
        self.last_report = report

        serial = self._fit_serial

        def show() -> None:
            if self._fit_serial != serial:
                return  # another fit has started meanwhile: it draws itself
            self.fit_panel.show_result(result, report, blanks)
            if self._plot is not None:
                self._plot.show_result(result, () if report is None else report.unnamed)
                self._plot.show_posteriors(result.posteriors_of)  # the drawn points' only

        if self._sheet.n_rows >= pacing.LARGE_ROWS:
            # The plot shows the last iteration already; the final drawing
            # waits a turn, so the table's repaint and it never add up.
            QTimer.singleShot(pacing.STEP_MS, self, show)
        else:
            show()
        state = "" if result.converged else " (stopped before converging)"
        self.fit_label.setText(
            f"{iterations(result.n_iter)}{state}  ·  log-likelihood {result.log_likelihood:,.2f}"
        )
        if not len(plan.rows):
            message = "No blank labels to fill."
        else:
            message = "Filled 1 blank label" if plan.n_filled == 1 else f"Filled {plan.n_filled:,} blank labels"
            if plan.n_uncertain:
                message += f"; {plan.n_uncertain:,} left blank as uncertain"
            message += "."
        self.statusBar().showMessage(message, 8000)
        self.fill_applied.emit(plan)
        self._release_memory_soon()

    @Slot(str)
    def _on_fit_failed(self, message: str) -> None:
        self._set_fitting(False)
        self._fit_input = None
        self.fit_label.setText("Fit failed")
        self.fit_panel.show_message(message)
        self._warn_fit(message)

    @Slot()
    def _on_fit_cancelled(self) -> None:
        self._set_fitting(False)
        self._fit_input = None
        self.fit_label.setText("Stopped")
        self.fit_panel.show_message("Stopped. Nothing was filled; press F5 to fit again.")
        self.statusBar().showMessage("Fit stopped; nothing was filled.", 4000)

    @Slot()
    def accept_filled(self) -> None:
        self._ensure_ready()
        from emgui.ui.commands import AcceptFilledCommand

        if len(self._sheet.filled_rows()):
            self.undo_stack.push(AcceptFilledCommand(self._sheet))

    @Slot()
    def clear_filled(self) -> None:
        self._ensure_ready()
        from emgui.ui.commands import ClearFilledCommand

        if len(self._sheet.filled_rows()):
            self.undo_stack.push(ClearFilledCommand(self._sheet))

    @Slot()
    def edit_columns(self) -> None:
        self._ensure_ready()
        # Measurements not yet used are ticked the first time for a sheet, never again
        # (what the person unticked stays unticked).
        suggest, self._columns_suggested = not self._columns_suggested, True
        dialog = dialogs.ColumnsDialog(
            self._sheet.columns, self._sheet.roles, self, n_components=self._n_components,
            kinds=dialogs.column_kinds(self._sheet), suggest=suggest,
        )
        if dialog.exec() != dialogs.ColumnsDialog.DialogCode.Accepted:
            return
        self.set_n_components(dialog.n_components())
        self.apply_roles(dialog.roles())

    def apply_roles(self, roles) -> None:
        """Change the label and feature columns (one undo step)."""
        self._ensure_ready()
        from emgui.ui.commands import SetRolesCommand

        if roles == self._sheet.roles:
            return
        if not self.undo_stack.push(SetRolesCommand(self._sheet, roles)):
            return  # the columns stay as they were (the stack reported why)
        self._size_columns()
        self._show_data_in_plot()

    @Slot()
    def edit_threshold(self) -> None:
        value = dialogs.ask_threshold(self, self._min_confidence)
        if value is None:
            return
        self.set_min_confidence(value)
        if self._sheet is not None and len(self._sheet.filled_rows()):
            self.fill_gaps()  # apply the new threshold to the current fill
        else:
            self.statusBar().showMessage(f"Cells below {value:.0%} confidence will stay blank.", 5000)
