"""`interp demo`: compact runs of every registered pipeline with a demo config into one runs folder, and one
summary table.

    plan.py       which pipelines run (registered, with `demo_config`), in what order, at which profile
    pipelines.py  runs one pipeline's demo config through the protocol (finished steps are reused)
    summary.py    the table: each pipeline's own `summarize(run_dir)` rows, and whether each effect shows

Each pipeline's sizes and table rows live beside it (the four methods: `methods/<method>/demo.py`).
The CLI (app/cli/demo.py) runs them in order, keeps going when one fails, prints the table and
the `interp app` command that opens the runs in the explorer.
"""
