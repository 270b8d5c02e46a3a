"""Build tools behind the `[keras]` extra: Keras builders and ACNet fusion (`models`), the
original release's reader (`legacy`), export to a model folder (`export`) and int8
quantization (`quantize`). Everything here imports TensorFlow/Keras; the runtime above
(`humanmatting`) never imports this package."""
