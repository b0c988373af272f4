"""`interp demo`: compact runs of the four method pipelines into one runs folder, and one summary table.

    plan.py       the compact settings of every pipeline, in one place (and the tiny ones for tests)
    pipelines.py  runs each method through its own pipeline functions (finished steps are reused)
    summary.py    reads the measured effects back from the files those runs wrote

The CLI (app/cli/demo.py) runs them in order, keeps going when one fails, prints the table and
the `interp app` command that opens the runs in the explorer.
"""
