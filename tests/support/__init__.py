"""Shared builders and helpers of the test suite (no tests here).

Test modules import from this package, never from one another:

- ``report_builders``: hand-built warehouse rows for the report tests (``Book``, Acme and
  Globex, ``rendered_march``).
- ``leadership_builders``: hand-built mart rows for the leadership pack tests.
- ``input_helpers``: the bad-input corpus derived from the contract.
- ``security_helpers``: hostile payloads and the path from staging to reports and e-mails.
- ``fault_helpers`` and ``kill_runner``: drivers of the fault, idempotence and
  concurrency tests (the kill runner is a script run in a subprocess).
- ``closed_month``: one sample month closed through the CLI once per test session
  (shared by xdist workers), copied per test.
- ``cli``: the ``pipeline`` CLI in-process (``pipeline.cli.main``) or as a real process.
- ``smtp``: a free local port and a recording aiosmtpd handler.
- ``budgets``: Hypothesis example budgets scaled by the active profile.
"""
