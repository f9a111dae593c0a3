"""papermill's engine, saving the executed notebook at the end instead of at every cell.

papermill writes the whole notebook (every figure in it, validated against the schema) when each cell starts
and again when it ends: about a hundred writes for a report notebook, 1.9 s of the runner's worker for
notebook 02 on the sample, taken from the two cores the kernels run on. This engine writes when the run
ends (also when the kernel died, so a failed run still has its page) and, in a long run, at most every
:data:`SAVE_EVERY_SECONDS`, so a run at scale still leaves its progress on disk should it be killed.
"""

from __future__ import annotations

from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

NAME = "study"
SAVE_EVERY_SECONDS = 30.0


class _SavedAtEnd(NotebookExecutionManager):
    """papermill's execution manager, its per-cell saves held back to one every :data:`SAVE_EVERY_SECONDS`."""

    ending = False

    def save(self, **kwargs) -> None:
        if self.ending or (self.now() - self.last_save_time).total_seconds() >= SAVE_EVERY_SECONDS:
            super().save(**kwargs)

    def notebook_complete(self, **kwargs) -> None:
        self.ending = True  # the final save papermill forces, whether the cells ran or the kernel died
        super().notebook_complete(**kwargs)


class SavedAtEndEngine(NBClientEngine):
    """papermill's nbclient engine with :class:`_SavedAtEnd` as its execution manager."""

    @classmethod
    def execute_notebook(cls, nb, kernel_name, output_path=None, progress_bar=True, log_output=False,
                         autosave_cell_every=30, **kwargs):
        manager = _SavedAtEnd(nb, output_path=output_path, progress_bar=progress_bar, log_output=log_output,
                              autosave_cell_every=autosave_cell_every)
        manager.notebook_start()
        try:
            cls.execute_managed_notebook(manager, kernel_name, log_output=log_output, **kwargs)
        finally:
            manager.cleanup_pbar()
            manager.notebook_complete()
        return manager.nb


papermill_engines.register(NAME, SavedAtEndEngine)
