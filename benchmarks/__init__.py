"""Speed, quality and load benchmarks: run from the repository root as modules,

    python -m benchmarks.speed --weights models/

so that they import the checkout's humanmatting and the harness it shares with the tests
(harness/), without editing sys.path. They never import from tests/. test_*.py here test
the benchmarks' own code (pytest collects them with tests/).
"""
