"""Speed, quality and load benchmarks: run from the repository root as modules,

    python -m benchmarks.speed --weights models/

so that they import the repository's packages (humanmatting, training, tests' harness)
as they are in the checkout, without editing sys.path.
"""
