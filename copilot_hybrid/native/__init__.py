"""The native core: build it (build.py), read its header (header.py), load
it (loader.py), turn failed calls into exceptions (status.py) and
smoke-test it (smoke.py). Nothing here knows about individual features:
each feature's binding lives with the feature and declares its exports."""
