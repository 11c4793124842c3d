"""`copilot-hybrid bench proxy`: the proxy's overhead against a fast fake upstream.

Three processes per measurement, none of them the emulator: the fake upstream
(`upstream.py`, prebuilt answers), the proxy under test (`copilot-hybrid serve`,
or the same app under granian, `granian_app.py`) and the load generator
(`load.py`, prebuilt requests). `scenarios.py` holds the request/answer bytes,
`configurations.py` the table of levers, `runner.py` runs them interleaved and
`report.py` prints the table.
"""
