"""What tests/ and benchmarks/ share (neither imports from the other's folder): the app
started as a person starts it (app_harness, audited_run), a Hub on loopback (local_hub),
a fake camera (fake_camera), hostile media (bad_media), Keras models with seeded weights
(models), the repository's paths (paths) and web_runner.mjs (web/'s code under Node).
Not installed: it runs from the checkout."""
