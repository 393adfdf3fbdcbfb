"""Operating views over recorded runs: figures, critical paths and hints (``baton stats``),
the HTML run report and the local web view."""
