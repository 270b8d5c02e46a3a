"""One module per subcommand of `humanmatting` (humanmatting.cli's table lists them).

Each has SUMMARY and either `add_arguments(parser)` + `run(args) -> int`, or `main(argv) ->
int` when the command parses its own options (app). They import the layer they run inside
those functions, so that `humanmatting --help` and a matte load no TensorFlow or Gradio.
"""
