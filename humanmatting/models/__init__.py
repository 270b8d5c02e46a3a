"""Build tools behind the `[keras]` extra: Keras builders, their dynamic-size bilinear
upsampling layer and ACNet fusion (`models`), the original release's reader (`legacy`),
export to a model folder (`export`), int8 quantization (`quantize`) and the runtime's Keras
backend (`keras_backend`). Everything here imports TensorFlow/Keras; the runtime above
(`humanmatting`) never imports this package (it loads the Keras backend by name)."""
